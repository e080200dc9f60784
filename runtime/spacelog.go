package runtime

import (
	"fmt"
	"sync"

	"github.com/knot-dev/knot/shared"
)

// LogEntry is one line of a space's log: a state change, a runtime error or
// progress such as an image pull.
type LogEntry = shared.SpaceLogEntry

// followBuffer is how many lines a follower may fall behind before it loses
// lines.
const followBuffer = 256

// spaceLogs keeps the last lines of every space's log in memory and hands
// new lines to the followers of each log.
type spaceLogs struct {
	max int

	mu        sync.Mutex
	logs      map[string]*ring                  // guarded by mu
	followers map[string]map[*follower]struct{} // guarded by mu
}

type ring struct {
	entries []LogEntry
	next    int
	full    bool
}

// follower is one reader of a space's log. Lines are sent without waiting:
// when ch is full, the line is counted in dropped and a line saying so is
// sent once there is room again.
type follower struct {
	ch      chan LogEntry
	dropped int // guarded by spaceLogs.mu
}

func newSpaceLogs(max int) *spaceLogs {
	return &spaceLogs{max: max, logs: map[string]*ring{}, followers: map[string]map[*follower]struct{}{}}
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
	} else {
		r.entries[r.next] = e
		r.next = (r.next + 1) % l.max
		r.full = true
	}
	for f := range l.followers[spaceID] {
		f.send(e)
	}
}

// send hands e to the follower without blocking; l.mu is held.
func (f *follower) send(e LogEntry) {
	if f.dropped > 0 && len(f.ch)+2 <= cap(f.ch) {
		f.ch <- LogEntry{At: e.At, Level: "error", Text: fmt.Sprintf("%d log lines were dropped here: the reader fell behind", f.dropped)}
		f.dropped = 0
	}
	if f.dropped > 0 || len(f.ch) == cap(f.ch) {
		f.dropped++
		return
	}
	f.ch <- e
}

// get returns the lines of the log; l.mu is held.
func (l *spaceLogs) get(spaceID string) []LogEntry {
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

func (l *spaceLogs) lines(spaceID string) []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.get(spaceID)
}

func (l *spaceLogs) follow(spaceID string) ([]LogEntry, <-chan LogEntry, func()) {
	f := &follower{ch: make(chan LogEntry, followBuffer)}
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := l.followers[spaceID]
	if fs == nil {
		fs = map[*follower]struct{}{}
		l.followers[spaceID] = fs
	}
	fs[f] = struct{}{}
	return l.get(spaceID), f.ch, func() { l.unfollow(spaceID, f) }
}

// unfollow removes f and closes its channel, once.
func (l *spaceLogs) unfollow(spaceID string, f *follower) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := l.followers[spaceID]
	if _, ok := fs[f]; !ok {
		return
	}
	delete(fs, f)
	if len(fs) == 0 {
		delete(l.followers, spaceID)
	}
	close(f.ch)
}

// drop forgets the log of a deleted space and ends its followers.
func (l *spaceLogs) drop(spaceID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.logs, spaceID)
	for f := range l.followers[spaceID] {
		close(f.ch)
	}
	delete(l.followers, spaceID)
}

// Logs returns the log of a space, oldest line first: state changes,
// runtime errors and image pull progress since this server started, at most
// Options.LogLines of them. The log of a deleted space is dropped.
func (m *Manager) Logs(spaceID string) []LogEntry { return m.logs.lines(spaceID) }

// Follow returns the log of a space as Logs does and a channel that
// receives every later line of it, in order, until cancel is called or the
// space is deleted; the channel is then closed. The Manager never waits for
// a follower: one that falls more than 256 lines behind loses the lines
// that do not fit, and gets a line saying how many were lost once it has
// caught up. cancel may be called more than once. Following a space that
// has no log yet is fine: its lines arrive as they are written.
func (m *Manager) Follow(spaceID string) (lines []LogEntry, next <-chan LogEntry, cancel func()) {
	return m.logs.follow(spaceID)
}

func (m *Manager) logInfo(spaceID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.logs.add(spaceID, LogEntry{At: m.now(), Level: "info", Text: msg})
	m.log.Info(msg, "space", spaceID)
}

func (m *Manager) logError(spaceID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.logs.add(spaceID, LogEntry{At: m.now(), Level: "error", Text: msg})
	m.log.Warn(msg, "space", spaceID)
}

// Append adds a line the space's workload wrote (its agent forwarded it)
// to the space's log. Level is "info" or "error"; anything else is "info".
func (m *Manager) Append(spaceID string, e LogEntry) {
	if e.Level != "error" {
		e.Level = "info"
	}
	m.logs.add(spaceID, e)
}
