package leaf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// spaceBed is a space service over a memory store holding users and
// templates, with the audit log of a server over that store.
type spaceBed struct {
	t     *testing.T
	store *memory.Store
	svc   *leaf.SpaceService
}

func newSpaceBed(t *testing.T, opts leaf.SpaceOptions) *spaceBed {
	t.Helper()
	b := &spaceBed{t: t, store: memory.New()}
	opts.Store = b.store
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Location == "" {
		opts.Location = "home"
	}
	opts.Audit = origin.NewAuditService(b.store, opts.Location, origin.ServiceOptions{})
	svc, err := leaf.NewSpaceService(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.svc = svc
	return b
}

func (b *spaceBed) put(recs ...shared.Record) {
	b.t.Helper()
	for _, r := range recs {
		if err := b.store.Put(context.Background(), r); err != nil {
			b.t.Fatal(err)
		}
	}
}

// user stores an active user and returns the context of their actor.
func (b *spaceBed) user(name string, perms ...shared.Permission) (*shared.User, context.Context) {
	u := &shared.User{Meta: shared.Meta{ID: "u-" + name}, Username: name, Email: name + "@example.com", Active: true}
	b.put(u)
	perms = append(perms, shared.PermUseSpaces)
	return u, shared.NewContextWithActor(context.Background(), shared.NewActor(u, shared.PermissionsOf(perms)))
}

func (b *spaceBed) template(name string, kind shared.TemplateKind, units int) *shared.Template {
	t := &shared.Template{Meta: shared.Meta{ID: "t-" + name}, Name: name, Kind: kind, ComputeUnits: units}
	t.Hash = t.ComputeHash()
	b.put(t)
	return t
}

func (b *spaceBed) space(ctx context.Context, name string, t *shared.Template) *shared.Space {
	b.t.Helper()
	c, err := b.svc.Create(ctx, shared.NewSpace{Name: name, TemplateID: t.ID})
	if err != nil {
		b.t.Fatalf("create %s: %v", name, err)
	}
	return c.Space
}

func (b *spaceBed) stored(id string) *shared.Space {
	b.t.Helper()
	sp, err := storage.Get[shared.Space](context.Background(), b.store, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return sp
}

// A space is its owner's, and a holder of Manage Spaces'; to anyone else
// it does not exist, and listing others' spaces needs Manage Spaces.
func TestSpaceServiceShowsSpacesToOwnersAndManagers(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	_, ann := b.user("ann")
	_, bob := b.user("bob")
	_, admin := b.user("admin", shared.PermManageSpaces)
	sp := b.space(ann, "dev", b.template("box", shared.TemplateManual, 0))

	if got, err := b.svc.Get(ann, sp.ID); err != nil || got.Name != "dev" {
		t.Fatalf("owner's Get = %v, %v", got, err)
	}
	_, err := b.svc.Get(bob, sp.ID)
	wantCode(t, err, shared.ENOTFOUND)
	if _, err := b.svc.Get(admin, sp.ID); err != nil {
		t.Fatalf("manager's Get: %v", err)
	}
	_, err = b.svc.Get(context.Background(), sp.ID)
	wantCode(t, err, shared.EUNAUTHORIZED)

	if l, err := b.svc.List(bob, shared.SpaceFilter{}); err != nil || len(l.Spaces) != 0 {
		t.Fatalf("bob's own list = %v, %v", l, err)
	}
	_, err = b.svc.List(bob, shared.SpaceFilter{All: true})
	wantCode(t, err, shared.EFORBIDDEN)
	_, err = b.svc.List(bob, shared.SpaceFilter{UserID: "u-ann"})
	wantCode(t, err, shared.EFORBIDDEN)
	_, err = b.svc.List(admin, shared.SpaceFilter{UserID: "u-nobody"})
	wantCode(t, err, shared.ENOTFOUND)
	if l, err := b.svc.List(admin, shared.SpaceFilter{UserID: "u-ann"}); err != nil || len(l.Spaces) != 1 || l.Users["u-ann"].Username != "ann" {
		t.Fatalf("ann's spaces for the manager = %+v, %v", l, err)
	}
	if l, err := b.svc.List(bob, shared.SpaceFilter{Visible: true}); err != nil || len(l.Spaces) != 0 {
		t.Fatalf("what bob sees = %+v, %v", l, err)
	}
	if l, err := b.svc.List(admin, shared.SpaceFilter{Visible: true}); err != nil || len(l.Spaces) != 1 {
		t.Fatalf("what the manager sees = %+v, %v", l, err)
	}
}

// Create refuses what POST /api/spaces refuses, with the coded errors its
// doc lists.
func TestSpaceServiceCreateRules(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	annU, ann := b.user("ann")
	annU.MaxSpaces = 1
	b.put(annU)
	_, bob := b.user("bob")
	box := b.template("box", shared.TemplateManual, 0)
	locked := &shared.Template{Meta: shared.Meta{ID: "t-locked"}, Name: "locked", Kind: shared.TemplateManual, Groups: []string{"g-x"}}
	b.put(locked)

	for _, c := range []struct {
		name string
		ctx  context.Context
		n    shared.NewSpace
		code string
	}{
		{"bad name", ann, shared.NewSpace{Name: "-x", TemplateID: box.ID}, shared.EINVALID},
		{"bad shell", ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Shell: "csh"}, shared.EINVALID},
		{"no template", ann, shared.NewSpace{Name: "dev"}, shared.EINVALID},
		{"unknown template", ann, shared.NewSpace{Name: "dev", TemplateID: "t-none"}, shared.EINVALID},
		{"template of other groups", ann, shared.NewSpace{Name: "dev", TemplateID: locked.ID}, shared.EFORBIDDEN},
		{"for another user", bob, shared.NewSpace{Name: "dev", TemplateID: box.ID, UserID: "u-ann"}, shared.EFORBIDDEN},
		{"another location, no leaves", ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Location: "far"}, shared.EINVALID},
	} {
		_, err := b.svc.Create(c.ctx, c.n)
		if shared.ErrorCode(err) != c.code {
			t.Errorf("%s: error %v, want code %s", c.name, err, c.code)
		}
	}
	c, err := b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID})
	if err != nil || c.Owner.ID != "u-ann" || c.AgentToken == "" || c.Space.Shell != "bash" || c.Space.State != shared.SpaceStopped {
		t.Fatalf("Create = %+v, %v", c, err)
	}
	_, err = b.svc.Create(ann, shared.NewSpace{Name: "two", TemplateID: box.ID})
	wantCode(t, err, shared.EQUOTA)
	_, err = b.svc.Create(bob, shared.NewSpace{Name: "dev", TemplateID: box.ID})
	if err != nil {
		t.Fatalf("bob's dev: %v", err)
	}
	_, err = b.svc.Create(bob, shared.NewSpace{Name: "DEV", TemplateID: box.ID})
	wantCode(t, err, shared.ECONFLICT)
}

