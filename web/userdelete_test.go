package web_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// userDeleteFails is a store that, while fail is set, fails every delete of
// a user, inside a transaction or not.
type userDeleteFails struct {
	storage.Store
	fail *atomic.Bool
}

func (s *userDeleteFails) injected(kind shared.Kind) error {
	if kind == shared.KindUser && s.fail.Load() {
		return shared.Errorf(shared.EINTERNAL, "injected failure")
	}
	return nil
}

func (s *userDeleteFails) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	if err := s.injected(kind); err != nil {
		return 0, err
	}
	return s.Store.Delete(ctx, kind, id)
}

func (s *userDeleteFails) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	return s.Store.Update(ctx, func(tx storage.Tx) error { return fn(&userDeleteFailsTx{Tx: tx, s: s}) })
}

type userDeleteFailsTx struct {
	storage.Tx
	s *userDeleteFails
}

func (t *userDeleteFailsTx) Delete(ctx context.Context, kind shared.Kind, id string) error {
	if err := t.s.injected(kind); err != nil {
		return err
	}
	return t.Tx.Delete(ctx, kind, id)
}

// A user's deletion removes the user, their API tokens and their sessions
// together: when the store fails to delete the user, the tokens and
// sessions are all still there and still work.
func TestUserDeletionIsAllOrNothing(t *testing.T) {
	var fail atomic.Bool
	e := newEnv(t, func(o *web.TestOptions) { o.Store = &userDeleteFails{Store: o.Store, fail: &fail} })
	_, admin := e.admin()
	bob, bobSession := e.user("bob")
	secret := crypt.NewToken()
	tok := &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(secret)}, UserID: bob.ID, Name: "ci", ExpiresAt: e.clock.Now().Add(time.Hour)}
	if err := e.store.Put(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", secret, nil)
	before := e.revision()

	fail.Store(true)
	e.must(http.StatusInternalServerError, "DELETE", "/api/users/"+bob.ID, admin, nil)
	if got := e.revision(); got != before {
		t.Fatalf("a failed user deletion moved the store from revision %d to %d", before, got)
	}
	if _, err := getRecord[shared.Token](e, tok.ID); err != nil {
		t.Fatalf("bob's API token after a failed deletion: %v", err)
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", secret, nil)
	e.must(http.StatusOK, "GET", "/api/users/whoami", bobSession, nil)

	fail.Store(false)
	e.must(http.StatusOK, "DELETE", "/api/users/"+bob.ID, admin, nil)
	if _, err := getRecord[shared.User](e, bob.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("bob after his deletion: %v", err)
	}
	if _, err := getRecord[shared.Token](e, tok.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("bob's API token after his deletion: %v", err)
	}
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", secret, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", bobSession, nil)
	if got := e.revision(); got != before+3 {
		t.Fatalf("the deletion wrote revisions %d to %d, want 3: the token, the session and the user", before+1, got)
	}
}
