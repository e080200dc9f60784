package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// These tests drive a real knot server over a loopback listener with
// shared/client, the client the CLI and the leaf use: every resource's
// calls, and the decoding of error answers into shared.Error.

// newClient returns a client of the server at base with token.
func newClient(t *testing.T, base, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Address: base, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ok fails the test on err.
func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantCode fails the test unless err carries code and the HTTP status.
func wantCode(t *testing.T, what string, err error, code string, status int) *client.ResponseError {
	t.Helper()
	var se *shared.Error
	if !errors.As(err, &se) || se.Code != code || shared.ErrorCode(err) != code {
		t.Fatalf("%s: error %v (%T), want code %s", what, err, err, code)
	}
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != status || se.Message == "" {
		t.Fatalf("%s: error %v, want HTTP %d with a message", what, err, status)
	}
	return re
}

func TestClientCoversTheAPI(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	defer ts.Close()
	ctx := context.Background()

	// The first user is the admin, created without a token.
	anon := newClient(t, ts.URL, "")
	using, err := anon.Auth().UsingTOTP(ctx)
	ok(t, "using totp", err)
	if using {
		t.Fatal("UsingTOTP = true on a server without TOTP")
	}
	adminID, err := anon.Users().Create(ctx, api.UserCreateRequest{Username: "admin", Email: "admin@example.com", Password: "a-long-password"})
	ok(t, "create the admin", err)
	login, err := anon.Auth().Login(ctx, api.LoginRequest{Email: "admin@example.com", Password: "a-long-password"})
	ok(t, "login", err)
	if login.Token == "" || !login.Status {
		t.Fatalf("login = %+v", login)
	}
	web, err := anon.Auth().LoginWeb(ctx, api.LoginRequest{Email: "admin@example.com", Password: "a-long-password"})
	ok(t, "web login", err)
	if web.CSRFToken == "" {
		t.Fatalf("web login = %+v, want a CSRF token", web)
	}
	c := anon.WithToken(login.Token)

	ping, err := c.Auth().Ping(ctx)
	ok(t, "ping", err)
	if ping.Version != "1.2.3" {
		t.Fatalf("ping = %+v", ping)
	}
	me, err := c.Users().WhoAmI(ctx)
	ok(t, "whoami", err)
	if me.ID != adminID || len(me.Permissions) == 0 {
		t.Fatalf("whoami = %+v, want the admin %s with permissions", me, adminID)
	}

	// Tokens.
	tok, err := c.Tokens().Create(ctx, api.TokenCreateRequest{Name: "ci"})
	ok(t, "create token", err)
	c = anon.WithToken(tok.Token) // from here on, the API token
	tokens, err := c.Tokens().List(ctx)
	ok(t, "list tokens", err)
	if len(tokens) != 1 || tokens[0].ID != tok.TokenID || tokens[0].Name != "ci" {
		t.Fatalf("tokens = %+v", tokens)
	}
	other, err := c.Tokens().Create(ctx, api.TokenCreateRequest{Name: "other"})
	ok(t, "create a second token", err)
	ok(t, "delete token", c.Tokens().Delete(ctx, other.TokenID))

	// Groups.
	gid, err := c.Groups().Create(ctx, api.GroupRequest{Name: ptr("devs"), MaxSpaces: ptr(3)})
	ok(t, "create group", err)
	ok(t, "update group", c.Groups().Update(ctx, gid, api.GroupRequest{MaxSpaces: ptr(4)}))
	g, err := c.Groups().Get(ctx, gid)
	ok(t, "get group", err)
	if g.Name != "devs" || g.MaxSpaces != 4 {
		t.Fatalf("group = %+v", g)
	}
	groups, err := c.Groups().List(ctx)
	ok(t, "list groups", err)
	if len(groups) != 1 || groups[0].ID != gid {
		t.Fatalf("groups = %+v", groups)
	}

	// Roles and permissions.
	perms, err := c.Roles().Permissions(ctx)
	ok(t, "permissions", err)
	if len(perms) == 0 {
		t.Fatal("no permissions listed")
	}
	rid, err := c.Roles().Create(ctx, api.RoleRequest{Name: ptr("helpers"), Permissions: &[]shared.Permission{perms[0].ID}})
	ok(t, "create role", err)
	ok(t, "update role", c.Roles().Update(ctx, rid, api.RoleRequest{Name: ptr("helpdesk")}))
	role, err := c.Roles().Get(ctx, rid)
	ok(t, "get role", err)
	if role.Name != "helpdesk" || len(role.Permissions) != 1 {
		t.Fatalf("role = %+v", role)
	}
	roles, err := c.Roles().List(ctx)
	ok(t, "list roles", err)
	if len(roles) < 2 {
		t.Fatalf("roles = %+v, want the built-in ones and helpdesk", roles)
	}

	// Users.
	bobID, err := c.Users().Create(ctx, api.UserCreateRequest{Username: "bob", Email: "bob@example.com", Password: "another-long-password", Groups: []string{gid}})
	ok(t, "create user", err)
	ok(t, "update user", c.Users().Update(ctx, bobID, api.UserUpdateRequest{Timezone: ptr("Europe/Paris")}))
	bob, err := c.Users().Get(ctx, bobID)
	ok(t, "get user", err)
	if bob.Username != "bob" || bob.Timezone != "Europe/Paris" || len(bob.Groups) != 1 {
		t.Fatalf("bob = %+v", bob)
	}
	users, err := c.Users().List(ctx, "active")
	ok(t, "list users", err)
	if len(users) != 2 {
		t.Fatalf("users = %+v, want admin and bob", users)
	}
	q, err := c.Users().Quota(ctx, bobID)
	ok(t, "quota", err)
	if q.MaxSpaces != 4 {
		t.Fatalf("bob's quota = %+v, want the 4 spaces of his group", q)
	}

	// Templates.
	tid, err := c.Templates().Create(ctx, api.TemplateRequest{Name: ptr("byo"), Kind: ptr(shared.TemplateManual), Description: ptr("bring your own")})
	ok(t, "create template", err)
	ok(t, "update template", c.Templates().Update(ctx, tid, api.TemplateRequest{Description: ptr("your own machine")}))
	tmpl, err := c.Templates().Get(ctx, tid)
	ok(t, "get template", err)
	if tmpl.Name != "byo" || tmpl.Description != "your own machine" || tmpl.Kind != shared.TemplateManual {
		t.Fatalf("template = %+v", tmpl)
	}
	tmpls, err := c.Templates().List(ctx)
	ok(t, "list templates", err)
	if len(tmpls) != 1 || tmpls[0].ID != tid {
		t.Fatalf("templates = %+v", tmpls)
	}

	// Template variables.
	vid, err := c.TemplateVars().Create(ctx, api.TemplateVarRequest{Name: ptr("region"), Value: ptr("eu")})
	ok(t, "create variable", err)
	ok(t, "update variable", c.TemplateVars().Update(ctx, vid, api.TemplateVarRequest{Value: ptr("us")}))
	v, err := c.TemplateVars().Get(ctx, vid)
	ok(t, "get variable", err)
	if v.Name != "region" || v.Value != "us" {
		t.Fatalf("variable = %+v", v)
	}
	vars, err := c.TemplateVars().List(ctx)
	ok(t, "list variables", err)
	if len(vars) != 1 || vars[0].ID != vid {
		t.Fatalf("variables = %+v", vars)
	}

	// Spaces.
	created, err := c.Spaces().Create(ctx, api.SpaceCreateRequest{Name: "dev", TemplateID: tid})
	ok(t, "create space", err)
	if created.SpaceID == "" || created.AgentToken == "" {
		t.Fatalf("created = %+v, want an id and the agent token of a manual space", created)
	}
	sid := created.SpaceID
	ok(t, "update space", c.Spaces().Update(ctx, sid, api.SpaceUpdateRequest{Description: ptr("my dev box")}))
	sp, err := c.Spaces().Get(ctx, sid)
	ok(t, "get space", err)
	if sp.Name != "dev" || sp.Description != "my dev box" || sp.TemplateName != "byo" {
		t.Fatalf("space = %+v", sp)
	}
	act, err := c.Spaces().Start(ctx, sid)
	ok(t, "start space", err)
	if act.State != shared.SpaceRunning {
		t.Fatalf("start = %+v, want running", act)
	}
	act, err = c.Spaces().Stop(ctx, sid)
	ok(t, "stop space", err)
	if act.State != shared.SpaceStopped {
		t.Fatalf("stop = %+v, want stopped", act)
	}
	spaces, err := c.Spaces().List(ctx, client.SpaceListOptions{})
	ok(t, "list spaces", err)
	if len(spaces) != 1 || spaces[0].ID != sid {
		t.Fatalf("spaces = %+v", spaces)
	}
	if all, err := c.Spaces().List(ctx, client.SpaceListOptions{All: true}); err != nil || len(all) != 1 {
		t.Fatalf("all spaces = %+v, %v", all, err)
	}
	// This server keeps no logs: both log routes answer 404, decoded.
	_, err = c.Spaces().Logs(ctx, sid)
	wantCode(t, "logs", err, shared.ENOTFOUND, http.StatusNotFound)
	_, err = c.Spaces().LogStream(ctx, sid)
	wantCode(t, "log stream", err, shared.ENOTFOUND, http.StatusNotFound)
	ok(t, "delete space", c.Spaces().Delete(ctx, sid))

	// Audit.
	audit, err := c.Audit().List(ctx, 0, 5)
	ok(t, "audit", err)
	if audit.Count < 5 || len(audit.Items) != 5 || audit.Items[0].Event == "" {
		t.Fatalf("audit = %d events, %d items", audit.Count, len(audit.Items))
	}

	// Not an origin, not a leaf: the fleet's routes say so.
	leaves, err := c.Leaves().List(ctx)
	ok(t, "list leaves", err)
	if len(leaves) != 0 {
		t.Fatalf("leaves = %+v", leaves)
	}
	_, err = c.Leaves().Status(ctx)
	wantCode(t, "leaf status", err, shared.ENOTFOUND, http.StatusNotFound)

	// Deletions.
	ok(t, "delete variable", c.TemplateVars().Delete(ctx, vid))
	ok(t, "delete template", c.Templates().Delete(ctx, tid))
	ok(t, "delete user", c.Users().Delete(ctx, bobID))
	ok(t, "delete role", c.Roles().Delete(ctx, rid))
	ok(t, "delete group", c.Groups().Delete(ctx, gid))
	_, err = c.Users().Get(ctx, bobID)
	wantCode(t, "get a deleted user", err, shared.ENOTFOUND, http.StatusNotFound)

	// Logging out ends the session.
	session := anon.WithToken(login.Token)
	ok(t, "logout", session.Auth().Logout(ctx))
	_, err = session.Users().WhoAmI(ctx)
	wantCode(t, "whoami after logout", err, shared.EUNAUTHORIZED, http.StatusUnauthorized)
}

func TestClientDecodesErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("ForbiddenAndUnauthorized", func(t *testing.T) {
		e := newEnv(t)
		_, bob := e.user("bob")
		ts := httptest.NewServer(e.h)
		defer ts.Close()
		_, err := newClient(t, ts.URL, bob).Groups().Create(ctx, api.GroupRequest{Name: ptr("x")})
		wantCode(t, "create a group without the permission", err, shared.EFORBIDDEN, http.StatusForbidden)
		_, err = newClient(t, ts.URL, "not-a-token").Users().WhoAmI(ctx)
		re := wantCode(t, "a wrong token", err, shared.EUNAUTHORIZED, http.StatusUnauthorized)
		if re.Error() != shared.ErrorMessage(err)+" (HTTP 401)" {
			t.Fatalf("Error() = %q, want the message and the status", re.Error())
		}
	})
	t.Run("RateLimitedWithRetryAfter", func(t *testing.T) {
		e := newEnv(t)
		e.user("ann")
		ts := httptest.NewServer(e.h)
		defer ts.Close()
		c := newClient(t, ts.URL, "")
		var err error
		for i := 0; i < 30 && shared.ErrorCode(err) != shared.ERATELIMIT; i++ {
			_, err = c.Auth().Login(ctx, api.LoginRequest{Email: "ann@example.com", Password: "wrong-password"})
		}
		wantCode(t, "repeated wrong logins", err, shared.ERATELIMIT, http.StatusTooManyRequests)
		if d := client.RetryAfter(err); d < time.Second {
			t.Fatalf("RetryAfter = %v, want the server's Retry-After", d)
		}
	})
	t.Run("TOTPEnrolment", func(t *testing.T) {
		e := newEnv(t, withTOTP)
		e.user("ann")
		ts := httptest.NewServer(e.h)
		defer ts.Close()
		_, err := newClient(t, ts.URL, "").Auth().Login(ctx, api.LoginRequest{Email: "ann@example.com", Password: testPassword})
		wantCode(t, "first login with TOTP", err, shared.EUNAUTHORIZED, http.StatusUnauthorized)
		en, isEnrolment := client.Enrolment(err)
		if !isEnrolment || en.TOTPSecret == "" || en.TOTPURL == "" {
			t.Fatalf("Enrolment(%v) = %+v, %v; want the secret", err, en, isEnrolment)
		}
		if _, isEnrolment := client.Enrolment(shared.Errorf(shared.EUNAUTHORIZED, "x")); isEnrolment {
			t.Fatal("Enrolment of another error = true")
		}
	})
	t.Run("UnsupportedMediaType", func(t *testing.T) {
		e := newEnv(t)
		_, admin := e.admin()
		// A proxy that drops the Content-Type: the server refuses the body.
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Content-Type")
			e.h.ServeHTTP(w, r)
		}))
		defer ts.Close()
		_, err := newClient(t, ts.URL, admin).Groups().Create(ctx, api.GroupRequest{Name: ptr("x")})
		wantCode(t, "a body without its type", err, shared.EMEDIATYPE, http.StatusUnsupportedMediaType)
	})
	t.Run("Unreachable", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		base := ts.URL
		ts.Close()
		_, err := newClient(t, base, "").Auth().Ping(ctx)
		var te *client.TransportError
		if !errors.As(err, &te) || shared.ErrorCode(err) != shared.EUNAVAILABLE || err.Error() != "nothing answers at "+base+" (connection refused): the server is not running there, or not at that address" {
			t.Fatalf("a closed server: %v (%T), want an EUNAVAILABLE TransportError", err, err)
		}
	})
	t.Run("NotAKnotServer", func(t *testing.T) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>bad gateway</html>"))
		}))
		defer ts.Close()
		_, err := newClient(t, ts.URL, "").Auth().Ping(ctx)
		wantCode(t, "an HTML error page", err, shared.EUNAVAILABLE, http.StatusBadGateway)
		if shared.ErrorMessage(err) != "the server answered Bad Gateway" {
			t.Fatalf("message = %q", shared.ErrorMessage(err))
		}
	})
}

