package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

type spaceList struct {
	Count  int `json:"count"`
	Spaces []struct {
		ID              string `json:"space_id"`
		Name            string `json:"name"`
		UserID          string `json:"user_id"`
		Username        string `json:"username"`
		TemplateName    string `json:"template_name"`
		Location        string `json:"location"`
		State           string `json:"state"`
		Reason          string `json:"reason"`
		UpdateAvailable bool   `json:"update_available"`
	} `json:"spaces"`
}

func TestSpaces(t *testing.T) {
	e := newEnv(t)
	admin, adminToken := e.admin()
	ann, annToken := e.user("ann")
	_, bobToken := e.user("bob")
	tpl := e.template("manual")

	var created struct {
		Status     bool   `json:"status"`
		SpaceID    string `json:"space_id"`
		AgentToken string `json:"agent_token"`
	}
	e.must(http.StatusCreated, "POST", "/api/spaces", annToken, map[string]any{"name": "work", "description": "my space", "template_id": tpl.ID}).decode(t, &created)

	t.Run("CreateStoresAStoppedSpaceWithHashedAgentToken", func(t *testing.T) {
		sp, err := getRecord[shared.Space](e, created.SpaceID)
		if err != nil {
			t.Fatal(err)
		}
		if sp.State != shared.SpaceStopped || sp.UserID != ann.ID || sp.Location != "home" || sp.Shell != "bash" || sp.TemplateHash != tpl.Hash {
			t.Fatalf("space = %+v", sp)
		}
		if created.AgentToken == "" || sp.AgentTokenHash != crypt.HashToken(created.AgentToken) {
			t.Fatal("the agent token hash does not match the returned token")
		}
		if storeHolds(t, e, created.AgentToken) {
			t.Fatal("the agent token is in the store")
		}
		if !e.hasAudit("Space Create", "work") {
			t.Fatal("no audit event")
		}
	})

	t.Run("ListShowsOwnSpaces", func(t *testing.T) {
		e.space(admin, tpl, "admins")
		var mine spaceList
		e.must(http.StatusOK, "GET", "/api/spaces", annToken, nil).decode(t, &mine)
		if mine.Count != 1 || len(mine.Spaces) != 1 {
			t.Fatalf("ann sees %+v", mine)
		}
		s := mine.Spaces[0]
		if s.ID != created.SpaceID || s.Username != "ann" || s.TemplateName != "manual" || s.State != "stopped" || s.Location != "home" || s.UpdateAvailable {
			t.Fatalf("space in list = %+v", s)
		}
	})

	t.Run("OtherUsersSpacesNeedManageSpaces", func(t *testing.T) {
		e.must(http.StatusForbidden, "GET", "/api/spaces?user_id="+admin.ID, annToken, nil)
		e.must(http.StatusForbidden, "GET", "/api/spaces?all=true", annToken, nil)
		var theirs, all spaceList
		e.must(http.StatusOK, "GET", "/api/spaces?user_id="+ann.ID, adminToken, nil).decode(t, &theirs)
		e.must(http.StatusOK, "GET", "/api/spaces?all=true", adminToken, nil).decode(t, &all)
		if theirs.Count != 1 || theirs.Spaces[0].UserID != ann.ID || all.Count != 2 {
			t.Fatalf("ann's spaces %+v, all %+v", theirs, all)
		}
	})

	t.Run("OthersGet404", func(t *testing.T) {
		for _, q := range []struct{ method, path string }{
			{"GET", "/api/spaces/" + created.SpaceID}, {"PUT", "/api/spaces/" + created.SpaceID},
			{"DELETE", "/api/spaces/" + created.SpaceID}, {"POST", "/api/spaces/" + created.SpaceID + "/start"},
			{"POST", "/api/spaces/" + created.SpaceID + "/stop"},
		} {
			before := e.revision()
			r := e.must(http.StatusNotFound, q.method, q.path, bobToken, map[string]any{"name": "stolen"})
			if r.errMsg(t) != "space \""+created.SpaceID+"\" not found" {
				t.Fatalf("message %s", r.body)
			}
			if e.revision() != before {
				t.Fatal("store changed")
			}
		}
		if len(e.ctl.Calls()) != 0 {
			t.Fatalf("controller called: %v", e.ctl.Calls())
		}
	})

	t.Run("StartAndStopGoThroughTheController", func(t *testing.T) {
		var out struct {
			Status bool   `json:"status"`
			State  string `json:"state"`
		}
		e.must(http.StatusOK, "POST", "/api/spaces/"+created.SpaceID+"/start", annToken, nil).decode(t, &out)
		if out.State != "running" {
			t.Fatalf("start = %+v", out)
		}
		var got map[string]any
		e.must(http.StatusOK, "GET", "/api/spaces/"+created.SpaceID, annToken, nil).decode(t, &got)
		if got["state"] != "running" || got["is_deployed"] != true {
			t.Fatalf("space after start = %v", got)
		}
		e.must(http.StatusOK, "POST", "/api/spaces/"+created.SpaceID+"/stop", adminToken, nil).decode(t, &out)
		if out.State != "stopped" {
			t.Fatalf("stop = %+v", out)
		}
		calls := e.ctl.Calls()
		if len(calls) != 2 || calls[0] != "start "+created.SpaceID || calls[1] != "stop "+created.SpaceID {
			t.Fatalf("controller calls = %v", calls)
		}
		if !e.hasAudit("Space Start", "work") || !e.hasAudit("Space Stop", "work") {
			t.Fatal("missing audit events")
		}
	})

	t.Run("ControllerErrorsReachTheClient", func(t *testing.T) {
		e.ctl.mu.Lock()
		e.ctl.StartErr = shared.Errorf(shared.EUNAVAILABLE, "docker is not answering")
		e.ctl.mu.Unlock()
		defer func() { e.ctl.mu.Lock(); e.ctl.StartErr = nil; e.ctl.mu.Unlock() }()
		r := e.must(http.StatusServiceUnavailable, "POST", "/api/spaces/"+created.SpaceID+"/start", annToken, nil)
		if r.errMsg(t) != "docker is not answering" {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("UpdateAvailableAfterTemplateChange", func(t *testing.T) {
		// with_ssh is not part of the hash: the server decides at each open.
		e.must(http.StatusOK, "PUT", "/api/templates/"+tpl.ID, adminToken, map[string]any{"with_ssh": false})
		var mine spaceList
		e.must(http.StatusOK, "GET", "/api/spaces", annToken, nil).decode(t, &mine)
		if mine.Spaces[0].UpdateAvailable {
			t.Fatalf("space after with_ssh changed = %+v", mine.Spaces[0])
		}
		e.must(http.StatusOK, "PUT", "/api/templates/"+tpl.ID, adminToken, map[string]any{"volumes": "# changed\n"})
		e.must(http.StatusOK, "GET", "/api/spaces", annToken, nil).decode(t, &mine)
		if !mine.Spaces[0].UpdateAvailable {
			t.Fatalf("space after template change = %+v", mine.Spaces[0])
		}
	})

	t.Run("Update", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/spaces/"+created.SpaceID, annToken, map[string]any{"name": "job", "shell": "zsh"})
		sp, _ := getRecord[shared.Space](e, created.SpaceID)
		if sp.Name != "job" || sp.Shell != "zsh" || sp.Description != "my space" {
			t.Fatalf("space after update = %+v", sp)
		}
		if !e.hasAudit("Space Update", "job") {
			t.Fatal("no audit event")
		}
	})

	t.Run("RenameWhileRunningIs423", func(t *testing.T) {
		e.must(http.StatusOK, "POST", "/api/spaces/"+created.SpaceID+"/start", annToken, nil)
		r := e.must(http.StatusLocked, "PUT", "/api/spaces/"+created.SpaceID, annToken, map[string]any{"name": "other"})
		if !strings.Contains(r.errMsg(t), "stop it") {
			t.Fatalf("message %s", r.body)
		}
		e.must(http.StatusOK, "PUT", "/api/spaces/"+created.SpaceID, annToken, map[string]any{"description": "still fine"})
	})

	t.Run("DuplicateNameIs409", func(t *testing.T) {
		r := e.must(http.StatusConflict, "POST", "/api/spaces", annToken, map[string]any{"name": "JOB", "template_id": tpl.ID})
		if !strings.Contains(r.errMsg(t), "JOB") {
			t.Fatalf("message %s", r.body)
		}
		// Another user may use the name.
		e.must(http.StatusCreated, "POST", "/api/spaces", bobToken, map[string]any{"name": "job", "template_id": tpl.ID})
	})

	t.Run("DeleteGoesThroughTheController", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", "/api/spaces/"+created.SpaceID, annToken, nil)
		e.must(http.StatusNotFound, "GET", "/api/spaces/"+created.SpaceID, annToken, nil)
		calls := e.ctl.Calls()
		if calls[len(calls)-1] != "delete "+created.SpaceID {
			t.Fatalf("controller calls = %v", calls)
		}
		if !e.hasAudit("Space Delete", "job") {
			t.Fatal("no audit event")
		}
	})
}

func TestCreateSpaceRules(t *testing.T) {
	e := newEnv(t)
	_, adminToken := e.admin()
	ann, annToken := e.user("ann")
	noSpaces := e.role("nothing")
	_, nobody := e.user("nobody", noSpaces)
	open := e.template("open")
	var group struct {
		ID string `json:"group_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/groups", adminToken, map[string]any{"name": "devs"}).decode(t, &group)
	closed := e.template("closed", group.ID)
	placed := &shared.Template{Meta: shared.Meta{ID: newUUID(t)}, Name: "placed", Kind: shared.TemplateManual, Locations: []string{"away"}}
	if err := e.store.Put(context.Background(), placed); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		body  map[string]any
		want  int
		msg   string
	}{
		{"NeedsUseSpaces", nobody, map[string]any{"name": "s1", "template_id": open.ID}, http.StatusForbidden, "Use Spaces"},
		{"ForAnotherUserNeedsManageSpaces", annToken, map[string]any{"name": "s1", "template_id": open.ID, "user_id": "someone"}, http.StatusForbidden, "Manage Spaces"},
		{"TemplateOutsideOwnersGroupsIs403", annToken, map[string]any{"name": "s1", "template_id": closed.ID}, http.StatusForbidden, "closed"},
		{"UnknownTemplateIs400", annToken, map[string]any{"name": "s1", "template_id": "nope"}, http.StatusBadRequest, "template_id"},
		{"MissingTemplateIs400", annToken, map[string]any{"name": "s1"}, http.StatusBadRequest, "template_id"},
		{"LocationOutsideTemplateIs400", annToken, map[string]any{"name": "s1", "template_id": placed.ID}, http.StatusBadRequest, "location"},
		{"BadShellIs400", annToken, map[string]any{"name": "s1", "template_id": open.ID, "shell": "tcsh"}, http.StatusBadRequest, "shell"},
		{"NameWithDoubleDashIs400", annToken, map[string]any{"name": "a--b", "template_id": open.ID}, http.StatusBadRequest, "name"},
		{"UnknownOwnerIs400", adminToken, map[string]any{"name": "s1", "template_id": open.ID, "user_id": "nope"}, http.StatusBadRequest, "user_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.revision()
			r := e.must(tc.want, "POST", "/api/spaces", tc.token, tc.body)
			if !strings.Contains(r.errMsg(t), tc.msg) {
				t.Fatalf("message %q does not mention %q", r.errMsg(t), tc.msg)
			}
			if e.revision() != before {
				t.Fatal("store changed")
			}
		})
	}

	t.Run("AdminCreatesForAnotherUser", func(t *testing.T) {
		var out struct {
			ID string `json:"space_id"`
		}
		e.must(http.StatusCreated, "POST", "/api/spaces", adminToken, map[string]any{"name": "given", "template_id": open.ID, "user_id": ann.ID, "location": "home", "shell": "fish"}).decode(t, &out)
		sp, _ := getRecord[shared.Space](e, out.ID)
		if sp.UserID != ann.ID || sp.Shell != "fish" {
			t.Fatalf("space = %+v", sp)
		}
	})

	t.Run("OtherLocationOfAStandaloneServerIs400", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "POST", "/api/spaces", annToken, map[string]any{"name": "far", "template_id": placed.ID, "location": "away"})
		if !strings.Contains(r.errMsg(t), "no leaves") {
			t.Fatalf("message %q does not say the server has no leaves", r.errMsg(t))
		}
	})
}

func TestSpaceQuota(t *testing.T) {
	e := newEnv(t)
	_, adminToken := e.admin()
	ann, annToken := e.user("ann")
	tpl := e.template("manual")
	var group struct {
		ID string `json:"group_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/groups", adminToken, map[string]any{"name": "devs", "max_spaces": 1}).decode(t, &group)
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, adminToken, map[string]any{"max_spaces": 1, "groups": []string{group.ID}})

	e.must(http.StatusCreated, "POST", "/api/spaces", annToken, map[string]any{"name": "one", "template_id": tpl.ID})
	e.must(http.StatusCreated, "POST", "/api/spaces", annToken, map[string]any{"name": "two", "template_id": tpl.ID})
	before := e.revision()
	r := e.must(http.StatusInsufficientStorage, "POST", "/api/spaces", annToken, map[string]any{"name": "three", "template_id": tpl.ID})
	if !strings.Contains(r.errMsg(t), "space quota exceeded") {
		t.Fatalf("message %s", r.body)
	}
	if e.revision() != before {
		t.Fatal("store changed")
	}

	t.Run("ZeroMeansUnlimited", func(t *testing.T) {
		_, bobToken := e.user("bob")
		for _, n := range []string{"b1", "b2", "b3", "b4"} {
			e.must(http.StatusCreated, "POST", "/api/spaces", bobToken, map[string]any{"name": n, "template_id": tpl.ID})
		}
	})

	t.Run("ComputeUnitsAtStart", func(t *testing.T) {
		heavy := &shared.Template{Meta: shared.Meta{ID: newUUID(t)}, Name: "heavy", Kind: shared.TemplateManual, ComputeUnits: 3}
		heavy.Hash = heavy.ComputeHash()
		e.store.Put(context.Background(), heavy)
		carl, carlToken := e.user("carl")
		carl.ComputeUnits = 4
		e.store.Put(context.Background(), carl)
		a, b := e.space(carl, heavy, "a1"), e.space(carl, heavy, "b1")
		e.must(http.StatusOK, "POST", "/api/spaces/"+a.ID+"/start", carlToken, nil)
		r := e.must(http.StatusInsufficientStorage, "POST", "/api/spaces/"+b.ID+"/start", carlToken, nil)
		if !strings.Contains(r.errMsg(t), "compute unit quota") {
			t.Fatalf("message %s", r.body)
		}
	})
}

