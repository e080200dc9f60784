package runtime

import "context"

// CheckAgents runs one pass of the agent watch of Run.
func (m *Manager) CheckAgents(ctx context.Context) { m.checkAgents(ctx) }
