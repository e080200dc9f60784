package leaf_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// A token made at the origin through a leaf is answered once the leaf's
// replica holds it, so that the token works at the leaf at once; a caller
// who gives up first still gets the token, which the origin made.
func TestLeafTokenCreateAnswersOnceTheReplicaHoldsIt(t *testing.T) {
	secret := crypt.NewToken()
	id := crypt.HashToken(secret)
	made := make(chan struct{}, 2)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/tokens" || r.Header.Get("Authorization") != "Bearer caller-token" {
			http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"status":true,"token_id":"` + id + `","token":"` + secret + `"}` + "\n"))
		made <- struct{}{}
	}))
	t.Cleanup(ts.Close)
	replica := &lookedAt{Store: memory.New(), looked: make(chan struct{}, 1)}
	tokens := leaf.NewTokenService(leaf.ServiceOptions{Store: replica, Origin: leaf.NewOrigin(leaf.OriginOptions{URL: ts.URL, Location: "away"})})
	ctx := shared.NewContextWithCredential(actorCtx(), shared.Credential{Token: "caller-token"})

	t.Run("AfterTheReplica", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			tok, got, err := tokens.Create(ctx, "cli", time.Time{})
			if err == nil && (tok.ID != id || got != secret) {
				err = fmt.Errorf("Create = %+v, %q", tok, got)
			}
			done <- err
		}()
		// The replica lags behind the origin's answer: it gets the token
		// once Create has looked for it there.
		select {
		case err := <-done:
			t.Fatalf("Create answered (%v) without waiting for the replica to hold the token", err)
		case <-replica.looked:
		}
		if err := replica.Put(context.Background(), &shared.Token{Meta: shared.Meta{ID: id}, UserID: "actor", Name: "cli"}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UntilTheCallerGivesUp", func(t *testing.T) {
		if _, err := replica.Delete(context.Background(), shared.KindToken, id); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, got, err := tokens.Create(cctx, "cli", time.Time{})
		if err != nil || got != secret {
			t.Fatalf("Create = %q, %v", got, err)
		}
		<-made
	})
}

// lookedAt is a replica that tells when an API token was looked for.
type lookedAt struct {
	storage.Store
	looked chan struct{} // buffered 1
}

func (l *lookedAt) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if kind == shared.KindToken {
		select {
		case l.looked <- struct{}{}:
		default:
		}
	}
	return l.Store.Get(ctx, kind, id)
}
