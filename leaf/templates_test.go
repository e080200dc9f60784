package leaf_test

import (
	"context"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
)

// A leaf's template service reads the replica with the origin's
// permission checks and counts the spaces there.
func TestLeafTemplateServiceReadsTheReplica(t *testing.T) {
	replica := memory.New()
	ctx := context.Background()
	for _, rec := range []shared.Record{
		&shared.Template{Meta: shared.Meta{ID: "t1"}, Name: "open", Kind: shared.TemplateManual},
		&shared.Template{Meta: shared.Meta{ID: "t2"}, Name: "closed", Kind: shared.TemplateManual, Groups: []string{"g1"}},
		&shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "work", UserID: "u1", TemplateID: "t2", State: shared.SpaceRunning},
	} {
		if err := replica.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	svc := leaf.NewTemplateService(leaf.ServiceOptions{Store: replica}, nil)
	manager := actorCtx(shared.PermManageTemplates)
	plain := actorCtx(shared.PermUseSpaces)

	if ts, err := svc.List(plain, shared.ListOptions{}); err != nil || len(ts.Items) != 1 || ts.Items[0].Name != "open" {
		t.Fatalf("a user outside the group lists %v, %v", ts, err)
	}
	if ts, err := svc.List(manager, shared.ListOptions{}); err != nil || len(ts.Items) != 2 || ts.Items[1].Spaces != 1 || ts.Items[1].Deployed != 1 {
		t.Fatalf("a manager lists %v, %v", ts, err)
	}
	_, err := svc.Get(plain, "t1")
	wantCode(t, err, shared.EFORBIDDEN)
	_, err = svc.Get(manager, "nope")
	wantCode(t, err, shared.ENOTFOUND)
	_, err = svc.List(ctx, shared.ListOptions{})
	wantCode(t, err, shared.EUNAUTHORIZED)
}

// While the origin is down a write of a template or of a shared variable
// fails at once with EUNAVAILABLE; a local variable is the leaf's own.
func TestLeafTemplateWritesWhileTheOriginIsDown(t *testing.T) {
	replica := memory.New()
	o, asked := downOrigin(t, replica)
	opts := leaf.ServiceOptions{Store: replica, Origin: o}
	all := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})
	wantCode(t, leaf.NewTemplateService(opts, nil).Create(all, &shared.Template{Name: "t1", Kind: shared.TemplateManual}), shared.EUNAVAILABLE)
	vars := leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: opts, OriginURL: "https://origin.example"})
	wantCode(t, vars.Create(all, &shared.TemplateVar{Name: "region", Value: "eu"}), shared.EUNAVAILABLE)

	local := &shared.TemplateVar{Name: "region", Value: "eu", Local: true}
	if err := vars.Create(all, local); err != nil {
		t.Fatal(err)
	}
	if got, err := vars.Get(all, local.ID); err != nil || got.Value != "eu" || !got.Local {
		t.Fatalf("the local variable is %+v, %v", got, err)
	}
	if got, err := vars.Update(all, local.ID, shared.TemplateVarUpdate{Value: ptr("us")}); err != nil || got.Value != "us" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	_, err := vars.Update(all, local.ID, shared.TemplateVarUpdate{Local: ptr(false)})
	wantCode(t, err, shared.EINVALID)
	if !strings.Contains(shared.ErrorMessage(err), "https://origin.example") {
		t.Fatalf("message %q does not name the origin", shared.ErrorMessage(err))
	}
	wantCode(t, vars.Create(all, &shared.TemplateVar{Name: "region", Local: true}), shared.ECONFLICT)
	wantCode(t, vars.Create(all, &shared.TemplateVar{Name: "pw", Value: "x", Local: true, Protected: true}), shared.EINVALID)
	_, err = vars.Delete(actorCtx(shared.PermUseSpaces), local.ID)
	wantCode(t, err, shared.EFORBIDDEN)
	if _, err := vars.Delete(all, local.ID); err != nil {
		t.Fatal(err)
	}
	_, err = vars.Get(all, local.ID)
	wantCode(t, err, shared.ENOTFOUND)
	if asked.Load() {
		t.Fatal("a write reached the origin while the uplink was down")
	}
}

