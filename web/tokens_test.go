package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// storeHolds reports whether secret appears anywhere in the store: in any
// record, in the change feed or in the audit log.
func storeHolds(t *testing.T, e *env, secret string) bool {
	t.Helper()
	ctx := context.Background()
	needle := []byte(secret)
	for _, k := range shared.Kinds {
		cs, err := e.store.List(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if bytes.Contains(c.Data, needle) || c.ID == secret {
				return true
			}
		}
	}
	cs, err := e.store.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if bytes.Contains(c.Data, needle) {
			return true
		}
	}
	evs, _, _ := e.store.ListAudit(ctx, 0, 0)
	data, _ := json.Marshal(evs)
	return bytes.Contains(data, needle)
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	ann, annSession := e.user("ann")
	_, bobSession := e.user("bob")

	var created struct {
		Status  bool   `json:"status"`
		TokenID string `json:"token_id"`
		Token   string `json:"token"`
	}
	e.must(http.StatusCreated, "POST", "/api/tokens", annSession, map[string]string{"name": "my laptop"}).decode(t, &created)

	t.Run("StoredOnlyHashed", func(t *testing.T) {
		if created.Token == "" || created.TokenID != crypt.HashToken(created.Token) {
			t.Fatalf("token_id %q is not the hash of the token", created.TokenID)
		}
		tok, err := getRecord[shared.Token](e, created.TokenID)
		if err != nil || tok.UserID != ann.ID || tok.Name != "my laptop" {
			t.Fatalf("stored token = %+v, %v", tok, err)
		}
		if storeHolds(t, e, created.Token) {
			t.Fatal("the token secret is in the store")
		}
	})

	t.Run("SessionSecretsAreNotStoredEither", func(t *testing.T) {
		if storeHolds(t, e, annSession) {
			t.Fatal("a session secret is in the store")
		}
	})

	t.Run("ListShowsOwnTokensOnly", func(t *testing.T) {
		var mine, theirs []map[string]any
		e.must(http.StatusOK, "GET", "/api/tokens", annSession, nil).decode(t, &mine)
		e.must(http.StatusOK, "GET", "/api/tokens", bobSession, nil).decode(t, &theirs)
		if len(mine) != 1 || mine[0]["token_id"] != created.TokenID || mine[0]["name"] != "my laptop" || len(theirs) != 0 {
			t.Fatalf("ann's tokens %v, bob's %v", mine, theirs)
		}
		if _, ok := mine[0]["token"]; ok {
			t.Fatal("the list shows a secret")
		}
	})

	t.Run("OthersCannotDelete", func(t *testing.T) {
		e.must(http.StatusNotFound, "DELETE", "/api/tokens/"+created.TokenID, bobSession, nil)
		e.must(http.StatusOK, "GET", "/api/ping", created.Token, nil)
	})

	t.Run("DeleteRevokes", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", "/api/tokens/"+created.TokenID, annSession, nil)
		e.must(http.StatusUnauthorized, "GET", "/api/ping", created.Token, nil)
		e.must(http.StatusNotFound, "DELETE", "/api/tokens/"+created.TokenID, annSession, nil)
		if !e.hasAudit("Token Create", "my laptop") || !e.hasAudit("Token Delete", "my laptop") {
			t.Fatal("missing audit events")
		}
	})

	t.Run("NameIsRequired", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "POST", "/api/tokens", annSession, map[string]string{"name": ""})
		if r.errMsg(t) != "name is required" {
			t.Fatalf("message %s", r.body)
		}
	})
}
