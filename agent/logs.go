package agent

// Forwarding log lines into the space's log at the leaf.
//
// Decisions:
//
//   - Lines come from the agent's own log (every record its logger
//     writes), from the local syslog (syslog.go) and from the HTTP intake
//     (intake.go). They wait in one bounded queue (LogQueue lines; when it
//     is full the oldest line goes) and are sent on one logs stream per
//     link, opened after the state stream so a leaf that serves no logs
//     still sees its state first. A line the leaf did not take stays
//     queued for the next link.
//   - Syslog and the HTTP intake are each held to LogRate lines a second
//     (a token bucket with a burst of one second's lines); the lines over
//     it, and those pushed out of a full queue, are counted, and the leaf
//     gets one line saying how many were lost before the next lines.
//   - Every line is cut to agentwire.MaxLogText bytes of valid UTF-8, and
//     a message of several lines is sent as several lines.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared/agentwire"
)

// Defaults of the log forwarding.
const (
	// DefaultLogQueue is how many lines wait for the leaf at most.
	DefaultLogQueue = 1000
	// DefaultLogRate is how many lines a second syslog, and the HTTP
	// intake, may each send.
	DefaultLogRate = 100
)

// logQueue is the bounded queue of lines waiting for the leaf.
type logQueue struct {
	mu      sync.Mutex
	lines   []agentwire.LogLine // a ring of cap max; guarded by mu
	head, n int                 // guarded by mu
	dropped int                 // lines lost since the last note; guarded by mu
	ready   chan struct{}       // has a value when lines wait
}

func newLogQueue(max int) *logQueue {
	return &logQueue{lines: make([]agentwire.LogLine, max), ready: make(chan struct{}, 1)}
}

// add queues a line, pushing out the oldest when full.
func (q *logQueue) add(l agentwire.LogLine) {
	q.mu.Lock()
	if q.n == len(q.lines) {
		q.head = (q.head + 1) % len(q.lines)
		q.n--
		q.dropped++
	}
	q.lines[(q.head+q.n)%len(q.lines)] = l
	q.n++
	q.mu.Unlock()
	q.signal()
}

// lose counts lines that were not queued.
func (q *logQueue) lose(n int) {
	q.mu.Lock()
	q.dropped += n
	q.mu.Unlock()
	q.signal()
}

func (q *logQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// peek returns the next line to send: a note of lost lines first, then
// the oldest queued line. ok is false when there is none.
func (q *logQueue) peek() (l agentwire.LogLine, note bool, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dropped > 0 {
		return agentwire.LogLine{At: time.Now().UTC(), Level: agentwire.LevelError, Service: "agent",
			Text: fmt.Sprintf("%d log lines were dropped in the space: more came than the agent forwards", q.dropped)}, true, true
	}
	if q.n == 0 {
		return agentwire.LogLine{}, false, false
	}
	return q.lines[q.head], false, true
}

// pop removes what peek returned.
func (q *logQueue) pop(note bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if note {
		q.dropped = 0
		return
	}
	if q.n > 0 {
		q.lines[q.head] = agentwire.LogLine{}
		q.head = (q.head + 1) % len(q.lines)
		q.n--
	}
}

// limiter is a token bucket of rate tokens a second, holding at most one
// second's.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(rate int) *limiter {
	return &limiter{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// allow takes a token if there is one.
func (l *limiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// forward queues text from service at level, one line per line of text,
// if lim allows each; empty lines are skipped.
func (q *logQueue) forward(lim *limiter, at time.Time, level, service, text string) {
	for line := range strings.Lines(text) {
		line = agentwire.CleanLogText(strings.TrimRight(line, "\r\n"))
		if line == "" {
			continue
		}
		if lim != nil && !lim.allow() {
			q.lose(1)
			continue
		}
		q.add(agentwire.LogLine{At: at.UTC(), Level: level, Service: service, Text: line})
	}
}

// sendLogs sends queued lines on a logs stream of mux until the link or
// ctx ends. A leaf that does not take the stream ends it, and the lines
// wait for the next link.
func (a *Agent) sendLogs(ctx context.Context, mux *yamux.Session) {
	st, err := mux.OpenStream()
	if err != nil {
		return
	}
	defer st.Close()
	if err := agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenLogs}); err != nil {
		return
	}
	for {
		for {
			l, note, ok := a.logs.peek()
			if !ok {
				break
			}
			st.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := agentwire.WriteJSON(st, l); err != nil {
				return
			}
			a.logs.pop(note)
		}
		select {
		case <-ctx.Done():
			return
		case <-mux.CloseChan():
			return
		case <-a.logs.ready:
		}
	}
}

// forwardHandler is a slog.Handler that queues every record of level info
// and above (and below when next takes it), as one text line without time
// and level, for the leaf, and passes to next what next takes.
type forwardHandler struct {
	next slog.Handler
	text slog.Handler // writes into *buf
	mu   *sync.Mutex  // guards *buf
	buf  *bytes.Buffer
	q    *logQueue
}

func newForwardHandler(next slog.Handler, q *logQueue) *forwardHandler {
	buf := &bytes.Buffer{}
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	return &forwardHandler{next: next, text: text, mu: &sync.Mutex{}, buf: buf, q: q}
}

func (h *forwardHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *forwardHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.buf.Reset()
	h.text.Handle(ctx, r)
	// The line goes as the service "agent": a message's own "agent: "
	// would say it twice where the space's log is shown.
	line := strings.TrimSpace(strings.TrimPrefix(r.Message, "agent: ") + " " + h.buf.String())
	h.mu.Unlock()
	level := agentwire.LevelInfo
	if r.Level >= slog.LevelWarn {
		level = agentwire.LevelError
	}
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	h.q.forward(nil, at, level, "agent", line)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next, c.text = h.next.WithAttrs(as), h.text.WithAttrs(as)
	return &c
}

func (h *forwardHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next, c.text = h.next.WithGroup(name), h.text.WithGroup(name)
	return &c
}
