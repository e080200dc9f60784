package leaf_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// startOrigin starts a standalone server, the origin of the tests, with
// the user admin@example.com, and returns it with a client that sends no
// credential.
func startOrigin(t *testing.T) (*httptest.Server, *client.Client) {
	t.Helper()
	srv, err := newStandalone(memory.New(), "home")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	anon, err := client.New(client.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	req := api.UserCreateRequest{Username: "admin", Email: "admin@example.com", Password: "a-long-password"}
	if _, err := anon.Users().Create(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	return ts, anon
}

// newStandalone returns a standalone server over st at location, wired as
// cmd/knot wires one: the origin's services and this package's space
// service over one observed store.
func newStandalone(st storage.Store, location string) (*web.Server, error) {
	obs := origin.Observe(st, nil)
	audit := origin.NewAuditService(obs, location, origin.ServiceOptions{})
	local, err := leaf.NewLocal(leaf.LocalOptions{SpaceOptions: leaf.SpaceOptions{Store: obs, Location: location, Audit: audit}})
	if err != nil {
		return nil, err
	}
	auth := origin.NewAuthService(obs, origin.AuthOptions{Logins: origin.NewLogins(origin.LoginsOptions{}), Audit: origin.RecordAudit(audit, nil)})
	svcs := origin.NewServices(obs, origin.ServicesOptions{Location: location, Spaces: local.Spaces, Audit: audit, Auth: auth})
	return web.New(web.Options{Services: svcs, Local: local, Store: obs, Location: location})
}

func wantMessage(t *testing.T, err error, code, part string) {
	t.Helper()
	wantCode(t, err, code)
	if !strings.Contains(shared.ErrorMessage(err), part) {
		t.Fatalf("message %q does not say %q", shared.ErrorMessage(err), part)
	}
}

// Forward presents at the origin the session the leaf opened there at the
// caller's login; a session the origin does not know, or ended, is a
// conflict that says to log in again, and an origin that does not answer
// is unavailable.
func TestForwardActsWithTheOriginSessionOfTheLogin(t *testing.T) {
	ts, anon := startOrigin(t)
	ctx := context.Background()
	o := leaf.NewOrigin(leaf.OriginOptions{URL: ts.URL, Location: "away"})
	groups := leaf.NewGroupService(leaf.ServiceOptions{Store: memory.New(), Origin: o})
	actor := actorCtx(shared.AllPermissions()...)
	bySession := shared.NewContextWithCredential(actor, shared.Credential{SessionID: "s1"})

	wantMessage(t, groups.Create(bySession, &shared.Group{Name: "devs"}), shared.ECONFLICT, "does not know this session")
	wantMessage(t, groups.Create(actor, &shared.Group{Name: "devs"}), shared.EUNAUTHORIZED, "no credential")

	o.Login(ctx, "s1", "admin@example.com", "a-long-password", "")
	g := &shared.Group{Name: "devs"}
	if err := groups.Create(bySession, g); err != nil {
		t.Fatal(err)
	}
	secret, err := o.SessionToken("s1")
	if err != nil {
		t.Fatal(err)
	}
	admin := anon.WithToken(secret)
	if at, err := admin.Groups().Get(ctx, g.ID); err != nil || at.Name != "devs" {
		t.Fatalf("the origin holds %+v, %v", at, err)
	}
	wantMessage(t, groups.Create(bySession, &shared.Group{Name: "Devs"}), shared.ECONFLICT, `a group named "Devs" already exists`)

	if err := admin.Auth().Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = groups.Delete(bySession, g.ID)
	wantMessage(t, err, shared.ECONFLICT, "has ended")
	_, err = groups.Delete(bySession, g.ID)
	wantMessage(t, err, shared.ECONFLICT, "does not know this session")

	ts.Close()
	byToken := shared.NewContextWithCredential(actor, shared.Credential{Token: secret})
	_, err = groups.Delete(byToken, g.ID)
	wantMessage(t, err, shared.EUNAVAILABLE, "did not answer: nothing answers at "+ts.URL+" (connection refused)")
}
