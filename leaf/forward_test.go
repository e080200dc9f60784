package leaf_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// On a leaf, a start, stop or delete of a space of another location, the
// first user's setup, and a change of a variable the replica does not hold
// go to the origin: while it is down they fail at once with EUNAVAILABLE,
// and nothing is sent nor changed here.
func TestLeafWritesForTheOriginWhileItIsDown(t *testing.T) {
	replica := memory.New()
	o, asked := downOrigin(t, replica)
	bg := context.Background()
	yonder := &shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "yonder", UserID: "actor", Location: "home", State: shared.SpaceStopped}
	if err := replica.Put(bg, yonder); err != nil {
		t.Fatal(err)
	}
	spaces, err := leaf.NewSpaceService(leaf.SpaceOptions{Store: replica, Location: "away", Origin: o})
	if err != nil {
		t.Fatal(err)
	}
	ctx := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})
	for name, act := range map[string]func(context.Context, string) (*shared.Space, error){
		"Start": spaces.Start, "Stop": spaces.Stop, "Delete": spaces.Delete} {
		if _, err := act(ctx, yonder.ID); shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Errorf("%s of a space of another location = %v, want EUNAVAILABLE", name, err)
		}
	}
	if sp, err := storage.Get[shared.Space](bg, replica, yonder.ID); err != nil || sp.State != shared.SpaceStopped {
		t.Fatalf("the space here is %+v, %v", sp, err)
	}

	_, err = leaf.NewUserService(leaf.ServiceOptions{Store: replica, Origin: o}, leaf.UserOptions{}).Setup(bg, shared.NewUser{Username: "admin"})
	wantCode(t, err, shared.EUNAVAILABLE)
	vars := leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: leaf.ServiceOptions{Store: replica, Origin: o}})
	_, err = vars.Update(ctx, "not-here-yet", shared.TemplateVarUpdate{})
	wantCode(t, err, shared.EUNAVAILABLE)
	_, err = vars.Delete(ctx, "not-here-yet")
	wantCode(t, err, shared.EUNAVAILABLE)
	if asked.Load() {
		t.Fatal("a write reached the origin while the uplink was down")
	}
}

// An origin's refusal comes back through Forward with its code, its
// message and the wait its Retry-After asked for, as a relayed answer did.
func TestForwardKeepsTheOriginsRetryAfter(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":"too many changes: try again in 7 seconds"}` + "\n"))
	}))
	t.Cleanup(ts.Close)
	o := leaf.NewOrigin(leaf.OriginOptions{URL: ts.URL, Location: "away"})
	ctx := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})
	_, err := leaf.Forward(ctx, o, func(ctx context.Context, c *client.Client) (string, error) {
		return c.Groups().Create(ctx, api.GroupRequest{})
	})
	wantCode(t, err, shared.ERATELIMIT)
	if msg := shared.ErrorMessage(err); msg != "too many changes: try again in 7 seconds" {
		t.Fatalf("message %q", msg)
	}
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
		t.Fatalf("the error %v does not keep the origin's Retry-After", err)
	}
}
