package runtime

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Start starts the space with id and returns when it runs or has failed. A
// running space is left alone. The template's current spec is rendered and
// applied; the space records the template hash it was started with.
//
// Errors: ENOTFOUND if there is no such space; ELOCKED if it is being
// deleted; EINVALID if it belongs to another location or its template does
// not render; otherwise the runtime's error, which is also recorded as the
// space's failure Reason (EUNAVAILABLE when the engine cannot be reached,
// ENOTFOUND when the image does not exist, ...).
func (m *Manager) Start(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.start)
}

func (m *Manager) start(ctx context.Context, id string) error {
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return err
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	if s.State == shared.SpaceDeleting {
		return shared.Errorf(shared.ELOCKED, "space %q is being deleted", s.Name)
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	if tmpl == nil {
		return m.fail(ctx, id, shared.Errorf(shared.EINVALID, "the template of space %q does not exist", s.Name), "")
	}
	hash := templateHash(tmpl)
	if tmpl.Kind == shared.TemplateManual {
		if s.State == shared.SpaceRunning {
			return nil
		}
		state, reason := m.manualState(id)
		if s.State == state {
			return nil
		}
		now := m.now()
		_, err := m.setState(ctx, id, state, reason, func(s *shared.Space) {
			s.TemplateHash = hash
			s.StartedAt = &now
			s.ContainerID = ""
			s.Location = m.server.Location
		})
		return err
	}
	rt, err := m.runtimeFor(tmpl.Kind)
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	if s.State == shared.SpaceRunning {
		st, err := m.inspect(ctx, rt, id)
		if err != nil {
			return err
		}
		if st.State == StateRunning {
			return nil
		}
		m.logInfo(id, "the space's %s is %s; starting it again", noun(rt), st.State)
	}

	user, spec, volumes, err := m.renderSpace(ctx, s, tmpl)
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	token, err := m.agentToken(ctx, s)
	if err != nil {
		return m.fail(ctx, id, err, "making the agent token failed")
	}

	if _, err := m.setState(ctx, id, shared.SpaceStarting, "", func(s *shared.Space) {
		s.TemplateHash = hash
		s.AgentTokenHash = crypt.HashToken(token)
		s.Location = m.server.Location
		s.ContainerID = ""
		s.StartedAt = nil
	}); err != nil {
		return err
	}
	w := &Workload{
		SpaceID:   id,
		SpaceName: s.Name,
		UserName:  user.Username,
		Spec:      spec,
		Volumes:   volumes,
		Hash:      hash,
		Env: map[string]string{
			EnvAgentEndpoint: m.server.AgentEndpoint,
			EnvSpaceID:       id,
			EnvAgentToken:    token,
		},
		Logf: func(format string, args ...any) { m.logInfo(id, format, args...) },
	}
	cctx, cancel := m.call(ctx)
	err = rt.EnsureVolumes(cctx, w)
	cancel()
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	sctx, cancel := context.WithTimeout(ctx, m.startTO)
	st, err := rt.Start(sctx, w)
	cancel()
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	started := st.StartedAt
	if started.IsZero() {
		started = m.now()
	}
	_, err = m.setState(ctx, id, shared.SpaceRunning, "", func(s *shared.Space) {
		s.ContainerID = st.ID
		s.StartedAt = &started
	})
	return err
}

func (m *Manager) inspect(ctx context.Context, rt Runtime, id string) (*Status, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	return rt.Inspect(cctx, id)
}

// Stop stops the space with id and returns when it has stopped: its
// workload is stopped and removed, its volumes kept. Stopping a stopped or
// never started space does nothing; stopping a failed space clears the
// failure once nothing of it runs.
//
// Errors: ENOTFOUND if there is no such space; ELOCKED if it is being
// deleted; otherwise the runtime's error, also recorded as the failure
// Reason.
func (m *Manager) Stop(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.stop)
}

func (m *Manager) stop(ctx context.Context, id string) error {
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return err
	}
	switch s.State {
	case shared.SpacePending, shared.SpaceStopped, "":
		return nil
	case shared.SpaceDeleting:
		return shared.Errorf(shared.ELOCKED, "space %q is being deleted", s.Name)
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	rts := m.runtimesOf(tmpl)
	if len(rts) > 0 {
		if _, err := m.setState(ctx, id, shared.SpaceStopping, "", nil); err != nil {
			return err
		}
		for _, rt := range rts {
			if err := m.removeWorkload(ctx, rt, id); err != nil {
				return m.fail(ctx, id, err, "stop failed")
			}
		}
	}
	_, err = m.setState(ctx, id, shared.SpaceStopped, "", func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
	return err
}

// removeWorkload stops the space's workload with grace and removes it.
func (m *Manager) removeWorkload(ctx context.Context, rt Runtime, id string) error {
	sctx, cancel := context.WithTimeout(ctx, m.grace+m.callTO)
	err := rt.Stop(sctx, id, m.grace)
	cancel()
	if err != nil {
		return err
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	return rt.Remove(cctx, id)
}

// Delete removes the space with id: its workload, its volumes and then its
// record. A running space is stopped first. Deleting a space that does not
// exist does nothing. When a runtime cannot be reached the space stays in
// state deleting with the reason, and the reconciler finishes the delete
// once it can.
//
// Errors: EINVALID if it belongs to another location; otherwise the
// runtime's or the store's error.
func (m *Manager) Delete(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.delete)
}

func (m *Manager) delete(ctx context.Context, spaceID string) error {
	s, err := m.getSpace(ctx, spaceID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	if s.State != shared.SpaceDeleting {
		if _, err := m.setState(ctx, spaceID, shared.SpaceDeleting, "", nil); err != nil {
			return err
		}
	}
	return m.finishDelete(ctx, s)
}

// finishDelete removes what the runtimes hold of s and then its record.
func (m *Manager) finishDelete(ctx context.Context, s *shared.Space) error {
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	for _, rt := range m.runtimesOf(tmpl) {
		err := m.removeWorkload(ctx, rt, s.ID)
		if err == nil {
			cctx, cancel := m.call(ctx)
			err = rt.RemoveVolumes(cctx, s.ID)
			cancel()
		}
		if err != nil {
			reason := "delete waits: " + reasonOf(err)
			if cur, gerr := m.getSpace(ctx, s.ID); gerr == nil && cur.Reason != reason {
				m.setState(ctx, s.ID, shared.SpaceDeleting, reason, nil)
			}
			return err
		}
	}
	cctx, cancel := m.call(ctx)
	err = m.records.DeleteSpace(cctx, s.ID)
	cancel()
	if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		m.logError(s.ID, "deleting the record failed: %s", reasonOf(err))
		return err
	}
	m.settled(s.ID)
	m.log.Info("space deleted", "space", s.ID, "name", s.Name)
	m.logs.drop(s.ID)
	return nil
}
