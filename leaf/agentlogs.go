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
	"time"

	"github.com/knot-dev/knot/shared/agentwire"
)

// defaultLogRate is AgentsOptions.LogRate's default.
const defaultLogRate = 200

// logLimiter holds a log stream to rate lines a second (a token bucket).
type logLimiter struct {
	rate    int
	tokens  float64
	last    time.Time
	dropped int
}

func newLogLimiter(rate int) *logLimiter {
	if rate <= 0 {
		rate = defaultLogRate
	}
	return &logLimiter{rate: rate, tokens: float64(rate), last: time.Now()}
}

// logFrame takes a frame of an agent's log stream (in the link's reader)
// and passes its line on; a bad frame or line closes the stream.
func (a *Agents) logFrame(ac *agentConn, st *agentwire.Stream, kind agentwire.Kind, p []byte, err error) {
	var l agentwire.LogLine
	if err == nil && kind != agentwire.KindJSON {
		err = &agentwire.FrameError{Reason: "a control message was expected, not data"}
	}
	if err == nil {
		err = agentwire.DecodeJSON(p, &l)
	}
	if err != nil {
		ac.logs = false
		var fe *agentwire.FrameError
		if errors.As(err, &fe) {
			a.log.Warn("agent log stream closed", "space_id", ac.spaceID, "reason", fe.Error())
		}
		st.Close()
		return
	}
	r := ac.logRate
	now := time.Now()
	r.tokens = min(float64(r.rate), r.tokens+now.Sub(r.last).Seconds()*float64(r.rate))
	r.last = now
	if r.tokens < 1 {
		r.dropped++
		return
	}
	r.tokens--
	if r.dropped > 0 {
		a.opts.Lines(ac.spaceID, agentwire.LogLine{At: now.UTC(), Level: agentwire.LevelError, Service: "knot",
			Text: fmt.Sprintf("%d lines from the agent were dropped: over %d lines a second", r.dropped, r.rate)})
		r.dropped = 0
	}
	if l.At.After(now) {
		l.At = now
	}
	l.At = l.At.UTC()
	a.opts.Lines(ac.spaceID, l)
}