// Without runtimes the service runs manual spaces and refuses the others
// with EUNAVAILABLE, leaving them as they were.
func TestSpaceServiceWithoutRuntimesRunsManualSpaces(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	_, ann := b.user("ann")
	ms := b.space(ann, "manual", b.template("byhand", shared.TemplateManual, 0))
	cs := b.space(ann, "boxed", b.template("box", shared.TemplateContainer, 0))

	if sp, err := b.svc.Start(ann, ms.ID); err != nil || sp.State != shared.SpaceRunning {
		t.Fatalf("Start manual = %+v, %v", sp, err)
	}
	if sp, err := b.svc.Stop(ann, ms.ID); err != nil || sp.State != shared.SpaceStopped {
		t.Fatalf("Stop manual = %+v, %v", sp, err)
	}
	for _, act := range []func(context.Context, string) (*shared.Space, error){b.svc.Start, b.svc.Stop, b.svc.Delete} {
		_, err := act(ann, cs.ID)
		wantCode(t, err, shared.EUNAVAILABLE)
		if !strings.Contains(shared.ErrorMessage(err), "no runtime is configured for container templates on this server") {
			t.Fatalf("message %q", shared.ErrorMessage(err))
		}
	}
	if got := b.stored(cs.ID); got.State != shared.SpaceStopped || got.Reason != "" {
		t.Fatalf("the container space became %s (%s)", got.State, got.Reason)
	}
	if _, err := b.svc.Delete(ann, ms.ID); err != nil {
		t.Fatal(err)
	}
	_, err := b.svc.Get(ann, ms.ID)
	wantCode(t, err, shared.ENOTFOUND)
}

