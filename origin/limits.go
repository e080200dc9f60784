package origin

import (
	"time"

	"github.com/knot-dev/knot/shared/wire"
)

// What one link may send. A leaf sends an ack at most about once a second,
// a space report per change to one of its spaces (all those not yet
// acknowledged at once after a reconnect), and its audit events in reports
// of at most wire.MaxAuditEvents, each after the ack of the one before.
// The bounds leave a leaf that catches up after a long time away room for
// its backlog, and keep any one leaf, whatever its credential, to a small
// share of the origin's time:
//
//   - Every frame after the hello takes a token of the link's frame bucket
//     (frameRate a second, up to frameBurst) and a token per byte of its
//     byte bucket (byteRate a second, up to byteBurst: a frame may be as
//     large as wire.MaxFrameSize, and decoding one costs the origin time in
//     proportion). A frame that finds either bucket short closes the link
//     (wire.CloseRateLimited); the leaf reconnects with backoff and sends
//     again what was not acknowledged. Nothing is queued: the link reads
//     the next frame only once it handled one.
//   - Every audit event takes a token of the link's event bucket
//     (eventRate a second, up to eventBurst). A report that finds too few
//     is refused with an audit ack that says so and holds nothing new; the
//     leaf sends the events again at its next scan.
//   - A link reports audit events under at most maxLinkAuditStores leaf
//     stores (a leaf has one, and a new one when its store is replaced).
//     Another closes the link.
const (
	frameRate          = 100
	frameBurst         = 2000
	byteRate           = 1 << 20
	byteBurst          = 2*wire.MaxFrameSize + 1<<20
	eventRate          = 1000
	eventBurst         = 20 * wire.MaxAuditEvents
	maxLinkAuditStores = 4
)

// bucket is a token bucket. Its zero value is full at the first take.
type bucket struct {
	tokens float64
	last   time.Time
}

// take takes n tokens at now from a bucket that fills with rate tokens a
// second up to burst, and reports whether there were n. It takes none
// when there were fewer.
func (b *bucket) take(now time.Time, n, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
	}
	if !now.Before(b.last) {
		b.last = now
	}
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// linkLimits is what a link's reader keeps to bound what the leaf sends.
// Only the reader uses it.
type linkLimits struct {
	frames bucket
	bytes  bucket
	events bucket
	stores map[string]bool // the leaf stores the link reported audit events under
}

// admitFrame returns the error that closes the link when the leaf sent
// more frames, or more bytes with a frame of size bytes, than its buckets
// hold.
func (l *link) admitFrame(now time.Time, size int) error {
	if !l.limits.frames.take(now, 1, frameRate, frameBurst) {
		return closeWith(wire.CloseRateLimited, "the leaf sent more than %d frames at once or %d a second: slow down", frameBurst, frameRate)
	}
	if !l.limits.bytes.take(now, float64(size), byteRate, byteBurst) {
		return closeWith(wire.CloseRateLimited, "the leaf sent more than %d MiB at once or %d MiB a second: slow down", byteBurst>>20, byteRate>>20)
	}
	return nil
}

// admitStore returns the error that closes the link when store is one
// more leaf store than a link may report audit events under.
func (l *link) admitStore(store string) error {
	if l.limits.stores[store] {
		return nil
	}
	if len(l.limits.stores) >= maxLinkAuditStores {
		return closeWith(wire.CloseRateLimited, "audit events of more than %d leaf stores on one link", maxLinkAuditStores)
	}
	if l.limits.stores == nil {
		l.limits.stores = map[string]bool{}
	}
	l.limits.stores[store] = true
	return nil
}

// admitEvents reports whether the leaf may send n more audit events now.
func (l *link) admitEvents(now time.Time, n int) bool {
	return l.limits.events.take(now, float64(n), eventRate, eventBurst)
}
