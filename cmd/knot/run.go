package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/nomad"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/srv"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/web"
)

// runServer runs the server described by cfg until ctx is cancelled, then
// stops it: the HTTP server finishes the requests in flight, the background
// loops return, and the store is closed last, so no write that was answered
// is lost.
//
// The role comes from the configuration (config.Role): a standalone server
// runs the web server and the spaces of its location; an origin also runs
// the hub that leaves connect to; a leaf also runs the uplink to its
// origin, and serves from its own store whether or not the origin answers.
func runServer(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	var sealer *crypt.Sealer
	if cfg.Server.Encrypt != "" {
		s, err := crypt.NewSealer(cfg.Server.Encrypt)
		if err != nil {
			return fmt.Errorf("server.encrypt: %w", err)
		}
		sealer = s
	}
	var totp *origin.TOTPOptions
	if cfg.Server.TOTP.Enabled {
		if sealer == nil {
			return errors.New("server.totp.enabled is true but server.encrypt is not set: TOTP secrets are stored sealed with it; set it (make a key with knot genkey, the same on every server) or turn TOTP off")
		}
		totp = &origin.TOTPOptions{Window: cfg.Server.TOTP.Window, Issuer: cfg.Server.TOTP.Issuer}
	}

	cert, err := webTLS(cfg)
	if err != nil {
		return err
	}

	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("close store", "err", err)
		}
	}()

	agentCert, err := agentTLS(cfg, cert)
	if err != nil {
		return err
	}
	if cert == nil && agentCert.Created {
		logger.Info("made a self-signed TLS certificate for the agent listener: agents pin its fingerprint, so an agent given another one must be given this one",
			"file", agentCert.File, "sha256", agentCert.Fingerprint)
	}
	// The manager, made below, hears of agents that link or leave, and
	// keeps the lines they forward; agents are served only once it is set.
	var (
		agentChanged func(spaceID string)
		manager      *runtime.Manager
	)
	agents, agentLn, err := startAgents(cfg, store, agentCert, logger, func(id string) {
		if agentChanged != nil {
			agentChanged(id)
		}
	}, func(id string, l agentwire.LogLine) {
		manager.Append(id, runtime.LogEntry{At: l.At, Level: l.Level, Text: l.Service + ": " + l.Text})
	})
	if err != nil {
		return err
	}
	defer agentLn.Close()

	container, err := containerRuntime(cfg, logger)
	if err != nil {
		return err
	}
	container = withAgentEnv(container, agentCert.Fingerprint)
	var runtimes []string
	if container != nil {
		runtimes = append(runtimes, container.Name())
	}
	nomadRT, err := nomadRuntime(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if nomadRT != nil {
		runtimes = append(runtimes, nomadRT.Name())
		nomadRT = withAgentEnv(nomadRT, agentCert.Fingerprint)
	}

	var (
		hub      *origin.Hub
		uplink   *leaf.Uplink
		toOrigin leaf.OriginOptions
	)
	switch cfg.Role() {
	case config.RoleOrigin:
		hub, err = origin.New(origin.Options{
			Store:               store,
			Logger:              logger,
			SharedTokenHash:     crypt.HashToken(cfg.Server.SharedToken),
			EnableLeafAPITokens: cfg.Server.EnableLeafAPITokens,
			Version:             version,
			ForgetAfter:         cfg.Server.LeafForgetAfterDuration(),
		})
		if err != nil {
			return err
		}
	case config.RoleLeaf:
		node, err := nodeID(cfg)
		if err != nil {
			return err
		}
		resolve, err := originResolver(cfg, logger)
		if err != nil {
			return err
		}
		transport, err := originTransport(cfg)
		if err != nil {
			return err
		}
		uplink, err = leaf.New(overOriginTLS(transport, leaf.Options{
			Store:     store,
			OriginURL: cfg.Server.OriginServer,
			Token:     cfg.Server.SharedToken,
			Location:  cfg.Server.Location,
			NodeID:    node,
			Version:   version,
			Runtimes:  runtimes,
			Logger:    logger,
			Resolve:   resolve,
			BackupDir: backupDir(cfg),
			Agents:    agents,
		}))
		if err != nil {
			return fmt.Errorf("server.origin_server: %w", err)
		}
		toOrigin = leaf.OriginOptions{URL: cfg.Server.OriginServer, Token: cfg.Server.SharedToken, Resolve: resolve,
			HTTPClient: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	}

	rec := leaf.SpaceRecords{Store: store}
	switch {
	case uplink != nil:
		rec.Wrote = uplink.Notify
	case hub != nil:
		rec.Wrote = hub.Notify
	}
	manager, err = runtime.NewManager(runtime.Options{
		Records:   rec,
		Container: container,
		Nomad:     nomadRT,
		Server: runtime.ServerInfo{
			URL:            cfg.Server.URL,
			AgentEndpoint:  cfg.Server.AgentEndpointOrListen(),
			WildcardDomain: cfg.Server.WildcardDomain,
			Location:       cfg.Server.Location,
			Timezone:       time.Local.String(),
		},
		Sealer:         sealer,
		AgentConnected: func(id string) bool { return agents.Status(id).Connected },
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	agentChanged = func(id string) {
		if uplink != nil {
			uplink.AgentChanged(id)
		}
		if hub != nil {
			hub.HomeAgent(agents.WireState(id))
		}
		if err := manager.AgentChanged(ctx, id); err != nil {
			logger.Warn("recording the agent of a space failed", "space_id", id, "err", err)
		}
		if keys, linked := agents.SSHDHostKeys(id); linked {
			wrote, err := leaf.KeepSSHDHostKeys(ctx, rec.Store, id, keys, time.Now())
			if err != nil {
				logger.Warn("recording the host keys of a space's sshd failed", "space_id", id, "err", err)
			} else if wrote && rec.Wrote != nil {
				rec.Wrote()
			}
		}
	}
	// The web server's space service runs this location's spaces through
	// the manager and, on a leaf, carries out the origin's commands that
	// come down the uplink.
	server, housekeep, err := newServer(serverParts{
		Options: web.Options{
			Logger:         logger,
			Version:        version,
			Location:       cfg.Server.Location,
			URL:            cfg.Server.URL,
			WildcardDomain: cfg.Server.WildcardDomain,
			AgentBinary:    ownBinary(),
			Hub:            hub,
			MetricsToken:   cfg.Server.MetricsToken,
			TLS:            tlsConfigOf(cert),
		},
		Store:            store,
		Runner:           manager,
		Logs:             manager,
		Runtimes:         runtimes,
		Agents:           agents,
		DisableProxy:     cfg.Server.DisableProxy,
		Sealer:           sealer,
		TOTP:             totp,
		SessionMaxAge:    cfg.Server.SessionMaxAgeDuration(),
		AuditRetention:   time.Duration(cfg.Server.AuditRetention) * 24 * time.Hour,
		ValidateTemplate: runtime.ValidateTemplate,
		Uplink:           uplink,
		Origin:           toOrigin,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	scheme := "http://"
	if cert != nil {
		scheme = "https://"
		logWebTLS(logger, cert)
	}
	attrs := []any{"role", cfg.Role(), "listen", scheme + ln.Addr().String(),
		"location", cfg.Server.Location, "store", cfg.Storage(), "version", version}
	if uplink != nil {
		attrs = append(attrs, "origin", cfg.Server.OriginServer)
	}
	logger.Info("knot is serving", attrs...)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return server.Run(gctx, ln) })
	g.Go(func() error { return housekeep(gctx) })
	g.Go(func() error { return manager.Run(gctx) })
	g.Go(func() error { return agents.Serve(gctx, agentLn) })
	if w, ok := container.(agentWatcher); ok {
		g.Go(func() error { return w.WatchAgents(gctx) })
	}
	if hub != nil {
		g.Go(func() error { return hub.Run(gctx) })
	}
	if uplink != nil {
		g.Go(func() error { return uplink.Run(gctx) })
	}
	if b, ok := store.(*badger.Store); ok {
		g.Go(func() error { return b.Run(gctx) })
	}
	err = g.Wait()
	logger.Info("knot stopped")
	return err
}

// originResolver returns the resolver of a srv+ origin_server, nil when it
// is a plain URL.
func originResolver(cfg *config.Config, logger *slog.Logger) (func(context.Context, string) (string, error), error) {
	if !strings.HasPrefix(cfg.Server.OriginServer, srv.Prefix) {
		return nil, nil
	}
	r, err := srv.New(srv.Options{Consul: cfg.Resolver.Consul, Nameservers: cfg.Resolver.Nameservers, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	return r.ResolveURL, nil
}

// nodeID returns the id of this leaf node, the same across restarts: with
// BadgerDB it is kept in a file beside the database (<path>.node-id), made
// on the first start; with another store it is derived from the host name,
// location and listen address.
func nodeID(cfg *config.Config) (string, error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "leaf"
	}
	if cfg.Storage() != config.StoreBadger {
		sum := sha256.Sum256([]byte(host + "\x00" + cfg.Server.Location + "\x00" + cfg.Server.Listen))
		return host + "-" + hex.EncodeToString(sum[:6]), nil
	}
	file := filepath.Clean(cfg.Server.BadgerDB.Path) + ".node-id"
	b, err := os.ReadFile(file)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the leaf's node id: %w", err)
	}
	sum := sha256.Sum256([]byte(crypt.NewToken()))
	id := host + "-" + hex.EncodeToString(sum[:6])
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("keep the leaf's node id: %w", err)
	}
	if err := os.WriteFile(file, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the leaf's node id: %w", err)
	}
	return id, nil
}

// containerRuntime returns the driver for container templates: Docker when
// server.docker.host or DOCKER_HOST is set or the default socket exists,
// else Podman when server.podman.host is set, else nil (container spaces then
// fail with a clear reason). The running binary is offered to containers as
// the agent, so any image can run it.
func containerRuntime(cfg *config.Config, logger *slog.Logger) (runtime.Runtime, error) {
	opts := docker.Options{Location: cfg.Server.Location, Logger: logger}
	if exe, err := os.Executable(); err == nil {
		opts.AgentBinary = exe
	}
	switch {
	case cfg.Server.Docker.Host != "" || os.Getenv("DOCKER_HOST") != "":
		opts.Name, opts.Host = "docker", cfg.Server.Docker.Host
	case cfg.Server.Podman.Host != "":
		opts.Name, opts.Host = "podman", cfg.Server.Podman.Host
	default:
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			logger.Info("no container runtime configured: container templates cannot start here")
			return nil, nil
		}
		opts.Name = "docker"
	}
	d, err := docker.New(opts)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// nomadRuntime returns the driver for nomad templates when the Nomad agent at
// server.nomad.addr answers, else nil: nomad spaces then fail with "no nomad
// runtime configured" and the server does not claim Nomad among its runtimes.
func nomadRuntime(ctx context.Context, cfg *config.Config, logger *slog.Logger) (runtime.Runtime, error) {
	if cfg.Server.Nomad.Addr == "" {
		return nil, nil
	}
	d, err := nomad.New(nomad.Options{
		Addr:     cfg.Server.Nomad.Addr,
		Token:    cfg.Server.Nomad.Token,
		Location: cfg.Server.Location,
		Logger:   logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server.nomad.addr: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := d.Ping(pctx); err != nil {
		logger.Info("no Nomad agent answers: nomad templates cannot start here", "addr", cfg.Server.Nomad.Addr, "err", err)
		d.Close()
		return nil, nil
	}
	return d, nil
}
