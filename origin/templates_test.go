package origin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
)

func TestTemplateService(t *testing.T) {
	store := memory.New()
	ctx := context.Background()
	svc := origin.NewTemplateService(store, origin.TemplateOptions{ServiceOptions: serviceOpts()})
	manager := actorCtx([]shared.Permission{shared.PermManageTemplates}, false)
	plain := actorCtx([]shared.Permission{shared.PermUseSpaces}, false)
	devs := &shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "devs"}
	if err := store.Put(ctx, devs); err != nil {
		t.Fatal(err)
	}

	open := &shared.Template{Name: "open", Kind: shared.TemplateManual}
	if err := svc.Create(manager, open); err != nil {
		t.Fatal(err)
	}
	closed := &shared.Template{Name: "debian", Kind: shared.TemplateContainer, Spec: "image: debian:12\n",
		Groups: []string{"g1", "g1"}, Locations: []string{"home", "home"}, ComputeUnits: 2}
	if err := svc.Create(manager, closed); err != nil {
		t.Fatal(err)
	}
	if closed.ID == "" || closed.Hash != closed.ComputeHash() || !closed.CreatedAt.Equal(serviceOpts().Now()) ||
		len(closed.Groups) != 1 || len(closed.Locations) != 1 {
		t.Fatalf("created template = %+v: no id, a wrong hash or timestamp, or repeated groups and locations", closed)
	}

	t.Run("ErrNoActor", func(t *testing.T) {
		_, err := svc.List(ctx, shared.ListOptions{})
		wantCode(t, err, shared.EUNAUTHORIZED)
		wantCode(t, svc.Create(ctx, &shared.Template{Name: "x1", Kind: shared.TemplateManual}), shared.EUNAUTHORIZED)
	})
	t.Run("ListShowsWhatTheActorMayUse", func(t *testing.T) {
		names := func(ctx context.Context) string {
			ts, err := svc.List(ctx, shared.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, u := range ts.Items {
				n = append(n, u.Name)
			}
			return strings.Join(n, ",")
		}
		if got := names(plain); got != "open" {
			t.Fatalf("a user outside the group lists %q", got)
		}
		if got := names(manager); got != "open,debian" {
			t.Fatalf("a manager lists %q, want every template in the order of creation", got)
		}
	})
	t.Run("ErrForbiddenWithoutManageTemplates", func(t *testing.T) {
		wantCode(t, svc.Create(plain, &shared.Template{Name: "mine", Kind: shared.TemplateManual}), shared.EFORBIDDEN)
		_, err := svc.Get(plain, open.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Update(plain, open.ID, shared.TemplateUpdate{Name: ptr("mine")})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Delete(plain, open.ID)
		wantCode(t, err, shared.EFORBIDDEN)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []*shared.Template{
			{Kind: shared.TemplateManual},
			{Name: "a1"},
			{Name: "a1", Kind: "vm"},
			{Name: "a--b", Kind: shared.TemplateManual},
			{Name: "a1", Kind: shared.TemplateContainer},
			{Name: "a1", Kind: shared.TemplateNomad},
			{Name: "a1", Kind: shared.TemplateContainer, Spec: "- a\n- list\n"},
			{Name: "a1", Kind: shared.TemplateContainer, Spec: "image: [unclosed"},
			{Name: "a1", Kind: shared.TemplateManual, Groups: []string{"nope"}},
			{Name: "a1", Kind: shared.TemplateManual, Locations: []string{"no place"}},
			{Name: "a1", Kind: shared.TemplateManual, ComputeUnits: -1},
			{Name: "a1", Kind: shared.TemplateManual, StorageUnits: 1_000_001},
			{Name: "a1", Kind: shared.TemplateManual, Description: "bell\a"},
		} {
			wantCode(t, svc.Create(manager, bad), shared.EINVALID)
		}
		_, err := svc.Update(manager, open.ID, shared.TemplateUpdate{Kind: ptr(shared.TemplateNomad)})
		wantCode(t, err, shared.EINVALID)
		if n := countKind(t, store, shared.KindTemplate); n != 2 {
			t.Fatalf("%d templates after invalid writes, want 2", n)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		big := strings.Repeat("a", 1<<20+1)
		wantCode(t, svc.Create(manager, &shared.Template{Name: "big", Kind: shared.TemplateNomad, Spec: big}), shared.ETOOLARGE)
	})
	t.Run("ErrConflictOnName", func(t *testing.T) {
		wantCode(t, svc.Create(manager, &shared.Template{Name: "OPEN", Kind: shared.TemplateManual}), shared.ECONFLICT)
		_, err := svc.Update(manager, closed.ID, shared.TemplateUpdate{Name: ptr("Open")})
		wantCode(t, err, shared.ECONFLICT)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := svc.Get(manager, "nope")
		wantCode(t, err, shared.ENOTFOUND)
		_, err = svc.Update(manager, "nope", shared.TemplateUpdate{Name: ptr("a--b")})
		wantCode(t, err, shared.ENOTFOUND)
		_, err = svc.Delete(manager, "nope")
		wantCode(t, err, shared.ENOTFOUND)
	})
	t.Run("UpdateSetsOnlyWhatItNamesAndTheHash", func(t *testing.T) {
		got, err := svc.Update(manager, closed.ID, shared.TemplateUpdate{Spec: ptr("image: debian:13\n")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "debian" || got.ComputeUnits != 2 || got.Hash == closed.Hash || got.Hash != got.ComputeHash() {
			t.Fatalf("updated template = %+v", got)
		}
	})
	t.Run("GetCountsTheSpaces", func(t *testing.T) {
		for i, st := range []shared.SpaceState{shared.SpaceRunning, shared.SpaceStopped} {
			sp := &shared.Space{Meta: shared.Meta{ID: "s" + string(rune('1'+i))}, Name: "work" + string(rune('a'+i)),
				UserID: "u1", TemplateID: closed.ID, State: st}
			if err := store.Put(ctx, sp); err != nil {
				t.Fatal(err)
			}
		}
		got, err := svc.Get(manager, closed.ID)
		if err != nil || got.Spaces != 2 || got.Deployed != 1 {
			t.Fatalf("Get = %+v, %v: want 2 spaces, 1 deployed", got, err)
		}
	})
	t.Run("ErrLockedWhileSpacesUseIt", func(t *testing.T) {
		_, err := svc.Delete(manager, closed.ID)
		wantCode(t, err, shared.ELOCKED)
		if !strings.Contains(shared.ErrorMessage(err), "2 spaces") {
			t.Fatalf("message %q does not count the spaces", shared.ErrorMessage(err))
		}
		for _, id := range []string{"s1", "s2"} {
			if _, err := store.Delete(ctx, shared.KindSpace, id); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := svc.Delete(manager, closed.ID); err != nil || got.Name != "debian" {
			t.Fatalf("Delete = %+v, %v", got, err)
		}
		_, err = svc.Get(manager, closed.ID)
		wantCode(t, err, shared.ENOTFOUND)
	})
}

// The runtime's check of a template decides; an error of its own is
// EINVALID with its text.
func TestTemplateServiceValidator(t *testing.T) {
	var seen *shared.Template
	svc := origin.NewTemplateService(memory.New(), origin.TemplateOptions{ServiceOptions: serviceOpts(),
		Validate: func(t *shared.Template) error {
			seen = t
			if strings.Contains(t.Spec, "forbidden") {
				return errors.New("spec: line 1: image forbidden")
			}
			return nil
		}})
	manager := actorCtx([]shared.Permission{shared.PermManageTemplates}, false)
	err := svc.Create(manager, &shared.Template{Name: "bad", Kind: shared.TemplateNomad, Spec: "forbidden"})
	wantCode(t, err, shared.EINVALID)
	if !strings.Contains(shared.ErrorMessage(err), "image forbidden") {
		t.Fatalf("message %q", shared.ErrorMessage(err))
	}
	if err := svc.Create(manager, &shared.Template{Name: "good", Kind: shared.TemplateNomad, Spec: "job \"x\" {}"}); err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.Name != "good" || seen.Hash == "" {
		t.Fatalf("the validator saw %+v", seen)
	}
}

func TestVariableService(t *testing.T) {
	sealer, err := crypt.NewSealer(crypt.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	svc := origin.NewVariableService(store, sealer, serviceOpts())
	manager := actorCtx([]shared.Permission{shared.PermManageVariables}, false)
	plain := actorCtx([]shared.Permission{shared.PermUseSpaces}, false)

	region := &shared.TemplateVar{Name: "region", Location: "home", Value: "eu-west"}
	if err := svc.Create(manager, region); err != nil {
		t.Fatal(err)
	}
	secret := &shared.TemplateVar{Name: "db_password", Value: "s3cret-value", Protected: true}
	if err := svc.Create(manager, secret); err != nil {
		t.Fatal(err)
	}
	opened := func(id string) string {
		t.Helper()
		v, err := svc.Get(manager, id)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Protected {
			return v.Value
		}
		plain, err := sealer.Open(v.Value)
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}

	t.Run("ProtectedValueIsSealed", func(t *testing.T) {
		if !crypt.IsSealed(secret.Value) || opened(secret.ID) != "s3cret-value" {
			t.Fatalf("stored value %q is not the sealed secret", secret.Value)
		}
	})
	t.Run("ErrForbiddenWithoutManageVariables", func(t *testing.T) {
		_, err := svc.List(plain, shared.ListOptions{})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Get(plain, region.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		wantCode(t, svc.Create(plain, &shared.TemplateVar{Name: "x"}), shared.EFORBIDDEN)
		_, err = svc.Update(plain, region.ID, shared.TemplateVarUpdate{Value: ptr("x")})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Delete(plain, region.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.List(context.Background(), shared.ListOptions{})
		wantCode(t, err, shared.EUNAUTHORIZED)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []*shared.TemplateVar{{}, {Name: "9x"}, {Name: "x", Location: "no place"}, {Name: "x", Value: "bell\a"}} {
			wantCode(t, svc.Create(manager, bad), shared.EINVALID)
		}
		wantCode(t, svc.Create(manager, &shared.TemplateVar{Name: "x", Value: strings.Repeat("v", shared.MaxVarValue+1)}), shared.ETOOLARGE)
	})
	t.Run("ErrInvalidToProtectWithoutAKey", func(t *testing.T) {
		keyless := origin.NewVariableService(store, nil, serviceOpts())
		err := keyless.Create(manager, &shared.TemplateVar{Name: "pw", Value: "x", Protected: true})
		wantCode(t, err, shared.EINVALID)
		if !strings.Contains(shared.ErrorMessage(err), "server.encrypt is not set") {
			t.Fatalf("message %q", shared.ErrorMessage(err))
		}
		_, err = keyless.Update(manager, region.ID, shared.TemplateVarUpdate{Protected: ptr(true)})
		wantCode(t, err, shared.EINVALID)
	})
	t.Run("UpdateWithoutValueKeepsTheSecret", func(t *testing.T) {
		got, err := svc.Update(manager, secret.ID, shared.TemplateVarUpdate{Name: ptr("db_pass")})
		if err != nil || got.Name != "db_pass" || opened(secret.ID) != "s3cret-value" {
			t.Fatalf("after a rename: %+v, %v", got, err)
		}
	})
	t.Run("UpdateWithValueSealsIt", func(t *testing.T) {
		if _, err := svc.Update(manager, secret.ID, shared.TemplateVarUpdate{Value: ptr("new-secret")}); err != nil {
			t.Fatal(err)
		}
		if got := opened(secret.ID); got != "new-secret" {
			t.Fatalf("the secret opens to %q", got)
		}
	})
	t.Run("ProtectingSealsTheValueAndUnprotectingNeedsOne", func(t *testing.T) {
		if _, err := svc.Update(manager, region.ID, shared.TemplateVarUpdate{Protected: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if got := opened(region.ID); got != "eu-west" {
			t.Fatalf("after protecting: %q", got)
		}
		_, err := svc.Update(manager, region.ID, shared.TemplateVarUpdate{Protected: ptr(false)})
		wantCode(t, err, shared.EINVALID)
		got, err := svc.Update(manager, region.ID, shared.TemplateVarUpdate{Protected: ptr(false), Value: ptr("eu-north")})
		if err != nil || got.Protected || got.Value != "eu-north" {
			t.Fatalf("after unprotecting: %+v, %v", got, err)
		}
	})
	t.Run("ErrConflictOnNameAndLocation", func(t *testing.T) {
		err := svc.Create(manager, &shared.TemplateVar{Name: "region", Location: "home"})
		wantCode(t, err, shared.ECONFLICT)
		if !strings.Contains(shared.ErrorMessage(err), `location "home"`) {
			t.Fatalf("message %q", shared.ErrorMessage(err))
		}
		away := &shared.TemplateVar{Name: "region", Location: "away"}
		if err := svc.Create(manager, away); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Update(manager, away.ID, shared.TemplateVarUpdate{Location: ptr("home")})
		wantCode(t, err, shared.ECONFLICT)
	})
	t.Run("Delete", func(t *testing.T) {
		if got, err := svc.Delete(manager, region.ID); err != nil || got.Name != "region" {
			t.Fatalf("Delete = %+v, %v", got, err)
		}
		_, err := svc.Get(manager, region.ID)
		wantCode(t, err, shared.ENOTFOUND)
		_, err = svc.Delete(manager, region.ID)
		wantCode(t, err, shared.ENOTFOUND)
	})
}

func TestAuditService(t *testing.T) {
	store := memory.New()
	svc := origin.NewAuditService(store, "home", serviceOpts())
	auditor := actorCtx([]shared.Permission{shared.PermViewAuditLogs}, false)
	plain := actorCtx([]shared.Permission{shared.PermUseSpaces}, false)
	ctx := context.Background()

	long := strings.Repeat("a", 300)
	for _, ev := range []*shared.AuditEvent{
		{Actor: long, Event: "Login Failed"},
		{Actor: "ann", Event: "Group Create", At: serviceOpts().Now().Add(-48 * time.Hour), Location: "away", ActorType: "system"},
		{Actor: "ann", Event: "Login Success"},
	} {
		if err := svc.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID == 0 {
			t.Fatalf("recorded event %+v has no id", ev)
		}
	}

	t.Run("RecordFillsInAndClips", func(t *testing.T) {
		page, err := svc.List(auditor, shared.ListOptions{Limit: 10})
		evs, total := page.Items, page.Total
		if err != nil || total != 3 || len(evs) != 3 {
			t.Fatalf("List = %d events of %d, %v", len(evs), total, err)
		}
		first, given := evs[2], evs[1]
		if len(first.Actor) != 256 || first.ActorType != "user" || first.Location != "home" || !first.At.Equal(serviceOpts().Now()) {
			t.Fatalf("recorded %+v: want the actor cut to 256 bytes, type user, location home and the current time", first)
		}
		if given.ActorType != "system" || given.Location != "away" {
			t.Fatalf("recorded %+v: the given type and location were replaced", given)
		}
	})
	t.Run("PagesNewestFirst", func(t *testing.T) {
		page, err := svc.List(auditor, shared.ListOptions{Offset: 1, Limit: 1})
		evs, total := page.Items, page.Total
		if err != nil || total != 3 || len(evs) != 1 || evs[0].Event != "Group Create" {
			t.Fatalf("List(1, 1) = %+v of %d, %v", evs, total, err)
		}
	})
	t.Run("ErrForbiddenWithoutViewAuditLogs", func(t *testing.T) {
		_, err := svc.List(plain, shared.ListOptions{Limit: 10})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.List(ctx, shared.ListOptions{Limit: 10})
		wantCode(t, err, shared.EUNAUTHORIZED)
	})
	t.Run("ErrInvalidPage", func(t *testing.T) {
		for _, p := range [][2]int{{-1, 10}, {0, 0}, {0, shared.MaxAuditPage + 1}} {
			_, err := svc.List(auditor, shared.ListOptions{Offset: p[0], Limit: p[1]})
			wantCode(t, err, shared.EINVALID)
		}
	})
	t.Run("PruneDeletesTheOlderEvents", func(t *testing.T) {
		n, err := svc.Prune(ctx, serviceOpts().Now().Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// The oldest event goes only with those before it: pruning keeps
		// the log without gaps.
		if page, _ := svc.List(auditor, shared.ListOptions{Limit: 10}); n != 0 || page.Total != 3 {
			t.Fatalf("pruned %d, %d left: the first event is newer than the cut", n, page.Total)
		}
		n, err = svc.Prune(ctx, serviceOpts().Now().Add(time.Second))
		if page, _ := svc.List(auditor, shared.ListOptions{Limit: 10}); err != nil || n != 3 || page.Total != 0 {
			t.Fatalf("pruned %d, %d left, %v: want all 3 gone", n, page.Total, err)
		}
	})
}
