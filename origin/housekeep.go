package origin

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
)

// HousekeepingOptions configures Housekeep.
type HousekeepingOptions struct {
	// Auth deletes the expired sessions. Required.
	Auth shared.AuthService
	// Audit deletes the events past AuditRetention. Required.
	Audit shared.AuditService
	// AuditRetention is how long audit events are kept
	// (server.audit_retention); 0 keeps them forever.
	AuditRetention time.Duration
	// AuditPruneEvery is how often the audit log is pruned; 0 means an
	// hour.
	AuditPruneEvery time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives what fails; nil means slog.Default().
	Logger *slog.Logger
}

// sessionSweepEvery is how often expired sessions are deleted.
const sessionSweepEvery = 10 * time.Minute

// Housekeep deletes what a server keeps past its time until ctx ends: the
// expired sessions every ten minutes and, with a retention, the audit
// events older than it, at once and then every AuditPruneEvery. It
// returns nil when ctx ends; a failure is logged and tried again later.
func Housekeep(ctx context.Context, opts HousekeepingOptions) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AuditPruneEvery <= 0 {
		opts.AuditPruneEvery = time.Hour
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		shared.Every(ctx, sessionSweepEvery, false, func() {
			if err := opts.Auth.SweepSessions(ctx); err != nil && ctx.Err() == nil {
				opts.Logger.Error("sweep sessions", "err", err)
			}
		})
	})
	if opts.AuditRetention > 0 {
		wg.Go(func() {
			shared.Every(ctx, opts.AuditPruneEvery, true, func() {
				cut := opts.Now().Add(-opts.AuditRetention)
				n, err := opts.Audit.Prune(ctx, cut)
				switch {
				case err != nil && ctx.Err() == nil:
					opts.Logger.Error("prune the audit log", "before", cut, "err", err)
				case n > 0:
					opts.Logger.Info("pruned the audit log", "deleted", n, "before", cut)
				}
			})
		})
	}
	wg.Wait()
	return nil
}
