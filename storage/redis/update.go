package redis

import (
	"context"
	"errors"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Update runs fn in a transaction; see storage.Store and storage.Tx.
//
// It is optimistic, with WATCH: on one connection, before each read the
// transaction WATCHes the hash it reads (the kind's records for Get and
// List, its unique keys for Lookup), and it keeps its writes aside
// (driver.Overlay). When fn returns nil, MULTI/EXEC runs txScript, which
// writes them all at the next revisions. Every write of the store, from any
// process, changes the hashes of its kind, so if anything the transaction
// read, or a record of a kind it listed, changed since it read it, Redis
// refuses the EXEC: nothing is written and fn runs again, at most
// storage.TxTries times. A watched hash covers a whole kind, so two
// transactions that read one kind and write it conflict even when they
// touch different records; one of them commits each time.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	for range storage.TxTries {
		var o *driver.Overlay
		var fnErr error
		var revs []int64
		err := s.rdb.Watch(ctx, func(rtx *goredis.Tx) error {
			o = driver.NewOverlay(&base{s: s, rtx: rtx, watched: map[string]bool{}})
			if fnErr = fn(o); fnErr != nil {
				return nil
			}
			var err error
			revs, err = s.commit(ctx, rtx, o.Writes())
			return err
		}, s.txKey())
		switch {
		case errors.Is(err, goredis.TxFailedErr):
			continue
		case err != nil:
			return s.fail(err, "commit a transaction")
		case fnErr != nil:
			return fnErr
		}
		for i, w := range o.Writes() {
			if w.Rec != nil {
				w.Rec.SetRevision(revs[i])
			}
		}
		return nil
	}
	return shared.Errorf(shared.ECONFLICT, "redis: a transaction met concurrent writes %d times in a row; try again", storage.TxTries)
}

// txKey is the key Update WATCHes first, which picks the node of a Redis
// Cluster; nothing ever writes it.
func (s *Store) txKey() string { return "{" + s.k.prefix + "}:tx" }

// commit runs txScript for writes in MULTI/EXEC on rtx and returns the
// revision of each write. With no writes it runs an empty MULTI/EXEC, which
// still fails when a watched hash changed.
func (s *Store) commit(ctx context.Context, rtx *goredis.Tx, writes []driver.Write) ([]int64, error) {
	args := append([]any{len(s.k.kindNames)}, s.k.kindNames...)
	for _, w := range writes {
		deleted := "0"
		if w.Deleted {
			deleted = "1"
		}
		args = append(args, string(w.Kind), w.ID, deleted, w.Head, w.Tail, len(w.Keys))
		for _, k := range w.Keys {
			args = append(args, k)
		}
	}
	var eval *goredis.Cmd
	_, err := rtx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		if len(writes) == 0 {
			p.Ping(ctx)
			return nil
		}
		eval = txScript.Eval(ctx, p, s.k.all, args...)
		return nil
	})
	if err != nil || eval == nil {
		return nil, err
	}
	res, err := eval.StringSlice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(writes) {
		return nil, shared.Errorf(shared.EINTERNAL, "redis: a transaction of %d writes got %d revisions", len(writes), len(res))
	}
	revs := make([]int64, len(res))
	for i, r := range res {
		if revs[i], err = strconv.ParseInt(r, 10, 64); err != nil {
			return nil, shared.Wrap(shared.EINTERNAL, err, "redis: a transaction got a bad revision %q", r)
		}
	}
	return revs, nil
}

// base reads the store beneath a transaction on its connection, WATCHing
// each hash before its first read.
type base struct {
	s       *Store
	rtx     *goredis.Tx
	watched map[string]bool
}

func (b *base) watch(ctx context.Context, key string) error {
	if b.watched[key] {
		return nil
	}
	if err := b.rtx.Watch(ctx, key).Err(); err != nil {
		return err
	}
	b.watched[key] = true
	return nil
}

func (b *base) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, bool, error) {
	if err := b.watch(ctx, b.s.k.rec[kind]); err != nil {
		return shared.Change{}, false, b.s.fail(err, "get %s %s", kind, id)
	}
	v, err := b.rtx.HGet(ctx, b.s.k.rec[kind], id).Result()
	if errors.Is(err, goredis.Nil) {
		return shared.Change{}, false, nil
	}
	if err != nil {
		return shared.Change{}, false, b.s.fail(err, "get %s %s", kind, id)
	}
	c, err := b.s.decode(kind, id, v)
	return c, err == nil, err
}

func (b *base) Holder(ctx context.Context, kind shared.Kind, key string) (string, bool, error) {
	if err := b.watch(ctx, b.s.k.uniq[kind]); err != nil {
		return "", false, b.s.fail(err, "lookup %s %s", kind, key)
	}
	id, err := b.rtx.HGet(ctx, b.s.k.uniq[kind], key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, b.s.fail(err, "lookup %s %s", kind, key)
	}
	return id, true, nil
}

func (b *base) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if err := b.watch(ctx, b.s.k.rec[kind]); err != nil {
		return nil, b.s.fail(err, "list %s", kind)
	}
	all, err := b.rtx.HGetAll(ctx, b.s.k.rec[kind]).Result()
	if err != nil {
		return nil, b.s.fail(err, "list %s", kind)
	}
	out := make([]shared.Change, 0, len(all))
	for id, v := range all {
		c, err := b.s.decode(kind, id, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
