package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/srv"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/storage/mysql"
	"github.com/knot-dev/knot/storage/redis"
)

// openStore opens the store that cfg selects; ctx bounds the connection to
// a MySQL or Redis server. Their srv+ hosts are looked up with the resolver
// of cfg.Resolver, for every new connection. The caller closes the store.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (storage.Store, error) {
	switch kind := cfg.Storage(); kind {
	case config.StoreMemory:
		return memory.New(), nil
	case config.StoreBadger:
		b := cfg.Server.BadgerDB
		minFree := b.MinFreeBytes()
		if minFree == 0 {
			minFree = -1 // 0 turns the check off
		}
		s, err := badger.Open(badger.Options{Path: b.Path, Logger: logger, MinFree: minFree})
		if shared.ErrorCode(err) == shared.ENOSPACE {
			return nil, fmt.Errorf("%w (server.badgerdb.min_free is %s)", err, b.MinFree)
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	case config.StoreMySQL:
		m := cfg.Server.MySQL
		resolve, err := storeResolver(cfg, logger, m.Host)
		if err != nil {
			return nil, err
		}
		s, err := mysql.Open(ctx, mysql.Options{
			Host: m.Host, Port: m.Port, User: m.User, Password: m.Password, Database: m.Database,
			Resolve: resolve, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	case config.StoreRedis:
		r := cfg.Server.Redis
		resolve, err := storeResolver(cfg, logger, r.Hosts...)
		if err != nil {
			return nil, err
		}
		s, err := redis.Open(ctx, redis.Options{Hosts: r.Hosts, Password: r.Password, DB: r.DB, Resolve: resolve, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unknown store %q", kind)
	}
}

// backupDir is where a leaf keeps a copy of its replica before a snapshot
// of a new epoch replaces it: the directory that holds
// server.badgerdb.path (./data by default), whatever the store.
func backupDir(cfg *config.Config) string {
	return filepath.Dir(filepath.Clean(cfg.Server.BadgerDB.Path))
}

// storeResolver returns the resolver of the srv+ hosts among hosts, nil
// when there are none.
func storeResolver(cfg *config.Config, logger *slog.Logger, hosts ...string) (func(context.Context, string) (string, error), error) {
	if !slices.ContainsFunc(hosts, func(h string) bool { return strings.HasPrefix(h, srv.Prefix) }) {
		return nil, nil
	}
	r, err := srv.New(srv.Options{Consul: cfg.Resolver.Consul, Nameservers: cfg.Resolver.Nameservers, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	return r.Resolve, nil
}
