package redis

import (
	"context"
	"encoding/json"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// The audit log is a list, newest at the tail; the id of an event is its
// position plus the number of events pruned from the head before it, which
// the field audit_pruned of the meta hash counts.
const auditPrunedField = "audit_pruned"

// pruneBatch is how many audit events PruneAudit reads and trims at a time.
const pruneBatch = 500

// trimScript trims ARGV[2] events from the head of the audit list (KEYS[1])
// and counts them in the meta hash (KEYS[2]), unless another prune moved the
// head since the caller read it (the count is no longer ARGV[1]): then it
// returns -1 and the caller reads again. Appends only touch the tail.
var trimScript = goredis.NewScript(`
local pruned = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
if pruned ~= tonumber(ARGV[1]) then return -1 end
local n = tonumber(ARGV[2])
redis.call('LTRIM', KEYS[1], n, -1)
redis.call('HINCRBY', KEYS[2], ARGV[3], n)
return n
`)

// PruneAudit deletes the oldest events up to the first at or after before;
// see storage.Store.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	if err := s.life.Enter(""); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	total, err := driver.PruneInBatches(ctx, func() (int, bool, error) { return s.pruneAuditBatch(ctx, before) })
	if err != nil {
		return total, s.fail(err, "prune the audit log")
	}
	return total, nil
}

// pruneAuditBatch trims up to pruneBatch of the oldest events before
// before, and reports whether there may be more (or another prune got in
// the way and it should read again).
func (s *Store) pruneAuditBatch(ctx context.Context, before time.Time) (int, bool, error) {
	var pruned *goredis.StringCmd
	var head *goredis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		pruned = p.HGet(ctx, s.k.meta, auditPrunedField)
		head = p.LRange(ctx, s.k.audit, 0, pruneBatch-1)
		return nil
	})
	if err != nil && err != goredis.Nil {
		return 0, false, err
	}
	items := head.Val()
	n := 0
	for _, it := range items {
		var ev shared.AuditEvent
		if err := json.Unmarshal([]byte(it), &ev); err != nil {
			return 0, false, err
		}
		if !ev.At.Before(before) {
			break
		}
		n++
	}
	if n == 0 {
		return 0, false, nil
	}
	base, _ := pruned.Int64() // 0 when the field is not set yet
	got, err := trimScript.Run(ctx, s.rdb, []string{s.k.audit, s.k.meta}, base, n, auditPrunedField).Int()
	if err != nil {
		return 0, false, err
	}
	if got < 0 {
		return 0, true, nil
	}
	return n, n == len(items) && len(items) == pruneBatch, nil
}

// auditPruned returns the number of events pruned from the head of the log.
func auditPruned(cmd *goredis.StringCmd) int64 {
	n, _ := cmd.Int64()
	return n
}
