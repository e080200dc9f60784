package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/storage"
)

// envAgentFingerprint is the variable that gives the agent in a space the
// fingerprint of its leaf's certificate.
const envAgentFingerprint = "KNOT_AGENT_FINGERPRINT"

// agentTLS returns the certificate of the agent listener: the web
// listener's when it serves TLS, else the self-signed one kept in the data
// directory. Agents always speak TLS and pin its fingerprint, so a kept
// certificate stays when server.url or server.wildcard_domain changes: a
// new one would cut every agent already given the old fingerprint.
func agentTLS(cfg *config.Config, web *tlsconf.ServerCert) (*tlsconf.ServerCert, error) {
	if web != nil {
		return web, nil
	}
	sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: dataDir(cfg), Hosts: selfSignedHosts(cfg), PinnedOnly: true})
	if err != nil {
		return nil, fmt.Errorf("server.listen_agent: its certificate: %w", err)
	}
	return sc, nil
}

// startAgents makes the agent endpoint of this server's location and its
// listener on server.listen_agent; the caller runs Serve. changed hears of
// every agent that links or goes away; lines takes the log lines agents
// forward.
//
// With no server.agent_endpoint and a listen_agent on port 0, agents are
// given the port the listener got, not ":0", which no agent can dial.
func startAgents(cfg *config.Config, store storage.Store, cert *tlsconf.ServerCert, logger *slog.Logger, changed func(spaceID string), lines func(spaceID string, l agentwire.LogLine)) (*leaf.Agents, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Server.ListenAgent)
	if err != nil {
		return nil, nil, fmt.Errorf("server.listen_agent: %w", err)
	}
	if _, port, _ := net.SplitHostPort(cfg.Server.ListenAgent); cfg.Server.AgentEndpoint == "" && port == "0" {
		cfg.Server.AgentEndpoint = ln.Addr().String()
	}
	agents, err := leaf.NewAgents(leaf.AgentsOptions{
		Space: func(ctx context.Context, id string) (*shared.Space, error) {
			return storage.Get[shared.Space](ctx, store, id)
		},
		Location:    cfg.Server.Location,
		Endpoint:    cfg.Server.AgentEndpointOrListen(),
		Fingerprint: cert.Fingerprint,
		TLS:         cert.Config,
		Version:     version,
		Changed:     changed,
		Lines:       lines,
		Keys: func(ctx context.Context, sp *shared.Space) []string {
			return leaf.OwnerKeys(ctx, store, sp)
		},
		Logger: logger,
	})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	logger.Info("agents connect here", "listen_agent", ln.Addr().String(), "sha256", cert.Fingerprint)
	return agents, ln, nil
}

// agentEnv adds to every workload a runtime starts the fingerprint its
// agent verifies the leaf by.
type agentEnv struct {
	runtime.Runtime
	fingerprint string
}

// withAgentEnv returns rt adding the agent's fingerprint; nil stays nil.
func withAgentEnv(rt runtime.Runtime, fingerprint string) runtime.Runtime {
	if rt == nil {
		return nil
	}
	return &agentEnv{Runtime: rt, fingerprint: fingerprint}
}

func (a *agentEnv) Start(ctx context.Context, w *runtime.Workload) (*runtime.Status, error) {
	env := make(map[string]string, len(w.Env)+1)
	for k, v := range w.Env {
		env[k] = v
	}
	env[envAgentFingerprint] = a.fingerprint
	c := *w
	c.Env = env
	st, err := a.Runtime.Start(ctx, &c)
	if err != nil {
		return st, err
	}
	if s, ok := a.Runtime.(agentStarter); ok {
		if err := s.StartAgent(ctx, w.SpaceID); err != nil {
			w.Log("the agent could not be started in the space: %v", err)
		}
	}
	return st, nil
}

// agentStarter is a runtime that starts knot agent in a space's workload
// itself (the Docker and Podman driver, with the binary injected).
type agentStarter interface {
	StartAgent(ctx context.Context, spaceID string) error
}

// agentWatcher is a runtime that keeps knot agent running in its spaces'
// workloads when the engine restarts them (the Docker and Podman driver).
type agentWatcher interface {
	WatchAgents(ctx context.Context) error
}

// WatchAgents runs the wrapped runtime's WatchAgents, if it has one.
func (a *agentEnv) WatchAgents(ctx context.Context) error {
	if w, ok := a.Runtime.(agentWatcher); ok {
		return w.WatchAgents(ctx)
	}
	return nil
}
