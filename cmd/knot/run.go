package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/web"
)

// runServer runs the server described by cfg until ctx is cancelled, then
// stops it: the HTTP server finishes the requests in flight, the background
// loops return, and the store is closed last, so no write that was answered
// is lost.
func runServer(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	if role := cfg.Role(); role != config.RoleStandalone {
		return fmt.Errorf("the %s role is not available in this build yet: remove server.shared_token and server.origin_server to run standalone", role)
	}
	var sealer *crypt.Sealer
	if cfg.Server.Encrypt != "" {
		s, err := crypt.NewSealer(cfg.Server.Encrypt)
		if err != nil {
			return fmt.Errorf("server.encrypt: %w", err)
		}
		sealer = s
	}

	store, err := openStore(cfg, logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("close store", "err", err)
		}
	}()

	container, err := containerRuntime(cfg, logger)
	if err != nil {
		return err
	}
	manager, err := runtime.NewManager(runtime.Options{
		Records:   records{store},
		Container: container,
		Server: runtime.ServerInfo{
			URL:            cfg.Server.URL,
			AgentEndpoint:  cfg.Server.AgentEndpointOrListen(),
			WildcardDomain: cfg.Server.WildcardDomain,
			Location:       cfg.Server.Location,
			Timezone:       time.Local.String(),
		},
		Sealer: sealer,
		Logger: logger,
	})
	if err != nil {
		return err
	}
	server, err := web.New(web.Options{
		Store:            store,
		Logger:           logger,
		Version:          version,
		Location:         cfg.Server.Location,
		URL:              cfg.Server.URL,
		Sealer:           sealer,
		Spaces:           manager,
		ValidateTemplate: runtime.ValidateTemplate,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	logger.Info("knot is serving", "role", cfg.Role(), "listen", "http://"+ln.Addr().String(),
		"location", cfg.Server.Location, "store", cfg.Storage(), "version", version)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return server.Run(gctx, ln) })
	g.Go(func() error { return manager.Run(gctx) })
	if b, ok := store.(*badger.Store); ok {
		g.Go(func() error { return b.Run(gctx) })
	}
	err = g.Wait()
	logger.Info("knot stopped")
	return err
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
