package runtime

import (
	"context"
	"errors"

	"github.com/knot-dev/knot/shared"
)

func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.callTO)
}

func (m *Manager) getSpace(ctx context.Context, id string) (*shared.Space, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	return m.records.GetSpace(cctx, id)
}

// templateOf returns the template of s, or nil if it no longer exists.
func (m *Manager) templateOf(ctx context.Context, s *shared.Space) (*shared.Template, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	t, err := m.records.GetTemplate(cctx, s.TemplateID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, nil
	}
	return t, err
}

// update applies change to the stored space and writes it, reading again
// and reapplying when another writer got there first. change sees the latest
// record.
func (m *Manager) update(ctx context.Context, id string, change func(s *shared.Space)) (*shared.Space, error) {
	for attempt := 0; attempt < 10; attempt++ {
		s, err := m.getSpace(ctx, id)
		if err != nil {
			return nil, err
		}
		change(s)
		s.UpdatedAt = m.now()
		cctx, cancel := m.call(ctx)
		err = m.records.PutSpace(cctx, s)
		cancel()
		if shared.ErrorCode(err) == shared.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, shared.Errorf(shared.ECONFLICT, "space %s kept changing while it was being updated", id)
}

// setState moves the space to state with reason, applying extra too, and
// logs the change.
func (m *Manager) setState(ctx context.Context, id string, state shared.SpaceState, reason string, extra func(s *shared.Space)) (*shared.Space, error) {
	var from shared.SpaceState
	s, err := m.update(ctx, id, func(s *shared.Space) {
		from = s.State
		s.State = state
		s.Reason = reason
		if extra != nil {
			extra(s)
		}
	})
	if err != nil {
		m.logError(id, "recording state %s failed: %s", state, reasonOf(err))
		return nil, err
	}
	switch {
	case reason != "" && state == shared.SpaceFailed:
		m.logError(id, "%s → %s: %s", orPending(from), state, reason)
	case reason != "":
		m.logInfo(id, "%s → %s: %s", orPending(from), state, reason)
	case from != state:
		m.logInfo(id, "%s → %s", orPending(from), state)
	}
	return s, nil
}

func orPending(s shared.SpaceState) shared.SpaceState {
	if s == "" {
		return shared.SpacePending
	}
	return s
}

// fail records the space as failed because of err and returns err.
func (m *Manager) fail(ctx context.Context, id string, err error, prefix string) error {
	reason := reasonOf(err)
	if prefix != "" {
		reason = prefix + ": " + reason
	}
	m.setState(ctx, id, shared.SpaceFailed, reason, func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
	return err
}

// reasonOf is the text of err for a space's Reason: the message of a
// *shared.Error (written for users, with the runtime's reason), or the
// error's text.
func reasonOf(err error) string {
	var e *shared.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
