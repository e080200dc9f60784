package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// The first user of a leaf's origin is set up through the leaf, at the
// origin. A change of one's own password made at a leaf goes to the origin
// with the current password, which the origin checks; made with an API
// token that the new password ends, it is answered 200 as at the origin.
// The origin alone records these writes.
func TestLeafUserWritesAtTheOrigin(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	admin := map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}
	a := mustCall(t, http.StatusCreated, lb, "POST", "/api/users", "", admin, nil)
	if a.header.Get("X-Knot-Forwarded-To") != "origin" {
		t.Fatalf("the answer is not marked as the origin's: %v", a.header)
	}
	session := f.login(ob)
	id := adminID(t, ob, session)
	other := map[string]string{"username": "eve", "email": "eve@example.com", "password": testPassword}
	atLeaf := mustCall(t, http.StatusUnauthorized, lb, "POST", "/api/users", "", other, nil)
	atOrigin := mustCall(t, http.StatusUnauthorized, ob, "POST", "/api/users", "", other, nil)
	if atLeaf.errMsg(t) != atOrigin.errMsg(t) {
		t.Fatalf("a second setup: the leaf answered %q, the origin %q", atLeaf.errMsg(t), atOrigin.errMsg(t))
	}

	var tok struct{ Token string }
	mustCall(t, http.StatusCreated, ob, "POST", "/api/tokens", session, map[string]any{"name": "cli"}, &tok)
	waitRecord(t, f.leafStore, shared.KindUser, id, false)
	waitRecord(t, f.leafStore, shared.KindToken, crypt.HashToken(tok.Token), false)
	const newPassword = "another-correct-horse"
	wrong := map[string]string{"password": newPassword, "current_password": "not-the-password"}
	atLeaf = mustCall(t, http.StatusForbidden, lb, "PUT", "/api/users/"+id, tok.Token, wrong, nil)
	atOrigin = mustCall(t, http.StatusForbidden, ob, "PUT", "/api/users/"+id, session, wrong, nil)
	if atLeaf.errMsg(t) != atOrigin.errMsg(t) || atLeaf.header.Get("X-Knot-Forwarded-To") != "origin" {
		t.Fatalf("a wrong current password: the leaf answered %q, the origin %q", atLeaf.errMsg(t), atOrigin.errMsg(t))
	}
	mustCall(t, http.StatusOK, lb, "PUT", "/api/users/"+id, tok.Token, map[string]string{"password": newPassword, "current_password": testPassword}, nil)
	mustCall(t, http.StatusOK, ob, "POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": newPassword}, nil)
	mustCall(t, http.StatusUnauthorized, ob, "GET", "/api/tokens", tok.Token, nil, nil)

	originOnly(t, f, "User Create", 1)
	originOnly(t, f, "User Update Refused", 2)
	originOnly(t, f, "User Update", 1)
}

// A write at a leaf with an API token that its replica does not hold yet
// (just created at the origin) is made at the origin, which knows the
// token; a read there still needs the replica's.
func TestLeafWriteWithATokenNotReplicatedYet(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var tok struct{ Token string }
	mustCall(t, http.StatusCreated, ob, "POST", "/api/tokens", session, map[string]any{"name": "cli"}, &tok)
	hash := crypt.HashToken(tok.Token)
	waitRecord(t, f.leafStore, shared.KindToken, hash, false)
	if _, err := f.leafStore.Delete(context.Background(), shared.KindToken, hash); err != nil {
		t.Fatal(err)
	}
	a := mustCall(t, http.StatusCreated, lb, "POST", "/api/templates", tok.Token, map[string]any{"name": "t1", "kind": "manual"}, nil)
	if a.header.Get("X-Knot-Forwarded-To") != "origin" {
		t.Fatalf("the answer is not marked as the origin's: %v", a.header)
	}
	mustCall(t, http.StatusUnauthorized, lb, "GET", "/api/templates", tok.Token, nil, nil)
	mustCall(t, http.StatusUnauthorized, lb, "POST", "/api/templates", "not-a-token", map[string]any{"name": "t2", "kind": "manual"}, nil)
}
