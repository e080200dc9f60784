package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared"
)

// A container or Nomad space runs as soon as its workload does, but a
// person can use it only once its agent links to this server. When the
// agent cannot (most often: no route from inside the space to the agent
// endpoint), it says why only in the workload's own output, which nobody
// sees. So the Manager watches the agents of its running spaces: when one
// has not linked AgentGrace after the start, or its link broke and it has
// not come back within AgentGrace, the space's log says so in words, with
// the last lines the workload printed; while the agent stays away, new
// output follows at most once every agentReportEvery.

const (
	// agentReportEvery is the least time between two reports of an agent
	// that stays away.
	agentReportEvery = time.Minute
	// outputLines and outputLineLen bound what a report shows of the
	// workload's output.
	outputLines   = 20
	outputLineLen = 300
)

// agentWatch is what the Manager knows of the agent of one running space.
type agentWatch struct {
	started   time.Time    // the start of the workload this is about
	linked    bool         // the agent linked since that start
	before    bool         // the workload started before this Manager
	awaySince time.Time    // since when it is away; zero while linked
	reported  time.Time    // when its absence was last reported; zero if not since it went away
	seen      []OutputLine // what the last report read of the output
}

// noteAgent records that the agent of the space linked or went away now.
func (m *Manager) noteAgent(id string) {
	if m.agentUp == nil {
		return
	}
	up := m.agentUp(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.agentWaits[id]
	if w == nil {
		return
	}
	switch {
	case up:
		w.linked, w.awaySince, w.reported = true, time.Time{}, time.Time{}
	case w.awaySince.IsZero():
		w.awaySince = m.now()
	}
}

// checkAgents looks at the agent of every running container or Nomad space
// of this location and reports those that stay away.
func (m *Manager) checkAgents(ctx context.Context) {
	if m.agentUp == nil {
		return
	}
	cctx, cancel := m.call(ctx)
	spaces, err := m.records.ListSpaces(cctx)
	cancel()
	if err != nil {
		return
	}
	kinds := map[string]shared.TemplateKind{}
	running := map[string]bool{}
	for _, s := range spaces {
		if ctx.Err() != nil {
			return
		}
		if !m.local(s) || s.State != shared.SpaceRunning || s.StartedAt == nil {
			continue
		}
		kind, ok := kinds[s.TemplateID]
		if !ok {
			if tmpl, err := m.templateOf(ctx, s); err == nil && tmpl != nil {
				kind = tmpl.Kind
			}
			kinds[s.TemplateID] = kind
		}
		rt, err := m.runtimeFor(kind)
		if err != nil {
			continue
		}
		running[s.ID] = true
		m.checkAgent(ctx, rt, s)
	}
	m.mu.Lock()
	for id := range m.agentWaits {
		if !running[id] {
			delete(m.agentWaits, id)
		}
	}
	m.mu.Unlock()
}

// checkAgent reports the agent of the running space s if it stays away.
func (m *Manager) checkAgent(ctx context.Context, rt Runtime, s *shared.Space) {
	now := m.now()
	up := m.agentUp(s.ID)
	m.mu.Lock()
	w := m.agentWaits[s.ID]
	if w == nil || !w.started.Equal(*s.StartedAt) {
		// A workload started before this Manager (the server restarted)
		// is given the grace from then: its agent dials again.
		w = &agentWatch{started: *s.StartedAt, awaySince: *s.StartedAt}
		if s.StartedAt.Before(m.born) {
			w.before, w.awaySince = true, m.born
		}
		m.agentWaits[s.ID] = w
	}
	if up {
		w.linked, w.awaySince, w.reported = true, time.Time{}, time.Time{}
		m.mu.Unlock()
		return
	}
	if w.awaySince.IsZero() {
		w.awaySince = now
	}
	if now.Sub(w.awaySince) < m.agentGrace || !w.reported.IsZero() && now.Sub(w.reported) < agentReportEvery {
		m.mu.Unlock()
		return
	}
	first := w.reported.IsZero()
	w.reported = now
	linked, before, since, seen := w.linked, w.before, w.awaySince, w.seen
	m.mu.Unlock()

	var lines []OutputLine
	var readErr error
	if or, ok := rt.(OutputReader); ok {
		cctx, cancel := m.call(ctx)
		lines, readErr = or.Output(cctx, s.ID, outputLines)
		cancel()
		if shared.ErrorCode(readErr) == shared.ENOTFOUND {
			// The workload is gone; the reconciler records that.
			lines, readErr = nil, nil
		}
	}
	fresh := newOutput(lines, seen, since)
	m.mu.Lock()
	if readErr == nil {
		w.seen = lines
	}
	m.mu.Unlock()

	secs := int(now.Sub(since).Seconds())
	dials := fmt.Sprintf("It dials %s from inside the space; this usually means ", m.endpoint())
	const noRoute = "the space has no route to that address, such as a container network without a way to this server " +
		"(see the template's network, e.g. network: host)"
	switch {
	case first && before && !linked:
		m.logError(s.ID, "the agent has not connected in the %d s since this server started. %s%s", secs, dials, noRoute)
	case first && !linked:
		m.logError(s.ID, "the agent has not connected %d s after the start. %s%s", secs, dials, noRoute)
	case first:
		m.logError(s.ID, "the agent's link broke and it has not connected again in %d s. %sthe space lost its route "+
			"to that address, or the agent stopped", secs, dials)
	case len(fresh) > 0 || readErr != nil:
		m.logError(s.ID, "the agent is still not connected, %d s on", secs)
	}
	if readErr != nil {
		m.logError(s.ID, "reading what the space printed failed: %s", reasonOf(readErr))
		return
	}
	if _, ok := rt.(OutputReader); ok && first && len(fresh) == 0 {
		m.logInfo(s.ID, "the space has printed nothing since")
	}
	for _, l := range fresh {
		m.logs.add(s.ID, LogEntry{At: now, Level: "info", Text: "[space " + l.Source + "] " + cut(l.Text, outputLineLen)})
	}
}

func (m *Manager) endpoint() string {
	if m.server.AgentEndpoint == "" {
		return "(no agent endpoint is set)"
	}
	return m.server.AgentEndpoint
}

// newOutput returns the lines of out not in seen, the previous read, and,
// when the runtime says when they were printed, not before since. seen
// ends where out continues: the lines after the last place out repeats
// the end of seen are new. Without such a place, all of out is.
func newOutput(out, seen []OutputLine, since time.Time) []OutputLine {
	if n := len(seen); n > 0 {
		for i := len(out) - 1; i >= 0; i-- {
			k := min(n, i+1)
			if equalLines(out[i+1-k:i+1], seen[n-k:]) {
				out = out[i+1:]
				break
			}
		}
	}
	var fresh []OutputLine
	for _, l := range out {
		if l.At.IsZero() || !l.At.Before(since.Add(-time.Second)) {
			fresh = append(fresh, l)
		}
	}
	return fresh
}

func equalLines(a, b []OutputLine) bool {
	for i := range a {
		if !a[i].At.Equal(b[i].At) || a[i].Source != b[i].Source || a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}

// cut shortens s to at most n runes, marking the cut, and drops what
// would upset a terminal.
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + fmt.Sprintf("… (%d more characters)", len(r)-n)
}
