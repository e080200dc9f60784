package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// A space whose location has no leaf connected to the origin is served as
// unreachable, with the reason, in the list and on its own; while the leaf
// is connected, and for the origin's own spaces, it is reachable.
func TestSpacesOfADisconnectedLeafAreUnreachable(t *testing.T) {
	e := newOriginEnv(t)
	_, session := e.admin()
	tpl := e.template("byo")
	leaf, _ := e.dialLeaf(t, fleetToken, "n-far", "far")

	var far, home api.SpaceCreated
	e.must(http.StatusCreated, "POST", "/api/spaces", session, map[string]any{"name": "away", "template_id": tpl.ID, "location": "far"}).decode(t, &far)
	e.must(http.StatusCreated, "POST", "/api/spaces", session, map[string]any{"name": "here", "template_id": tpl.ID}).decode(t, &home)

	listed := func() map[string]api.Space {
		var l api.SpaceList
		e.must(http.StatusOK, "GET", "/api/spaces", session, nil).decode(t, &l)
		out := map[string]api.Space{}
		for _, sp := range l.Spaces {
			out[sp.ID] = sp
		}
		return out
	}
	eventually(t, 5*time.Second, func() string {
		if sp, ok := listed()[far.SpaceID]; !ok || !sp.Reachable || sp.UnreachableReason != "" {
			return "the space of the connected leaf is not listed as reachable"
		}
		return ""
	})

	leaf.c.CloseNow()
	eventually(t, 5*time.Second, func() string {
		sp := listed()[far.SpaceID]
		if sp.Reachable || !strings.Contains(sp.UnreachableReason, `location far`) {
			return "listed as " + fmt.Sprintf("%+v", sp)
		}
		return ""
	})
	if sp := listed()[home.SpaceID]; !sp.Reachable || sp.UnreachableReason != "" {
		t.Fatalf("the origin's own space is listed as %s", fmt.Sprintf("%+v", sp))
	}
	var one api.Space
	e.must(http.StatusOK, "GET", "/api/spaces/"+far.SpaceID, session, nil).decode(t, &one)
	if one.Reachable || !strings.Contains(one.UnreachableReason, "no leaf of location far is connected") {
		t.Fatalf("GET /api/spaces/{id} = %s, want unreachable with the reason", fmt.Sprintf("%+v", one))
	}
	e.must(http.StatusOK, "GET", "/api/spaces/"+home.SpaceID, session, nil).decode(t, &one)
	if !one.Reachable {
		t.Fatalf("GET of the origin's own space = %s, want reachable", fmt.Sprintf("%+v", one))
	}
}

// After the origin restarts, a leaf that has not come back is still shown:
// its location is among the unseen ones, with its spaces, which are
// unreachable; a location with only a leaf token is too.
func TestLeavesThatDidNotComeBackAfterAnOriginRestart(t *testing.T) {
	f := newFleet(t)
	ob := f.originSW.srv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)
	waitRecord(t, f.leafStore, shared.KindTemplate, tmpl.ID, false)
	var sp api.SpaceCreated
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tmpl.ID, "location": "away"}, &sp)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/leaf-tokens", session, map[string]string{"location": "edge"}, nil)

	var l api.LeafList
	mustCall(t, http.StatusOK, ob, "GET", "/api/leaves", session, nil, &l)
	if len(l.Leaves) != 1 || l.Leaves[0].Location != "away" || fmt.Sprint(l.Unseen) != "[{edge 0 1}]" {
		t.Fatalf("before the restart: leaves %+v, unseen %+v; want away connected and edge unseen with its token", l.Leaves, l.Unseen)
	}

	f.uplinkRun.stop()
	f.stopOrigin()
	f.startOrigin()
	mustCall(t, http.StatusOK, ob, "GET", "/api/leaves", session, nil, &l)
	if len(l.Leaves) != 0 || fmt.Sprint(l.Unseen) != "[{away 1 0} {edge 0 1}]" {
		t.Fatalf("after the restart: leaves %+v, unseen %+v; want away with its space and edge with its token", l.Leaves, l.Unseen)
	}
	var one api.Space
	mustCall(t, http.StatusOK, ob, "GET", "/api/spaces/"+sp.SpaceID, session, nil, &one)
	if one.Reachable || one.UnreachableReason == "" {
		t.Fatalf("the space of the leaf that did not come back is %+v, want unreachable", one)
	}
}

// On a leaf whose origin is unreachable, the spaces of other locations are
// served as unreachable, and its own are not.
func TestLeafServesSpacesElsewhereUnreachableWhileTheOriginIsDown(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)
	waitRecord(t, f.leafStore, shared.KindTemplate, tmpl.ID, false)
	var home, away api.SpaceCreated
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "at-home", "template_id": tmpl.ID}, &home)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "at-away", "template_id": tmpl.ID, "location": "away"}, &away)
	waitRecord(t, f.leafStore, shared.KindSpace, home.SpaceID, false)
	leafSession := f.login(lb)

	listed := func() map[string]api.Space {
		var l api.SpaceList
		mustCall(t, http.StatusOK, lb, "GET", "/api/spaces", leafSession, nil, &l)
		out := map[string]api.Space{}
		for _, sp := range l.Spaces {
			out[sp.Name] = sp
		}
		return out
	}
	if got := listed(); !got["at-home"].Reachable || !got["at-away"].Reachable {
		t.Fatalf("with the origin up the leaf lists %+v, want both reachable", got)
	}
	f.stopOrigin()
	f.waitConnected(false)
	got := listed()
	if sp := got["at-home"]; sp.Reachable || !strings.Contains(sp.UnreachableReason, "cannot reach its origin") {
		t.Errorf("the origin's space on the leaf is %+v, want unreachable with the reason", sp)
	}
	if sp := got["at-away"]; !sp.Reachable || sp.UnreachableReason != "" {
		t.Errorf("the leaf's own space is %+v, want reachable", sp)
	}
}
