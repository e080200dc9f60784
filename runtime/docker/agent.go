package docker

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/knot-dev/knot/shared"
)

// StartAgent starts knot agent, from the binary injected at AgentPath, in
// the space's running container, detached: it gets the container's
// environment (the agent's endpoint, space id and token) and runs as the
// container's user. It returns EINVALID when the driver injects no binary
// and ENOTFOUND when the space has no running container. A second agent
// started in the same container steps aside for the first (see package
// agent), so a template that runs the agent itself loses nothing.
func (d *Driver) StartAgent(ctx context.Context, spaceID string) error {
	if d.agent == "" {
		return shared.Errorf(shared.EINVALID, "%s: no agent binary is injected into containers", d.name)
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return err
	}
	if len(list) == 0 || list[0].State != "running" {
		return shared.Errorf(shared.ENOTFOUND, "%s: space %s has no running container", d.name, spaceID)
	}
	id := list[0].ID
	// A detached exec's output goes nowhere: the agent also writes its log
	// to the container's standard error, where the engine keeps it (Output).
	ex, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: []string{AgentPath, "agent"}, Detach: true,
		Env: []string{EnvAgentLogFile + "=/proc/1/fd/2"}})
	if err != nil {
		return d.errorf(err, "start the agent in container %s", short(id))
	}
	if err := d.cli.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return d.errorf(err, "start the agent in container %s", short(id))
	}
	return nil
}

// EnvAgentLogFile is agent.log_file's variable.
const EnvAgentLogFile = "KNOT_AGENT_LOG_FILE"

// EnvAgentSyslogSocket is agent.syslog_socket's variable. The agent knot
// starts in a container takes syslog(3) messages on the container's own
// /dev/log (a /dev of its own), so that logger and programs that log to
// syslog reach the space's log in any image; a template's environment may
// set another path, or none.
const EnvAgentSyslogSocket = "KNOT_AGENT_SYSLOG_SOCKET"

// withAgentSyslog adds EnvAgentSyslogSocket=/dev/log to env unless env
// sets it.
func withAgentSyslog(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, EnvAgentSyslogSocket+"=") {
			return env
		}
	}
	return append(env, EnvAgentSyslogSocket+"=/dev/log")
}