func TestManualOnlyController(t *testing.T) {
	e := newEnv(t, func(o *web.TestOptions) { o.Spaces = nil })
	ann, token := e.user("ann")
	manual := e.template("manual")
	container := &shared.Template{Meta: shared.Meta{ID: newUUID(t)}, Name: "box", Kind: shared.TemplateContainer, Spec: "image: x"}
	container.Hash = container.ComputeHash()
	e.store.Put(context.Background(), container)
	ms, cs := e.space(ann, manual, "hand"), e.space(ann, container, "boxed")

	t.Run("ManualSpacesStartAndStop", func(t *testing.T) {
		var out struct {
			State string `json:"state"`
		}
		e.must(http.StatusOK, "POST", "/api/spaces/"+ms.ID+"/start", token, nil).decode(t, &out)
		sp, _ := getRecord[shared.Space](e, ms.ID)
		if out.State != "running" || sp.State != shared.SpaceRunning || sp.StartedAt == nil {
			t.Fatalf("after start: %+v", sp)
		}
		e.must(http.StatusOK, "POST", "/api/spaces/"+ms.ID+"/start", token, nil) // idempotent
		e.must(http.StatusOK, "POST", "/api/spaces/"+ms.ID+"/stop", token, nil).decode(t, &out)
		if out.State != "stopped" {
			t.Fatalf("after stop: %+v", out)
		}
	})

	t.Run("ContainerSpacesAre503", func(t *testing.T) {
		for _, q := range []struct{ method, path string }{
			{"POST", "/api/spaces/" + cs.ID + "/start"}, {"POST", "/api/spaces/" + cs.ID + "/stop"}, {"DELETE", "/api/spaces/" + cs.ID},
		} {
			r := e.must(http.StatusServiceUnavailable, q.method, q.path, token, nil)
			if r.errMsg(t) != "no runtime is configured for container templates on this server" {
				t.Fatalf("message %s", r.body)
			}
		}
		if _, err := getRecord[shared.Space](e, cs.ID); err != nil {
			t.Fatalf("container space was removed: %v", err)
		}
	})

	t.Run("ManualSpaceDeleteRemovesTheRecord", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", "/api/spaces/"+ms.ID, token, nil)
		if _, err := getRecord[shared.Space](e, ms.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
	})
}

