package origin

import (
	"context"
	"log/slog"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// The services of an origin or a standalone server, made here for the
// HTTP server (package web), which calls them and never the store. The
// space service of the server's own location is package leaf's (an
// origin runs its location as a leaf does); the caller makes it over the
// same observed store and hands it in (ServicesOptions.Spaces).

// Observe returns st observed for an origin or a standalone server: hub
// (nil for a standalone server) hears of every write of what its feed
// carries, and the store's failures are counted for /metrics.
func Observe(st storage.Store, hub *Hub) *storage.Observed {
	return storage.Observe(st, func(k shared.Kind) {
		if hub != nil && k.Replicated() {
			hub.Notify()
		}
	})
}

// Spaces is the space service of a server's own location as the origin's
// services use it (leaf.SpaceService is one): the user service deletes a
// deleted user's spaces through it; the template and fleet services count
// spaces from its snapshot.
type Spaces interface {
	// Snapshot returns every space with its owners and templates.
	Snapshot(ctx context.Context) (*shared.SpaceList, error)
	// Purge deletes a space wherever it runs, whoever asks.
	Purge(ctx context.Context, sp *shared.Space) error
}

// ServicesOptions configures NewServices.
type ServicesOptions struct {
	// Location is the server's own location. Required.
	Location string
	// Hub is an origin's hub, whose leaves the fleet service lists; nil
	// means a standalone server.
	Hub *Hub
	// Spaces is the space service of the server's own location. Required.
	Spaces Spaces
	// Audit is the server's audit log (NewAuditService over the same
	// store), in which the services record their writes. Required.
	Audit shared.AuditService
	// Auth is the server's auth service (NewAuthService over the same
	// store, AuthOptions.Audit from RecordAudit). Required. The user
	// service checks current passwords under the logins of an
	// *AuthService.
	Auth shared.AuthService
	// Validate checks a template before it is stored
	// (TemplateOptions.Validate).
	Validate func(*shared.Template) error
	// Sealer seals protected template variables (server.encrypt); nil
	// means they cannot be created.
	Sealer *crypt.Sealer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NewServices returns the services of an origin or a standalone server
// over st, which Observe made: users, API tokens, groups, roles,
// templates, variables and the fleet, with the audit log and the logins
// of opts.
func NewServices(st storage.Store, opts ServicesOptions) shared.Services {
	so := ServiceOptions{Now: opts.Now, Audit: RecordAudit(opts.Audit, nil)}
	spaces := func(ctx context.Context) ([]*shared.Space, error) {
		l, err := opts.Spaces.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return l.Spaces, nil
	}
	usage := func(ctx context.Context, userID string, keep func(*shared.Space) bool) (shared.Usage, error) {
		l, err := opts.Spaces.Snapshot(ctx)
		if err != nil {
			return shared.Usage{}, err
		}
		return shared.CountUsage(l.Spaces, l.Templates, userID, keep), nil
	}
	// A deleted user's spaces go with them; one already gone is no error.
	purge := func(ctx context.Context, sp *shared.Space) error {
		if err := opts.Spaces.Purge(ctx, sp); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
			return err
		}
		return nil
	}
	users := NewUserService(st, ServiceOptions{Now: opts.Now, Records: opts.Spaces.Snapshot, Audit: so.Audit}, purge)
	if a, ok := opts.Auth.(*AuthService); ok {
		users.logins = a.opts.Logins // one server's password checks share the limits
	}
	return shared.Services{
		Users:     users,
		Tokens:    NewTokenService(st, so),
		Auth:      opts.Auth,
		Groups:    NewGroupService(st, so),
		Roles:     NewRoleService(st, so),
		Templates: NewTemplateService(st, TemplateOptions{ServiceOptions: so, Validate: opts.Validate, Spaces: spaces}),
		Variables: NewVariableService(st, opts.Sealer, so),
		Audit:     opts.Audit,
		Fleet:     NewFleetService(opts.Hub, FleetOptions{Usage: usage, Location: opts.Location, Spaces: spaces, Now: opts.Now, Audit: so.Audit}),
	}
}

// RecordAudit returns the AuthOptions.Audit that records an event in
// audit with the caller in its context (shared.CallerFrom); a failure to
// record goes to log, as the login it describes has happened.
func RecordAudit(audit shared.AuditService, log *slog.Logger) func(ctx context.Context, ev *shared.AuditEvent) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev *shared.AuditEvent) {
		ev.Properties = shared.CallerProps(shared.CallerFrom(ctx), ev.Properties)
		if err := audit.Record(ctx, ev); err != nil {
			log.ErrorContext(ctx, "append audit event", "event", ev.Event, "err", err)
		}
	}
}
