package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/api"
)

// TestSessionsAreTheCallersOwn checks GET and DELETE /api/sessions: a user
// sees their own sessions, the current one marked, under public ids that
// are not the session ids, ends another of theirs (which is then refused),
// and can neither see nor end another user's.
func TestSessionsAreTheCallersOwn(t *testing.T) {
	e := newEnv(t)
	_, ann1 := e.user("ann")
	_, bob := e.user("bob")
	fastChecks(e)
	ann2 := loginToken(t, e, "ann@example.com")

	var list []api.Session
	e.must(http.StatusOK, "GET", "/api/sessions", ann1, nil).decode(t, &list)
	if len(list) != 2 {
		t.Fatalf("ann sees %d sessions, want her 2: %+v", len(list), list)
	}
	var current, other api.Session
	for _, se := range list {
		if se.Current {
			current = se
		} else {
			other = se
		}
	}
	if current.ID == "" || other.ID == "" || current.ID == other.ID {
		t.Fatalf("want one current and one other session: %+v", list)
	}
	for _, se := range list {
		if strings.Contains(ann1+ann2, se.ID) || len(se.ID) < 32 {
			t.Errorf("session id %q is part of a secret, or too short", se.ID)
		}
	}

	var bobs []api.Session
	e.must(http.StatusOK, "GET", "/api/sessions", bob, nil).decode(t, &bobs)
	if len(bobs) != 1 || !bobs[0].Current {
		t.Fatalf("bob sees %+v, want his one session", bobs)
	}
	for _, se := range list {
		if se.ID == bobs[0].ID {
			t.Fatalf("ann's list holds bob's session")
		}
	}
	// Bob cannot end ann's session: it is not found, and it still works.
	msg := e.must(http.StatusNotFound, "DELETE", "/api/sessions/"+other.ID, bob, nil).errMsg(t)
	if !strings.Contains(msg, "no session") {
		t.Errorf("refusal says %q", msg)
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", ann2, nil)

	// Ann ends her other session: it is refused from then on, hers is not.
	e.must(http.StatusOK, "DELETE", "/api/sessions/"+other.ID, ann1, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", ann2, nil)
	e.must(http.StatusOK, "GET", "/api/users/whoami", ann1, nil)
	e.must(http.StatusOK, "GET", "/api/users/whoami", bob, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/sessions/"+other.ID, ann1, nil)
	if !e.hasAudit("Session Revoked", "a session of ann ended by its user") {
		t.Errorf("no audit event for the revoked session")
	}
	e.must(http.StatusOK, "GET", "/api/sessions", ann1, nil).decode(t, &list)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("after revoking, ann sees %+v", list)
	}
	e.must(http.StatusUnauthorized, "GET", "/api/sessions", "", nil)
}

// TestSessionsListLeavesOutExpired checks that an expired session is not
// listed: a session unused for longer than its sliding lifetime is gone.
func TestSessionsListLeavesOutExpired(t *testing.T) {
	e := newEnv(t)
	_, ann := e.user("ann")
	fastChecks(e)
	loginToken(t, e, "ann@example.com") // never used again
	var list []api.Session
	e.must(http.StatusOK, "GET", "/api/sessions", ann, nil).decode(t, &list)
	if len(list) != 2 {
		t.Fatalf("ann sees %d sessions, want 2", len(list))
	}
	// ann's first session is used and slides; the unused one ends 2 h
	// after its login.
	e.clock.Advance(90 * time.Minute)
	e.must(http.StatusOK, "GET", "/api/users/whoami", ann, nil)
	e.clock.Advance(40 * time.Minute)
	e.must(http.StatusOK, "GET", "/api/sessions", ann, nil).decode(t, &list)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("after the unused session expired ann sees %+v", list)
	}
}
