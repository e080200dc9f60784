package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Run reconciles the records of this location's spaces with what the
// runtimes report, once at once and then every ReconcileInterval, until ctx
// ends; it then returns nil. See Reconcile. It also watches the agents of
// the running spaces and says in a space's log when one stays away (see
// Options.AgentGrace).
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		shared.Every(ctx, max(min(m.interval, m.agentGrace/4), 50*time.Millisecond), false, func() { m.checkAgents(ctx) })
	}()
	shared.Every(ctx, m.interval, true, func() {
		if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("reconciling spaces failed", "err", err)
		}
	})
	return nil
}

// Reconcile makes one pass over this location's spaces, skipping those
// with an operation in progress:
//   - a running space whose workload vanished outside knot, or stayed
//     exited for SettleTime (in a crash loop, with only its engine's
//     restarts between), becomes stopped (exit code 0) or failed with
//     the reason, and what is left of the workload is removed; one whose
//     workload restarted gets its new start time; while its runtime cannot
//     be reached it stays running with the reason;
//   - a space left starting or stopping by a crash is settled: running if
//     its workload runs, else failed; stopped once its workload is removed;
//   - a space left deleting is deleted;
//   - a stopped, failed or pending space has any workload removed, and a
//     workload of a space that no longer exists is removed (volumes stay).
//
// It returns the first error that kept it from looking at every space.
func (m *Manager) Reconcile(ctx context.Context) error {
	type snapshot struct {
		byID map[string]*Status
		err  error
	}
	snaps := map[Runtime]*snapshot{}
	for _, rt := range m.runtimesOf(nil) {
		cctx, cancel := m.call(ctx)
		list, err := rt.List(cctx)
		cancel()
		sn := &snapshot{byID: map[string]*Status{}, err: err}
		for _, st := range list {
			sn.byID[st.SpaceID] = st
		}
		snaps[rt] = sn
	}
	cctx, cancel := m.call(ctx)
	spaces, err := m.records.ListSpaces(cctx)
	cancel()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range spaces {
		known[s.ID] = true
		if !m.local(s) {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		m.reconcileSpace(ctx, s.ID, func(rt Runtime) (*Status, error) {
			sn := snaps[rt]
			if sn.err != nil {
				return nil, sn.err
			}
			if st := sn.byID[s.ID]; st != nil {
				return st, nil
			}
			return &Status{SpaceID: s.ID, State: StateMissing}, nil
		})
	}
	for rt, sn := range snaps {
		for id := range sn.byID {
			if !known[id] {
				m.removeOrphan(ctx, rt, id)
			}
		}
	}
	return nil
}

// reconcileSpace settles one space; observed reports what a runtime's List
// said about it.
func (m *Manager) reconcileSpace(ctx context.Context, id string, observed func(Runtime) (*Status, error)) {
	unlock, ok := m.tryLock(id)
	if !ok {
		return
	}
	defer unlock()
	ctx = context.WithoutCancel(ctx)
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return
	}
	if s.State == shared.SpaceDeleting {
		if err := m.finishDelete(ctx, s); err != nil {
			m.log.Debug("delete still waits", "space", id, "err", err)
		}
		return
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return
	}
	if tmpl != nil && tmpl.Kind == shared.TemplateManual {
		switch s.State {
		case shared.SpaceStarting:
			if state, _ := m.manualState(id); state == shared.SpaceRunning {
				m.setState(ctx, id, shared.SpaceRunning, "", nil)
			}
		case shared.SpaceStopping:
			m.setState(ctx, id, shared.SpaceStopped, "", nil)
		}
		return
	}
	var rt Runtime
	if tmpl != nil {
		rt, err = m.runtimeFor(tmpl.Kind)
		if err != nil {
			if s.State == shared.SpaceRunning || s.State == shared.SpaceStarting {
				m.fail(ctx, id, err, "")
			}
			return
		}
	} else {
		rts := m.runtimesOf(nil)
		if len(rts) == 0 {
			return
		}
		rt = rts[0]
	}
	st, err := observed(rt)
	if err != nil {
		if s.State == shared.SpaceRunning {
			reason := fmt.Sprintf("cannot reach %s: %s", rt.Name(), reasonOf(err))
			if s.Reason != reason {
				m.setState(ctx, id, shared.SpaceRunning, reason, nil)
			}
		}
		return
	}
	// What List said may predate an operation that has finished since;
	// look again before acting on a difference.
	live := func() (*Status, bool) {
		st, err := m.inspect(ctx, rt, id)
		if err != nil {
			return nil, false
		}
		return st, true
	}
	if s.State != shared.SpaceRunning {
		m.settled(id)
	}
	switch s.State {
	case shared.SpaceRunning:
		if st.State == StateRunning {
			m.seenRunning(id, st.StartedAt)
			m.checkRunning(ctx, rt, s, st)
			return
		}
		if st, ok := live(); ok {
			switch {
			case st.State == StateRunning:
				m.seenRunning(id, st.StartedAt)
				m.checkRunning(ctx, rt, s, st)
			case st.State == StateExited && !m.exitedLongEnough(id):
				// Wait: it may be restarting.
			default:
				m.settled(id)
				m.lost(ctx, rt, s, st)
			}
		}
	case shared.SpaceStarting:
		if st, ok := live(); ok {
			if st.State == StateRunning {
				started := st.StartedAt
				m.setState(ctx, id, shared.SpaceRunning, "", func(s *shared.Space) {
					s.ContainerID = st.ID
					s.StartedAt = &started
				})
				return
			}
			if err := m.removeWorkload(ctx, rt, id); err == nil {
				m.fail(ctx, id, shared.Errorf(shared.EUNAVAILABLE, "the start was interrupted"), "")
			}
		}
	case shared.SpaceStopping:
		if err := m.removeWorkload(ctx, rt, id); err == nil {
			m.setState(ctx, id, shared.SpaceStopped, "", func(s *shared.Space) {
				s.ContainerID = ""
				s.StartedAt = nil
			})
		}
	default: // pending, stopped, failed
		if st.State == StateMissing {
			return
		}
		if st, ok := live(); ok && st.State != StateMissing {
			if err := m.removeWorkload(ctx, rt, id); err == nil {
				m.logInfo(id, "removed a %s that was left over while the space is %s", noun(rt), orPending(s.State))
			}
		}
	}
}

