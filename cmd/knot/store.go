package main

import (
	"errors"
	"log/slog"

	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/storage/memory"
)

// openStore opens the store that cfg selects. The caller closes it.
func openStore(cfg *config.Config, logger *slog.Logger) (storage.Store, error) {
	switch kind := cfg.Storage(); kind {
	case config.StoreMemory:
		return memory.New(), nil
	case config.StoreBadger:
		s, err := badger.Open(badger.Options{Path: cfg.Server.BadgerDB.Path, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, errors.New("the " + string(kind) + " store is not available in this build")
	}
}