func TestClientFleet(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	origin := httptest.NewServer(f.origin.Handler())
	defer origin.Close()
	anon := newClient(t, origin.URL, "")
	_, err := anon.Users().Create(ctx, api.UserCreateRequest{Username: "admin", Email: "admin@example.com", Password: "a-long-password"})
	ok(t, "create the admin", err)
	login, err := anon.Auth().Login(ctx, api.LoginRequest{Email: "admin@example.com", Password: "a-long-password"})
	ok(t, "login", err)
	c := anon.WithToken(login.Token)

	lt, err := c.Leaves().CreateToken(ctx, api.LeafTokenRequest{Location: "far", Name: "far leaf"})
	ok(t, "create leaf token", err)
	if lt.Token == "" || lt.Location != "far" {
		t.Fatalf("leaf token = %+v", lt)
	}
	rot, err := c.Leaves().RotateToken(ctx, lt.ID, api.LeafTokenRotateRequest{Overlap: "0s"})
	ok(t, "rotate leaf token", err)
	if rot.Token == "" || rot.Token == lt.Token {
		t.Fatalf("rotated = %+v", rot)
	}
	tokens, err := c.Leaves().Tokens(ctx)
	ok(t, "list leaf tokens", err)
	if len(tokens) == 0 {
		t.Fatal("no leaf tokens listed")
	}
	ok(t, "delete leaf token", c.Leaves().DeleteToken(ctx, rot.ID))

	var leaves []api.Leaf
	for deadline := time.Now().Add(10 * time.Second); len(leaves) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the leaf is not listed after 10s")
		}
		leaves, err = c.Leaves().List(ctx)
		ok(t, "list leaves", err)
	}
	if leaves[0].Location != "away" || !leaves[0].Connected {
		t.Fatalf("leaves = %+v", leaves)
	}

	usage, err := anon.WithToken(fleetToken).Leaves().Usage(ctx, "nobody", "away")
	ok(t, "usage", err)
	if usage.NumberSpaces != 0 {
		t.Fatalf("usage = %+v", usage)
	}

	// The leaf knows the admin once the origin's users reached it.
	leafAnon := newClient(t, f.leafSrv.URL, "")
	var leafLogin *api.Login
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		leafLogin, err = leafAnon.Auth().Login(ctx, api.LoginRequest{Email: "admin@example.com", Password: "a-long-password"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login at the leaf: %v", err)
		}
	}
	st, err := leafAnon.WithToken(leafLogin.Token).Leaves().Status(ctx)
	ok(t, "leaf status", err)
	if st.Location != "away" || !st.OriginReachable {
		t.Fatalf("leaf status = %+v", st)
	}
}

func ptr[T any](v T) *T { return &v }
