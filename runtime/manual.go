package runtime

import (
	"context"

	"github.com/knot-dev/knot/shared"
)

// A manual space runs wherever its owner runs its agent, so knot knows it
// runs only when the agent links: a started manual space is starting,
// "waiting for its agent", until then, and running from then on. An agent
// that goes away later leaves the space running (the space's agent status
// says it is not connected): the owner's machine may be asleep or
// between networks, and the space is still started until it is stopped.

// waitingForAgent is the Reason of a manual space started without its agent.
const waitingForAgent = "waiting for its agent"

// manualState is the state a started manual space is in now.
func (m *Manager) manualState(id string) (shared.SpaceState, string) {
	if m.agentUp == nil || m.agentUp(id) {
		return shared.SpaceRunning, ""
	}
	return shared.SpaceStarting, waitingForAgent
}

// AgentChanged tells the Manager that the agent of the space with id linked
// or went away: a manual space waiting for its agent runs once it is
// linked. Other spaces and states are left alone; the time is noted for
// the report of an agent that stays away (Options.AgentGrace).
func (m *Manager) AgentChanged(ctx context.Context, id string) error {
	m.noteAgent(id)
	if !m.waitsForAgent(ctx, id) {
		return nil
	}
	return m.locked(ctx, id, func(ctx context.Context, id string) error {
		if !m.waitsForAgent(ctx, id) {
			return nil
		}
		if state, _ := m.manualState(id); state != shared.SpaceRunning {
			return nil
		}
		_, err := m.setState(ctx, id, shared.SpaceRunning, "", nil)
		return err
	})
}

// waitsForAgent reports whether id is a starting manual space of this
// location.
func (m *Manager) waitsForAgent(ctx context.Context, id string) bool {
	s, err := m.getSpace(ctx, id)
	if err != nil || s.State != shared.SpaceStarting || !m.local(s) {
		return false
	}
	tmpl, err := m.templateOf(ctx, s)
	return err == nil && tmpl != nil && tmpl.Kind == shared.TemplateManual
}
