package leaf

import (
	"cmp"
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// SpaceService is the shared.SpaceService of a location, over its store and
// its runtimes: a leaf's, and an origin's for its own location. On an
// origin (SpaceOptions.Fleet) it also places spaces at its leaves and acts
// on the spaces of their locations by a command to their leaf, whose report
// of the result it awaits for a moment (placement.go); on a leaf
// (SpaceOptions.Origin) it asks the origin to act on the spaces of other
// locations (viaOrigin). Quotas are decided in one store transaction with
// the write they allow (spacequota.go).
type SpaceService struct {
	opts   SpaceOptions
	runner SpaceController
	log    *slog.Logger
	lists  spaceLists
	owners keyedMutex // serialises this server's creations and starts per owner
}

var _ shared.SpaceService = (*SpaceService)(nil)

// SpaceLogs keeps the logs of the spaces a server runs; *runtime.Manager is
// one.
type SpaceLogs interface {
	// Logs returns the log of the space, oldest line first.
	Logs(spaceID string) []runtime.LogEntry
	// Follow returns the log as Logs does and a channel of the lines that
	// follow, closed after cancel or when the log ends.
	Follow(spaceID string) (lines []runtime.LogEntry, next <-chan runtime.LogEntry, cancel func())
}

var _ SpaceLogs = (*runtime.Manager)(nil)

// SpaceOptions configures a SpaceService.
type SpaceOptions struct {
	// Store holds the spaces and the replica (or, on an origin, the
	// records) of their owners and templates. Required.
	Store storage.Store
	// Location is the location whose spaces this server runs. Required.
	Location string
	// Runner starts, stops and deletes the spaces of Location; nil means a
	// runtime.Manager without runtimes, which runs the spaces of manual
	// templates and refuses the others with EUNAVAILABLE.
	Runner SpaceController
	// Logs keeps the logs of the spaces of Location; nil means Logs answers
	// ENOTFOUND.
	Logs SpaceLogs
	// Runtimes names the runtimes Runner drives, for placing spaces of
	// location "auto".
	Runtimes []string
	// Fleet makes this the space service of an origin, which acts on the
	// spaces of its leaves' locations through it; nil means there are none.
	Fleet Fleet
	// Uplink makes this the space service of a leaf: it carries out the
	// commands the origin sends down the uplink, and the spaces of other
	// locations are the origin's to act on.
	Uplink *Uplink
	// Origin is, on a leaf, the way to the origin, at which a start, stop
	// or delete of a space of another location is made (the origin asks
	// that location's leaf); nil means such a space cannot be acted on.
	Origin *Origin
	// Far returns, on a leaf, what a user's spaces at every other location
	// use, as the origin answers; nil, or an error, counts the spaces the
	// store holds.
	Far func(ctx context.Context, userID string) (api.LeafUsage, error)
	// Sealer seals the SSH host keys of new spaces (server.encrypt);
	// nil means they are stored in clear.
	Sealer *crypt.Sealer
	// Audit is the server's audit log. The service records in it the
	// creation, update, start, stop and deletion of a space by the actor
	// in the context, from its caller (shared.CallerFrom), on the server
	// that makes them: on an origin also those it commands a leaf to
	// make, and on a leaf not those it asks the origin to make. NewLocal
	// records the uses of the ways into spaces in it too. nil records
	// none.
	Audit shared.AuditService
	// Logger receives the service's log; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSpaceService returns the space service opts describe. With
// opts.Uplink it carries out the uplink's commands.
func NewSpaceService(opts SpaceOptions) (*SpaceService, error) {
	if opts.Store == nil || opts.Location == "" {
		return nil, errors.New("leaf: SpaceOptions.Store and Location are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &SpaceService{opts: opts, runner: opts.Runner, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.runner == nil {
		m, err := runtime.NewManager(runtime.Options{Records: SpaceRecords{Store: opts.Store},
			Server: runtime.ServerInfo{Location: opts.Location}, Logger: s.log, Now: opts.Now})
		if err != nil {
			return nil, err
		}
		s.runner = manualRunner{m: m, store: opts.Store}
	}
	if opts.Uplink != nil {
		opts.Uplink.serveSpaces(commands{s})
	}
	return s, nil
}

func (s *SpaceService) now() time.Time { return s.opts.Now().UTC() }

// remote reports whether sp belongs to another location than this
// server's.
func (s *SpaceService) remote(sp *shared.Space) bool { return sp.Location != s.opts.Location }

// actor returns the actor of ctx when they may use spaces.
func actor(ctx context.Context) (*shared.Actor, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Can(shared.PermUseSpaces) && !a.Can(shared.PermManageSpaces) {
		return nil, forbidden("this needs the %s or %s permission", shared.PermUseSpaces, shared.PermManageSpaces)
	}
	return a, nil
}

// List implements shared.SpaceService.
func (s *SpaceService) List(ctx context.Context, f shared.SpaceFilter) (*shared.SpaceList, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	all := f.All || (f.Visible && a.Can(shared.PermManageSpaces))
	userID := cmp.Or(f.UserID, a.User.ID)
	if f.Visible {
		userID = a.User.ID
	}
	if (all || userID != a.User.ID) && !a.Can(shared.PermManageSpaces) {
		return nil, a.Needs(shared.PermManageSpaces)
	}
	v, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !all && userID != a.User.ID && v.Users[userID] == nil {
		return nil, shared.Errorf(shared.ENOTFOUND, "user %s not found", quote(userID))
	}
	if all {
		userID = ""
	}
	return s.lists.selectSpaces(v, userID, f.ListOptions)
}

// Snapshot returns every space with the users and templates, for no
// actor: the callers inside the server that count spaces.
func (s *SpaceService) Snapshot(ctx context.Context) (*shared.SpaceList, error) {
	return s.lists.get(ctx, s.opts.Store)
}

// Get implements shared.SpaceService.
func (s *SpaceService) Get(ctx context.Context, id string) (*shared.Space, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	sp, err := storage.Get[shared.Space](ctx, s.opts.Store, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND || (err == nil && sp.UserID != a.User.ID && !a.Can(shared.PermManageSpaces)) {
		return nil, shared.Errorf(shared.ENOTFOUND, "space %s not found", quote(id))
	}
	return sp, err
}

// Create implements shared.SpaceService.
func (s *SpaceService) Create(ctx context.Context, n shared.NewSpace) (*shared.CreatedSpace, error) {
	ctx = context.WithoutCancel(ctx)
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	owner, t, err := s.checkNew(ctx, a, &n)
	if err != nil {
		return nil, err
	}
	// The quota holds in the store's transaction (spacequota.go); the lock
	// keeps this server's creations for one owner from conflicting there.
	unlock := s.owners.lock("spaces/" + owner.ID)
	defer unlock()
	secret := crypt.NewToken()
	now := s.now()
	sp := &shared.Space{
		Meta:   shared.Meta{ID: uuid.NewString(), CreatedAt: now, UpdatedAt: now},
		UserID: owner.ID, TemplateID: t.ID, Name: n.Name, Description: n.Description, Location: n.Location,
		Shell: cmp.Or(n.Shell, owner.PreferredShell, "bash"), State: shared.SpaceStopped,
		TemplateHash: t.Hash, AgentTokenHash: crypt.HashToken(secret),
	}
	if sp.SSHHostKey, sp.SSHHostPublic, err = newHostKey(s.opts.Sealer); err != nil {
		return nil, err
	}
	if err := s.checkPlace(ctx, owner, nil, sp); err != nil {
		return nil, err
	}
	if s.remote(sp) {
		if err = s.checkSpaceQuota(ctx, owner, sp); err == nil {
			err = s.createRemote(ctx, sp)
		}
		if shared.ErrorCode(err) == shared.ECONFLICT {
			err = spaceNameTaken(owner, sp)
		}
	} else {
		err = s.createSpace(ctx, sp, s.scope(ctx, owner.ID))
	}
	if err != nil {
		return nil, err
	}
	s.record(ctx, "Space Create", "space "+sp.Name+" created for "+owner.Username+" at location "+sp.Location,
		map[string]string{"space_id": sp.ID, "template_id": sp.TemplateID, "space_location": sp.Location})
	return &shared.CreatedSpace{Space: sp, Owner: owner, AgentToken: secret}, nil
}

// checkNew checks what n asks for and settles its owner, template and
// location.
func (s *SpaceService) checkNew(ctx context.Context, a *shared.Actor, n *shared.NewSpace) (*shared.User, *shared.Template, error) {
	// The fields first, as they will be: no shell means the owner's.
	if err := checkSpaceFields(&shared.Space{Name: n.Name, Description: n.Description, Shell: cmp.Or(n.Shell, "bash"), State: shared.SpaceStopped}); err != nil {
		return nil, nil, err
	}
	if n.TemplateID == "" {
		return nil, nil, invalid("template_id is required")
	}
	if n.Location != "" && !shared.ValidLocation(n.Location) {
		return nil, nil, invalid("location %s is invalid: it must start with a letter or digit and hold at most 64 letters, digits, dots, dashes or underscores, or be %s followed by a username (a restricted leaf's)", quote(n.Location), shared.RestrictedLocationPrefix)
	}
	owner := a.User
	if n.UserID != "" && n.UserID != a.User.ID {
		if !a.Can(shared.PermManageSpaces) {
			return nil, nil, forbidden("creating a space for another user needs the Manage Spaces permission")
		}
		u, err := storage.Get[shared.User](ctx, s.opts.Store, n.UserID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return nil, nil, invalid("user_id: user %s does not exist", quote(n.UserID))
		}
		if err != nil {
			return nil, nil, err
		}
		owner = u
	}
	if !owner.Active {
		return nil, nil, invalid("user_id: user %s is not active", quote(owner.Username))
	}
	t, err := s.template(ctx, owner, n.TemplateID)
	if err != nil {
		return nil, nil, err
	}
	if n.Location, err = s.location(ctx, n.Location, t); err != nil {
		return nil, nil, err
	}
	return owner, t, nil
}

// Update implements shared.SpaceService.
func (s *SpaceService) Update(ctx context.Context, id string, upd shared.SpaceUpdate) (*shared.Space, error) {
	ctx = context.WithoutCancel(ctx)
	cur, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.remote(cur) {
		return nil, shared.Errorf(shared.ECONFLICT, "space %s belongs to location %s, whose leaf owns its record: change it at that leaf", quote(cur.Name), quote(cur.Location))
	}
	if err := checkUpdate(upd); err != nil {
		return nil, err
	}
	sp, err := s.update(ctx, id, func(sp *shared.Space) error {
		if upd.Name != nil && *upd.Name != sp.Name && sp.Deployed() {
			return shared.Errorf(shared.ELOCKED, "space %s is %s: stop it before renaming it", quote(sp.Name), sp.State)
		}
		setIf(&sp.Name, upd.Name)
		setIf(&sp.Description, upd.Description)
		setIf(&sp.Shell, upd.Shell)
		sp.UpdatedAt = s.now()
		return nil
	})
	if shared.ErrorCode(err) == shared.ECONFLICT && upd.Name != nil {
		return nil, shared.Errorf(shared.ECONFLICT, "this user already has a space named %s at location %s", quote(*upd.Name), quote(cur.Location))
	}
	return s.recorded(ctx, "Space Update", sp, err)
}

func checkUpdate(upd shared.SpaceUpdate) error {
	if upd.Name != nil {
		if err := checkName("name", *upd.Name); err != nil {
			return err
		}
	}
	if upd.Description != nil {
		if err := checkText("description", *upd.Description, 4096); err != nil {
			return err
		}
	}
	if upd.Shell != nil && !shared.ValidShell(*upd.Shell) {
		return invalid("shell %s is not one of bash, zsh, fish, sh", quote(*upd.Shell))
	}
	return nil
}

// update changes the space id that the actor of ctx may see with change
// and writes it, again when it changed meanwhile.
func (s *SpaceService) update(ctx context.Context, id string, change func(*shared.Space) error) (*shared.Space, error) {
	for attempt := 0; ; attempt++ {
		sp, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(sp); err != nil {
			return nil, err
		}
		err = s.opts.Store.Put(ctx, sp)
		if err == nil {
			return sp, nil
		}
		if shared.ErrorCode(err) != shared.ECONFLICT || attempt >= 4 {
			return nil, err
		}
		// A conflict is either a unique key held by another record or a
		// concurrent write to this one; only the latter is worth a retry.
		cur, gerr := s.Get(ctx, id)
		if gerr != nil {
			return nil, gerr
		}
		if cur.GetRevision() == sp.GetRevision() {
			return nil, err
		}
	}
}

// Delete implements shared.SpaceService.
func (s *SpaceService) Delete(ctx context.Context, id string) (*shared.Space, error) {
	if sp, ok, err := s.viaOrigin(ctx, id, wire.ActionDelete); ok {
		return sp, err
	}
	ctx = context.WithoutCancel(ctx)
	sp, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.recorded(ctx, "Space Delete", sp, s.act(ctx, sp, wire.ActionDelete))
}

// Purge deletes sp as Delete does, for no actor: the deletion of its
// owner, which the user service judged.
func (s *SpaceService) Purge(ctx context.Context, sp *shared.Space) error {
	return s.act(context.WithoutCancel(ctx), sp, wire.ActionDelete)
}

// Start implements shared.SpaceService.
func (s *SpaceService) Start(ctx context.Context, id string) (*shared.Space, error) {
	if sp, ok, err := s.viaOrigin(ctx, id, wire.ActionStart); ok {
		return sp, err
	}
	ctx = context.WithoutCancel(ctx)
	sp, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.remote(sp) {
		// Its leaf writes its record: the quota is checked before the
		// command.
		if !sp.Deployed() {
			if err := s.checkComputeQuota(ctx, sp); err != nil {
				return nil, err
			}
		}
		return s.after(ctx, "Space Start", sp, s.act(ctx, sp, wire.ActionStart))
	}
	scope := s.scope(ctx, sp.UserID)
	unlock := s.owners.lock("spaces/" + sp.UserID)
	before, claimed, err := s.claimStart(ctx, sp.ID, scope)
	unlock()
	if err != nil {
		return nil, err
	}
	err = s.act(ctx, sp, wire.ActionStart)
	if err != nil && claimed != nil {
		if rerr := s.releaseStart(ctx, before, claimed); rerr != nil {
			s.log.ErrorContext(ctx, "giving back the compute units of a failed start failed", "space", sp.ID, "err", rerr)
		}
	}
	return s.after(ctx, "Space Start", sp, err)
}

// Stop implements shared.SpaceService.
func (s *SpaceService) Stop(ctx context.Context, id string) (*shared.Space, error) {
	if sp, ok, err := s.viaOrigin(ctx, id, wire.ActionStop); ok {
		return sp, err
	}
	ctx = context.WithoutCancel(ctx)
	sp, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.after(ctx, "Space Stop", sp, s.act(ctx, sp, wire.ActionStop))
}

// spaceEvents are the details of the audit events of the writes of a
// space after its name.
var spaceEvents = map[string]string{"Space Update": "updated", "Space Delete": "deleted", "Space Start": "started", "Space Stop": "stopped"}

// recorded records event (one of spaceEvents) of sp when err is nil, and
// returns sp and err.
func (s *SpaceService) recorded(ctx context.Context, event string, sp *shared.Space, err error) (*shared.Space, error) {
	if err == nil {
		s.record(ctx, event, "space "+sp.Name+" "+spaceEvents[event], map[string]string{"space_id": sp.ID})
	}
	return sp, err
}

// record records the event of a write of a space by the actor in ctx, from
// the caller in ctx. A write this leaf asks the origin to make (viaOrigin)
// is recorded there, not here.
func (s *SpaceService) record(ctx context.Context, event, details string, props map[string]string) {
	record(ctx, s.opts.Audit, s.log, shared.CallerFrom(ctx), &shared.AuditEvent{Event: event, Details: details, Properties: props})
}

// after returns the space sp as it is after an action that returned err,
// or, when it is gone, sp without a state, and records event of it when
// that succeeded.
func (s *SpaceService) after(ctx context.Context, event string, sp *shared.Space, err error) (*shared.Space, error) {
	if err != nil {
		return nil, err
	}
	cur, err := storage.Get[shared.Space](ctx, s.opts.Store, sp.ID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		gone := *sp
		gone.State, gone.Reason = "", ""
		cur, err = &gone, nil
	}
	return s.recorded(ctx, event, cur, err)
}

// viaOrigin makes action on the space id at the origin, which asks the
// leaf of the space's location, when this is a leaf (SpaceOptions.Origin)
// and the space belongs to another location; it reports whether it did.
// The space comes back with the state the origin answered with.
func (s *SpaceService) viaOrigin(ctx context.Context, id, action string) (*shared.Space, bool, error) {
	if s.opts.Origin == nil {
		return nil, false, nil
	}
	sp, err := s.Get(ctx, id)
	if err != nil || !s.remote(sp) {
		return nil, err != nil, err
	}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.SpaceAction, error) {
		switch action {
		case wire.ActionStart:
			return c.Spaces().Start(ctx, sp.ID)
		case wire.ActionStop:
			return c.Spaces().Stop(ctx, sp.ID)
		}
		return &api.SpaceAction{}, c.Spaces().Delete(ctx, sp.ID)
	})
	if err != nil {
		return nil, true, err
	}
	sp.State, sp.Reason = got.State, got.Reason
	return sp, true, nil
}

// Logs implements shared.SpaceService.
func (s *SpaceService) Logs(ctx context.Context, id string, follow bool) ([]shared.SpaceLogEntry, <-chan shared.SpaceLogEntry, func(), error) {
	sp, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.remote(sp) {
		return nil, nil, nil, shared.Errorf(shared.ECONFLICT, "space %s runs at location %s, which keeps its logs: read them at that location's server", quote(sp.Name), quote(sp.Location))
	}
	if s.opts.Logs == nil {
		return nil, nil, nil, shared.Errorf(shared.ENOTFOUND, "this server keeps no space logs")
	}
	if !follow {
		return s.opts.Logs.Logs(sp.ID), nil, func() {}, nil
	}
	lines, next, cancel := s.opts.Logs.Follow(sp.ID)
	return lines, next, cancel, nil
}

// keyedMutex serializes work per key with a fixed set of stripes.
type keyedMutex struct {
	stripes [64]sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	m.Lock()
	return m.Unlock
}
