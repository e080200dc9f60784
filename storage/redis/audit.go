package redis

import (
	"context"
	"encoding/json"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// AppendAudit stores ev and sets its ID; see storage.Store. RPUSH returns
// the new length of the list, which with the count of pruned events (read
// in the same MULTI) is the event's id; the JSON in the list leaves the id
// out.
func (s *Store) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	data, err := driver.EncodeAudit(ev)
	if err != nil {
		return err
	}
	var length *goredis.IntCmd
	var pruned *goredis.StringCmd
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		length = p.RPush(ctx, s.k.audit, data)
		pruned = p.HGet(ctx, s.k.meta, auditPrunedField)
		return nil
	})
	if err != nil && err != goredis.Nil {
		return s.fail(err, "append an audit event")
	}
	ev.ID = auditPruned(pruned) + length.Val()
	return nil
}

// ListAudit returns events newest first; see storage.Store. The length and
// the page come from one MULTI, so they agree. Negative indexes count from
// the end of the list, where the newest event is.
func (s *Store) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, 0, err
	}
	defer s.life.Exit()
	offset = max(offset, 0)
	start := int64(0) // the oldest event of the page
	if limit > 0 {
		start = -int64(offset + limit)
	}
	var length *goredis.IntCmd
	var page *goredis.StringSliceCmd
	var pruned *goredis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		length = p.LLen(ctx, s.k.audit)
		page = p.LRange(ctx, s.k.audit, start, -int64(offset)-1)
		pruned = p.HGet(ctx, s.k.meta, auditPrunedField)
		return nil
	})
	if err != nil && err != goredis.Nil {
		return nil, 0, s.fail(err, "list the audit log")
	}
	total := int(length.Val())
	items := page.Val()
	// The newest event has id pruned + total, and the page ends offset
	// events before it.
	first := int(auditPruned(pruned)) + total - offset - len(items) + 1
	out := make([]shared.AuditEvent, 0, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		var ev shared.AuditEvent
		if err := json.Unmarshal([]byte(items[i]), &ev); err != nil {
			return nil, 0, shared.Wrap(shared.EINTERNAL, err, "redis: audit event %d of the store %q is corrupt", first+i, s.k.prefix)
		}
		ev.ID = int64(first + i)
		out = append(out, ev)
	}
	return out, total, nil
}