// failingRunner fails every start without recording anything.
type failingRunner struct{}

func (failingRunner) Start(context.Context, string) error {
	return shared.Errorf(shared.EUNAVAILABLE, "docker is not answering")
}
func (failingRunner) Stop(context.Context, string) error   { return nil }
func (failingRunner) Delete(context.Context, string) error { return nil }

// A start claims its compute units in the store; one that its runner fails
// gives them back, and one past the quota is refused.
func TestSpaceServiceStartClaimsComputeUnits(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{Runner: failingRunner{}})
	annU, ann := b.user("ann")
	annU.ComputeUnits = 3
	b.put(annU)
	heavy := b.template("heavy", shared.TemplateManual, 3)
	a, c := b.space(ann, "aa", heavy), b.space(ann, "cc", heavy)

	_, err := b.svc.Start(ann, a.ID)
	wantCode(t, err, shared.EUNAVAILABLE)
	if got := b.stored(a.ID); got.State != shared.SpaceStopped {
		t.Fatalf("after a failed start the space is %s", got.State)
	}
	// The units are free again: the other space's start is judged on them.
	running := b.stored(c.ID)
	running.State = shared.SpaceRunning
	b.put(running)
	_, err = b.svc.Start(ann, a.ID)
	wantCode(t, err, shared.EQUOTA)
}

// A deployed space keeps its name, and an update of a field sets it alone.
func TestSpaceServiceUpdate(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	_, ann := b.user("ann")
	sp := b.space(ann, "dev", b.template("box", shared.TemplateManual, 0))
	desc, name, shell := "mine", "work", "zsh"
	got, err := b.svc.Update(ann, sp.ID, shared.SpaceUpdate{Description: &desc, Shell: &shell})
	if err != nil || got.Description != desc || got.Shell != shell || got.Name != "dev" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	bad := "bad--name"
	_, err = b.svc.Update(ann, sp.ID, shared.SpaceUpdate{Name: &bad})
	wantCode(t, err, shared.EINVALID)
	if _, err := b.svc.Start(ann, sp.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Update(ann, sp.ID, shared.SpaceUpdate{Name: &name})
	wantCode(t, err, shared.ELOCKED)
}

// fakeFleet is an origin's fleet of one connected leaf, which carries out
// creates and starts and reports them into store at once.
type fakeFleet struct {
	store storage.Store
	mu    sync.Mutex
	cmds  []wire.Command
	down  bool // the leaf is known but not connected
}

func (f *fakeFleet) Leaves() []shared.LeafNode {
	return []shared.LeafNode{{Location: "away", Connected: !f.down, Protocol: 2, Runtimes: []string{"docker"}}}
}

func (f *fakeFleet) Linked(location string) bool { return location == "away" && !f.down }

func (f *fakeFleet) Command(ctx context.Context, location string, cmd wire.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	switch cmd.Action {
	case wire.ActionCreate:
		sp := new(shared.Space)
		if err := json.Unmarshal(cmd.Space, sp); err != nil {
			return err
		}
		return f.store.Put(ctx, sp)
	case wire.ActionStart:
		sp, err := storage.Get[shared.Space](ctx, f.store, cmd.SpaceID)
		if err != nil {
			return err
		}
		sp.State = shared.SpaceRunning
		return f.store.Put(ctx, sp)
	}
	return nil
}

// On an origin, a space of location "auto" goes to a location that runs
// its template's kind, and the origin asks that location's leaf to create
// and start it.
func TestSpaceServicePlacesAtLeavesAndCommandsThem(t *testing.T) {
	fleet := &fakeFleet{}
	b := newSpaceBed(t, leaf.SpaceOptions{Fleet: fleet})
	fleet.store = b.store
	_, ann := b.user("ann")
	box := b.template("box", shared.TemplateContainer, 0)
	c, err := b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Location: "auto"})
	if err != nil || c.Space.Location != "away" {
		t.Fatalf("Create auto = %+v, %v", c, err)
	}
	if sp, err := b.svc.Start(ann, c.Space.ID); err != nil || sp.State != shared.SpaceRunning {
		t.Fatalf("Start = %+v, %v", sp, err)
	}
	fleet.mu.Lock()
	defer fleet.mu.Unlock()
	if len(fleet.cmds) != 2 || fleet.cmds[0].Action != wire.ActionCreate || fleet.cmds[1].Action != wire.ActionStart {
		t.Fatalf("commands %+v", fleet.cmds)
	}
	var sent shared.Space
	if err := json.Unmarshal(fleet.cmds[0].Space, &sent); err != nil || sent.Name != "dev" || sent.UserID != "u-ann" {
		t.Fatalf("created %+v, %v", sent, err)
	}
}

