package wire

import (
	"math/rand/v2"
	"sync"
	"time"
)

// AckInterval bounds how long a leaf's acks wait, and how often they go out,
// unless the origin asks for a longer interval (MaxAckInterval at most).
// The first ack of a link, that of the snapshot's end after a snapshot, goes
// out at once; after it, an applied frame is acknowledged, together with
// every frame applied until then, after a random wait of half to all of the
// interval, and at least the interval after the ack before. The origin
// uses acks only for its view of the fleet (applied revision, lag, last
// seen), which may be that stale; nothing on the origin waits for an ack to
// go on. A change that reaches every leaf at once would otherwise bring the
// origin an ack from each while it is still sending the change to the
// others, and a stream of changes an ack per change from each. The origin
// asks for a longer interval in a large fleet, so that all the acks of its
// leaves stay a bounded load however many there are.
const (
	AckInterval    = time.Second
	MaxAckInterval = 30 * time.Second
)

// Acker sends the acks of one link as AckInterval says. Make it with
// NewAcker; Stop it when the link ends.
type Acker struct {
	send    func(applied int64) error
	fail    func(error) // called when a scheduled ack fails: it should end the link
	sending sync.Mutex  // held while an ack is written: acks go out in order

	mu        sync.Mutex
	applied   int64         // guarded by mu: the latest applied revision
	acked     int64         // guarded by mu: the revision of the last ack, -1 before it
	interval  time.Duration // guarded by mu: see SetInterval
	last      time.Time     // guarded by mu: when the last ack went out
	timer     *time.Timer   // guarded by mu: sends the scheduled ack
	scheduled bool          // guarded by mu: the timer will send an ack
	stopped   bool          // guarded by mu
}

// NewAcker returns an Acker that writes an ack with send. A scheduled ack
// whose send fails is given to fail, which should end the link.
func NewAcker(send func(applied int64) error, fail func(error)) *Acker {
	return &Acker{send: send, fail: fail, acked: -1, interval: AckInterval}
}

// SetInterval sets the interval the origin asked for in a welcome or
// keep-alive, in milliseconds, brought within AckInterval and
// MaxAckInterval (0, from an origin that asks for none, is AckInterval). An
// ack already scheduled keeps its time.
func (a *Acker) SetInterval(ms int64) {
	d := time.Duration(min(max(ms, AckInterval.Milliseconds()), MaxAckInterval.Milliseconds())) * time.Millisecond
	a.mu.Lock()
	a.interval = d
	a.mu.Unlock()
}

// Ack acknowledges applied revision rev: at once if it is the link's first
// ack, else later, together with what is applied until then.
func (a *Acker) Ack(rev int64) error {
	a.mu.Lock()
	a.applied = rev
	if a.scheduled {
		a.mu.Unlock()
		return nil
	}
	if a.acked < 0 {
		a.mu.Unlock()
		return a.flush()
	}
	// A random part of the wait spreads the acks of leaves that applied
	// the same change at the same moment.
	wait := max(a.interval/2+rand.N(a.interval/2), a.interval-time.Since(a.last))
	a.scheduled = true
	if a.timer == nil {
		a.timer = time.AfterFunc(wait, a.later)
	} else {
		a.timer.Reset(wait)
	}
	a.mu.Unlock()
	return nil
}

// later sends the scheduled ack.
func (a *Acker) later() {
	a.mu.Lock()
	a.scheduled = false
	a.mu.Unlock()
	if err := a.flush(); err != nil {
		a.fail(err)
	}
}

// flush acknowledges the latest applied revision unless an ack holds it.
func (a *Acker) flush() error {
	a.sending.Lock()
	defer a.sending.Unlock()
	a.mu.Lock()
	rev := a.applied
	if a.stopped || rev <= a.acked {
		a.mu.Unlock()
		return nil
	}
	a.acked, a.last = rev, time.Now()
	a.mu.Unlock()
	return a.send(rev)
}

// Stop cancels a scheduled ack and waits for one being written.
func (a *Acker) Stop() {
	a.mu.Lock()
	a.stopped = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	a.sending.Lock()
	a.sending.Unlock()
}
