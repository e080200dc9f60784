package web

import (
	"context"
	"time"
)

// defaultAuditPruneEvery is how often audit events past their retention are
// deleted.
const defaultAuditPruneEvery = time.Hour

// pruneAudit has the audit service delete the events older than the
// retention, at once and then every s.auditPruneEvery, until ctx ends. It
// does nothing when the retention is 0 (keep forever).
func (s *Server) pruneAudit(ctx context.Context) {
	if s.auditRetention <= 0 {
		return
	}
	t := time.NewTicker(s.auditPruneEvery)
	defer t.Stop()
	for {
		cut := s.now().Add(-s.auditRetention)
		n, err := s.audits.Prune(ctx, cut)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("prune the audit log", "before", cut, "err", err)
		case n > 0:
			s.log.Info("pruned the audit log", "deleted", n, "before", cut)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