// checkRunning updates a running space whose workload runs: a restart
// outside knot, or a runtime that is reachable again.
func (m *Manager) checkRunning(ctx context.Context, rt Runtime, s *shared.Space, st *Status) {
	// Stores keep times to the microsecond at least; a later start time is a
	// restart.
	restarted := !st.StartedAt.IsZero() && (s.StartedAt == nil || st.StartedAt.Sub(*s.StartedAt) > time.Millisecond)
	changed := s.ContainerID != st.ID && st.ID != ""
	if !restarted && !changed && s.Reason == "" {
		return
	}
	if restarted && s.StartedAt != nil {
		m.logInfo(s.ID, "the %s restarted outside knot at %s", noun(rt), st.StartedAt.UTC().Format(time.RFC3339))
	}
	started := st.StartedAt
	m.setState(ctx, s.ID, shared.SpaceRunning, "", func(s *shared.Space) {
		if st.ID != "" {
			s.ContainerID = st.ID
		}
		if !started.IsZero() {
			s.StartedAt = &started
		}
	})
}

// lost records a running space whose workload exited or vanished outside
// knot and removes what is left of the workload.
func (m *Manager) lost(ctx context.Context, rt Runtime, s *shared.Space, st *Status) {
	state := shared.SpaceFailed
	var reason string
	switch st.State {
	case StateMissing:
		reason = fmt.Sprintf("the %s was removed outside knot", noun(rt))
	default:
		reason = st.Reason
		if reason == "" {
			reason = fmt.Sprintf("%s exited with code %d", noun(rt), st.ExitCode)
		}
		reason = "the " + reason + " outside knot"
		if st.ExitCode == 0 {
			state = shared.SpaceStopped
		}
		if err := m.removeWorkload(ctx, rt, s.ID); err != nil {
			m.logError(s.ID, "removing the exited %s failed: %s", noun(rt), reasonOf(err))
		}
	}
	m.setState(ctx, s.ID, state, reason, func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
}

// removeOrphan removes the workload of a space that has no record. Its
// volumes stay: only an explicit delete removes data.
func (m *Manager) removeOrphan(ctx context.Context, rt Runtime, id string) {
	unlock, ok := m.tryLock(id)
	if !ok {
		return
	}
	defer unlock()
	if _, err := m.getSpace(ctx, id); shared.ErrorCode(err) != shared.ENOTFOUND {
		return
	}
	if err := m.removeWorkload(ctx, rt, id); err != nil {
		m.log.Warn("removing the workload of a space that does not exist failed", "space", id, "runtime", rt.Name(), "err", err)
		return
	}
	m.log.Info("removed the workload of a space that does not exist", "space", id, "runtime", rt.Name())
}
