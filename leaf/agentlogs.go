package leaf

// The streams an agent opens after its state stream: its log stream, whose
// lines go to AgentsOptions.Lines (the space's log), and nothing else.
//
// An agent has at most one log stream at a time. Each line is validated
// (agentwire.LogLine); a bad one closes the stream, which the agent opens
// again on its next link. A line stamped in the future is stamped now.
// An agent that sends more than LogRate lines a second loses the rest, and
// the space's log gets one line saying how many before its next line.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared/agentwire"
)

// defaultLogRate is AgentsOptions.LogRate's default.
const defaultLogRate = 200

// acceptStreams serves the streams the agent opens until its link ends.
func (a *Agents) acceptStreams(ac *agentConn, wg *sync.WaitGroup) {
	var logs atomic.Bool // a log stream is open
	for {
		s, err := ac.mux.AcceptStream()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer s.Close()
			s.SetReadDeadline(time.Now().Add(15 * time.Second))
			var o agentwire.Open
			if err := agentwire.ReadJSON(s, &o); err != nil {
				a.log.Warn("agent stream refused", "space_id", ac.spaceID, "reason", err.Error())
				return
			}
			s.SetReadDeadline(time.Time{})
			if o.Type != agentwire.OpenLogs || a.opts.Lines == nil || !logs.CompareAndSwap(false, true) {
				return
			}
			defer logs.Store(false)
			a.readLines(ac, s)
		})
	}
}

// readLines passes the lines of an agent's log stream on until it ends.
func (a *Agents) readLines(ac *agentConn, s *yamux.Stream) {
	rate := a.opts.LogRate
	if rate <= 0 {
		rate = defaultLogRate
	}
	tokens, last, dropped := float64(rate), time.Now(), 0
	for {
		var l agentwire.LogLine
		if err := agentwire.ReadJSON(s, &l); err != nil {
			var fe *agentwire.FrameError
			if errors.As(err, &fe) {
				a.log.Warn("agent log stream closed", "space_id", ac.spaceID, "reason", fe.Error())
			}
			return
		}
		now := time.Now()
		tokens = min(float64(rate), tokens+now.Sub(last).Seconds()*float64(rate))
		last = now
		if tokens < 1 {
			dropped++
			continue
		}
		tokens--
		if dropped > 0 {
			a.opts.Lines(ac.spaceID, agentwire.LogLine{At: now.UTC(), Level: agentwire.LevelError, Service: "knot",
				Text: fmt.Sprintf("%d lines from the agent were dropped: over %d lines a second", dropped, rate)})
			dropped = 0
		}
		if l.At.After(now) {
			l.At = now
		}
		l.At = l.At.UTC()
		a.opts.Lines(ac.spaceID, l)
	}
}
