package redis

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Put writes rec at the next revision; see storage.Store.
func (s *Store) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	if err := s.life.Enter(kind); err != nil {
		return err
	}
	defer s.life.Exit()
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	head, tail, err := driver.SplitJSON(rec)
	if err != nil {
		return err
	}
	want := rec.GetRevision()
	args := []any{id, member(kind, id), strconv.FormatInt(want, 10), head, tail}
	for _, k := range rec.UniqueKeys() {
		args = append(args, k)
	}
	res, err := putScript.Run(ctx, s.rdb, s.k.ofKind(kind), args...).StringSlice()
	if err != nil {
		return s.fail(err, "put %s %s", kind, id)
	}
	res = append(res, "", "") // the script's answer has one or two parts
	switch res[0] {
	case "ok":
		rev, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return shared.Wrap(shared.EINTERNAL, err, "redis: put %s %s: bad revision %q", kind, id, res[1])
		}
		rec.SetRevision(rev)
		return nil
	case "exists":
		return shared.Errorf(shared.ECONFLICT, "%s %s already exists", kind, id)
	case "missing":
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	case "changed":
		return shared.Errorf(shared.ECONFLICT, "%s %s was changed meanwhile (revision %s, not %d)", kind, id, res[1], want)
	case "taken":
		return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, res[1])
	}
	return shared.Errorf(shared.EINTERNAL, "redis: put %s %s: unexpected answer %q", kind, id, res[:2])
}

// Delete removes a record and leaves a tombstone; see storage.Store.
func (s *Store) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	if err := s.life.Enter(kind); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	rev, err := deleteScript.Run(ctx, s.rdb, s.k.ofKind(kind), id, member(kind, id)).Int64()
	if err != nil {
		return 0, s.fail(err, "delete %s %s", kind, id)
	}
	if rev == 0 {
		return 0, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	return rev, nil
}

// Get returns a record; see storage.Store.
func (s *Store) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	v, err := s.rdb.HGet(ctx, s.k.rec[kind], id).Result()
	if errors.Is(err, goredis.Nil) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	if err != nil {
		return shared.Change{}, s.fail(err, "get %s %s", kind, id)
	}
	return s.decode(kind, id, v)
}

// Lookup returns the record holding a unique key; see storage.Store.
func (s *Store) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	res, err := lookupScript.RunRO(ctx, s.rdb, []string{s.k.rec[kind], s.k.uniq[kind]}, key).StringSlice()
	if errors.Is(err, goredis.Nil) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	if err != nil {
		return shared.Change{}, s.fail(err, "lookup %s %s", kind, key)
	}
	if len(res) != 2 {
		return shared.Change{}, shared.Errorf(shared.EINTERNAL, "redis: lookup %s %s: unexpected answer %q", kind, key, res)
	}
	return s.decode(kind, res[0], res[1])
}

// List returns every record of kind ordered by id; see storage.Store.
func (s *Store) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	all, err := s.rdb.HGetAll(ctx, s.k.rec[kind]).Result()
	if err != nil {
		return nil, s.fail(err, "list %s", kind)
	}
	out := make([]shared.Change, 0, len(all))
	for id, v := range all {
		c, err := s.decode(kind, id, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b shared.Change) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// decode reads a stored record: its revision, a space, its JSON.
func (s *Store) decode(kind shared.Kind, id, v string) (shared.Change, error) {
	rev, data, ok := strings.Cut(v, " ")
	n, err := strconv.ParseInt(rev, 10, 64)
	if !ok || err != nil {
		return shared.Change{}, shared.Errorf(shared.EINTERNAL, "redis: %s %s in the store %q is corrupt", kind, id, s.k.prefix)
	}
	return shared.Change{Kind: kind, ID: id, Revision: n, Data: json.RawMessage(data)}, nil
}
