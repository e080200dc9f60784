package runtime

import (
	"sync"
	"time"
)

// LogEntry is one line of a space's log: a state change, a runtime error or
// progress such as an image pull.
type LogEntry struct {
	At      time.Time `json:"at"`
	Level   string    `json:"level"` // "info" or "error"
	Message string    `json:"message"`
}

// spaceLogs keeps the last lines of every space's log in memory.
type spaceLogs struct {
	max int

	mu   sync.Mutex
	logs map[string]*ring // guarded by mu
}

type ring struct {
	entries []LogEntry
	next    int
	full    bool
}

func newSpaceLogs(max int) *spaceLogs {
	return &spaceLogs{max: max, logs: map[string]*ring{}}
}

func (l *spaceLogs) add(spaceID string, e LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.logs[spaceID]
	if r == nil {
		r = &ring{entries: make([]LogEntry, 0, min(l.max, 64))}
		l.logs[spaceID] = r
	}
	if len(r.entries) < l.max {
		r.entries = append(r.entries, e)
		return
	}
	r.entries[r.next] = e
	r.next = (r.next + 1) % l.max
	r.full = true
}

func (l *spaceLogs) get(spaceID string) []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.logs[spaceID]
	if r == nil {
		return nil
	}
	out := make([]LogEntry, 0, len(r.entries))
	if r.full {
		out = append(out, r.entries[r.next:]...)
		out = append(out, r.entries[:r.next]...)
	} else {
		out = append(out, r.entries...)
	}
	return out
}

func (l *spaceLogs) drop(spaceID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.logs, spaceID)
}