// On a leaf, templates and users arrive through Store.Apply, which does not
// move the store's own revision; the space list must still follow them.
func TestSpaceListFollowsAppliedChanges(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	tpl := e.template("before")
	e.space(ann, tpl, "work")
	var list spaceList
	e.must(http.StatusOK, "GET", "/api/spaces", token, nil).decode(t, &list)
	if list.Spaces[0].TemplateName != "before" {
		t.Fatalf("list = %+v", list)
	}

	renamed := *tpl
	renamed.Name = "after"
	renamed.Revision = 1000
	ch, err := storage.Encode(&renamed)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Apply(context.Background(), storage.Batch{Epoch: "origin", Changes: []shared.Change{ch}, Applied: 1000}); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, "GET", "/api/spaces", token, nil).decode(t, &list)
	if list.Spaces[0].TemplateName != "after" {
		t.Fatalf("list after an applied rename = %+v", list)
	}
}

func TestSpaceQuotaHoldsUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	ann.MaxSpaces = 3
	if err := e.store.Put(context.Background(), ann); err != nil {
		t.Fatal(err)
	}
	tpl := e.template("manual")
	const n = 10
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do("POST", "/api/spaces", token, map[string]any{"name": fmt.Sprintf("s%d", i), "template_id": tpl.ID}).code
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusInsufficientStorage:
			refused++
		default:
			t.Fatalf("concurrent create answered %d", c)
		}
	}
	if created != 3 || refused != n-3 {
		t.Fatalf("%d created and %d refused, want 3 and %d", created, refused, n-3)
	}
}
