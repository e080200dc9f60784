package redis

import (
	"context"
	"strconv"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Changes returns the feed after a revision; see storage.Store. It is one
// script, so it reads one state of the feed and the records.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	args := append([]any{after, max(limit, 0)}, s.k.kindNames...)
	res, err := changesScript.RunRO(ctx, s.rdb, s.k.recs, args...).Slice()
	if err != nil {
		return nil, s.fail(err, "read the changes after %d", after)
	}
	out := make([]shared.Change, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		m, _ := res[i].(string)
		score, _ := res[i+1].(string)
		kind, id, ok := strings.Cut(m, "/")
		rev, err := strconv.ParseFloat(score, 64)
		if !ok || err != nil {
			return nil, shared.Errorf(shared.EINTERNAL, "redis: the feed of the store %q holds a corrupt entry %q at %q", s.k.prefix, m, score)
		}
		v, stored := res[i+2].(string)
		switch {
		case !stored:
			out = append(out, shared.Change{Kind: shared.Kind(kind), ID: id, Revision: int64(rev), Deleted: true})
		case v == "":
			s.log.Warn("feed entry without its record", "revision", int64(rev), "kind", kind, "id", id)
		default:
			c, err := s.decode(shared.Kind(kind), id, v)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Head returns the position of the feed; see storage.Store.
func (s *Store) Head(ctx context.Context) (storage.Head, error) {
	if err := s.life.Enter(""); err != nil {
		return storage.Head{}, err
	}
	defer s.life.Exit()
	v, err := s.rdb.HMGet(ctx, s.k.meta, "revision", "horizon").Result()
	if err != nil {
		return storage.Head{}, s.fail(err, "read the head")
	}
	h := storage.Head{Epoch: s.epoch}
	if h.Revision, err = number(v[0]); err == nil {
		h.Horizon, err = number(v[1])
	}
	if err != nil {
		return storage.Head{}, shared.Wrap(shared.EINTERNAL, err, "redis: the head of the store %q is corrupt", s.k.prefix)
	}
	return h, nil
}

// number reads a counter of meta; a missing one is 0.
func number(v any) (int64, error) {
	str, ok := v.(string)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(str, 10, 64)
}

// compactChunk is how many tombstones one script of Compact drops, so that
// no script holds Redis up for long.
const compactChunk = 1000

// Compact drops old tombstones; see storage.Store. The first script raises
// the horizon, so a failure halfway leaves a horizon that already covers the
// tombstones that are gone.
func (s *Store) Compact(ctx context.Context, upTo int64) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	keys := []string{s.k.meta, s.k.feed, s.k.tombs}
	for {
		dropped, err := compactScript.Run(ctx, s.rdb, keys, upTo, compactChunk).Int()
		if err != nil {
			return s.fail(err, "compact up to %d", upTo)
		}
		if dropped < compactChunk {
			return nil
		}
	}
}

// maxBatchBytes bounds the data of one Apply: the script that writes it
// holds Redis up for as long as it runs.
const maxBatchBytes = 64 << 20

// Apply writes a batch from an origin in one script; see storage.Store.
func (s *Store) Apply(ctx context.Context, b storage.Batch) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	args := []any{b.Epoch, b.Applied, len(s.k.kindNames)}
	args = append(args, s.k.kindNames...)
	size := 0
	for i, c := range b.Changes {
		if size += len(c.ID) + len(c.Data); size > maxBatchBytes {
			return shared.Errorf(shared.ETOOLARGE, "redis: a batch of %d changes holds more than %d MiB, the most one script takes", len(b.Changes), maxBatchBytes>>20)
		}
		keys, err := driver.CheckChange(i, c)
		if err != nil {
			return err
		}
		deleted := "0"
		if c.Deleted {
			deleted = "1"
		}
		args = append(args, string(c.Kind), c.ID, c.Revision, deleted, []byte(c.Data), len(keys))
		for _, k := range keys {
			args = append(args, k)
		}
	}
	if err := applyScript.Run(ctx, s.rdb, s.k.all, args...).Err(); err != nil {
		return s.fail(err, "apply a batch of %d changes", len(b.Changes))
	}
	return nil
}

// Replica returns the state recorded by Apply; see storage.Store.
func (s *Store) Replica(ctx context.Context) (string, int64, error) {
	if err := s.life.Enter(""); err != nil {
		return "", 0, err
	}
	defer s.life.Exit()
	v, err := s.rdb.HMGet(ctx, s.k.meta, "replica_epoch", "replica_applied").Result()
	if err != nil {
		return "", 0, s.fail(err, "read the replica state")
	}
	epoch, _ := v[0].(string)
	applied, err := number(v[1])
	if err != nil {
		return "", 0, shared.Wrap(shared.EINTERNAL, err, "redis: the replica state of the store %q is corrupt", s.k.prefix)
	}
	return epoch, applied, nil
}