// A local variable's protected value is sealed with the leaf's key.
func TestLeafLocalVariableIsSealed(t *testing.T) {
	sealer, err := crypt.NewSealer(crypt.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	vars := leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: leaf.ServiceOptions{Store: memory.New()}, Sealer: sealer})
	all := actorCtx(shared.AllPermissions()...)
	v := &shared.TemplateVar{Name: "pw", Value: "s3cret", Local: true, Protected: true}
	if err := vars.Create(all, v); err != nil {
		t.Fatal(err)
	}
	if got, err := sealer.Open(v.Value); err != nil || got != "s3cret" {
		t.Fatalf("the stored value opens to %q, %v", got, err)
	}
}

// Writes of templates and shared variables go to a real origin, whose
// refusals come back as its coded errors.
func TestLeafTemplateServicesWriteAtTheOrigin(t *testing.T) {
	admin, o, token := originAdmin(t)
	ctx := context.Background()
	opts := leaf.ServiceOptions{Store: memory.New(), Origin: o}
	templates := leaf.NewTemplateService(opts, nil)
	actor := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: token})

	tpl := &shared.Template{Name: "debian", Kind: shared.TemplateContainer, Spec: "image: debian:12\n"}
	if err := templates.Create(actor, tpl); err != nil {
		t.Fatal(err)
	}
	if tpl.ID == "" || tpl.Hash != tpl.ComputeHash() {
		t.Fatalf("created template = %+v", tpl)
	}
	if got, err := templates.Update(actor, tpl.ID, shared.TemplateUpdate{ComputeUnits: ptr(3)}); err != nil || got.ComputeUnits != 3 || got.Name != "debian" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	wantCode(t, templates.Create(actor, &shared.Template{Name: "DEBIAN", Kind: shared.TemplateManual}), shared.ECONFLICT)
	wantCode(t, templates.Create(actor, &shared.Template{Name: "box", Kind: shared.TemplateContainer}), shared.EINVALID)
	if got, err := templates.Delete(actor, tpl.ID); err != nil || got.Name != "debian" {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
	_, err := admin.Templates().Get(ctx, tpl.ID)
	wantCode(t, err, shared.ENOTFOUND)

	// A shared variable is written at the origin; the leaf's replica holds
	// it once the feed brings it, which this test plays by hand.
	vars := leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: opts})
	v := &shared.TemplateVar{Name: "region", Value: "eu"}
	if err := vars.Create(actor, v); err != nil {
		t.Fatal(err)
	}
	if at, err := admin.TemplateVars().Get(ctx, v.ID); err != nil || at.Value != "eu" || at.Local {
		t.Fatalf("the origin holds %+v, %v", at, err)
	}
	if err := opts.Store.Put(ctx, &shared.TemplateVar{Meta: shared.Meta{ID: v.ID}, Name: "region", Value: "eu"}); err != nil {
		t.Fatal(err)
	}
	if got, err := vars.Update(actor, v.ID, shared.TemplateVarUpdate{Value: ptr("us")}); err != nil || got.Value != "us" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if _, err := vars.Delete(actor, v.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.TemplateVars().Get(ctx, v.ID)
	wantCode(t, err, shared.ENOTFOUND)
}

func ptr[T any](v T) *T { return &v }

// originAdmin starts an origin and logs its first user in there. It
// returns a client acting for that user, a leaf's way to that origin, and
// the token the leaf's services present there for the user.
func originAdmin(t *testing.T) (*client.Client, *leaf.Origin, string) {
	t.Helper()
	ts, anon := startOrigin(t)
	login, err := anon.Auth().Login(context.Background(), api.LoginRequest{Email: "admin@example.com", Password: "a-long-password"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(client.Config{Address: ts.URL, Token: login.Token})
	if err != nil {
		t.Fatal(err)
	}
	return admin, leaf.NewOrigin(leaf.OriginOptions{URL: ts.URL, Location: "away"}), login.Token
}