// On an origin, a space at a location no leaf has ever had is refused as
// unknown, naming the known ones; at a known location whose leaf is away,
// it is refused until the leaf is back.
func TestSpaceServiceRefusesUnknownLocations(t *testing.T) {
	fleet := &fakeFleet{down: true}
	b := newSpaceBed(t, leaf.SpaceOptions{Fleet: fleet})
	fleet.store = b.store
	_, ann := b.user("ann")
	box := b.template("box", shared.TemplateContainer, 0)
	_, err := b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Location: "awya"})
	if shared.ErrorCode(err) != shared.EINVALID ||
		shared.ErrorMessage(err) != `location: no leaf of location "awya" has ever connected to this origin; known: away, home` {
		t.Fatalf("Create at an unknown location = %v, want it refused as unknown", err)
	}
	_, err = b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Location: "away"})
	if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(shared.ErrorMessage(err), `whose leaf is not connected to this origin`) {
		t.Fatalf("Create at a known location whose leaf is away = %v", err)
	}
	if got, err := b.svc.Locations(context.Background()); err != nil || strings.Join(got, ",") != "away,home" {
		t.Fatalf("Locations = %q, %v", got, err)
	}
	// A location with a leaf token issued is known before its leaf first
	// connects: its spaces wait for the leaf, not for a new name.
	if err := b.store.Put(context.Background(), &shared.LeafToken{Meta: shared.Meta{ID: "lt-edge"}, Location: "edge", Name: "rack"}); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID, Location: "edge"})
	if shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("Create at a location with a leaf token, whose leaf has not connected yet = %v", err)
	}
	if got, err := b.svc.Locations(context.Background()); err != nil || strings.Join(got, ",") != "away,edge,home" {
		t.Fatalf("Locations with a leaf token of edge = %q, %v", got, err)
	}
}

// Spaces that tie on the sort key (the same template, state, location or
// owner) come by name, so that a page is the same each time.
func TestSpaceListBreaksTiesByName(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	ann, ctx := b.user("ann", shared.PermManageSpaces)
	box := b.template("box", shared.TemplateManual, 0)
	names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	for i, n := range names {
		// Ids in the other order than the names: the store's order.
		b.put(&shared.Space{Meta: shared.Meta{ID: fmt.Sprintf("s-%d", len(names)-i)}, UserID: ann.ID, TemplateID: box.ID,
			Name: n, Location: "home", Shell: "bash", State: shared.SpaceStopped, TemplateHash: box.Hash})
	}
	for _, key := range []string{"template", "state", "location", "owner", "created"} {
		l, err := b.svc.List(ctx, shared.SpaceFilter{All: true, ListOptions: shared.ListOptions{Sort: key}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sp := range l.Spaces {
			got = append(got, sp.Name)
		}
		if !slices.Equal(got, names) {
			t.Errorf("sorted by %s: %q, want the ties by name", key, got)
		}
	}
}
