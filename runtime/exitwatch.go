package runtime

import "time"

// crashLoop is how many restarts of a running space's workload, each seen
// before it was seen to stay up, make the exits count together: the
// workload is in a crash loop, such as one whose engine restarts it at once
// every time (Podman's restart policy does), and the reconciler would
// otherwise always find it just exited or just restarted.
const crashLoop = 3

// exitWatch is what the reconciler saw of the workload of a running space
// since it was last seen to stay up.
type exitWatch struct {
	since     time.Time // when it was seen exited; zero when seen running since
	restarts  int       // restarts seen
	lastStart time.Time // the start time it was last seen running with
}

// exitedLongEnough notes that the workload of a running space is seen
// exited and reports whether that has lasted SettleTime.
func (m *Manager) exitedLongEnough(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	w := m.exits[id]
	if w == nil {
		w = &exitWatch{}
		m.exits[id] = w
	}
	if w.since.IsZero() {
		w.since = now
		return false
	}
	return now.Sub(w.since) >= m.settle
}

// seenRunning notes that the workload of a running space is seen running,
// started at started. Seen twice with one start time, it stays up, and
// what was seen before is forgotten. A restart ends the exit that came
// before it, unless it is the crashLoop-th restart seen without the
// workload staying up in between.
func (m *Manager) seenRunning(id string, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.exits[id]
	switch {
	case w == nil:
	case w.restarts > 0 && started.Equal(w.lastStart):
		delete(m.exits, id)
	default:
		if !started.Equal(w.lastStart) {
			w.restarts++
			w.lastStart = started
		}
		if w.restarts < crashLoop {
			w.since = time.Time{}
		}
	}
}

// settled forgets what was seen of the workload of a space.
func (m *Manager) settled(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.exits, id)
}
