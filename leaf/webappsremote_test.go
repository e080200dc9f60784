package leaf_test

import (
	"context"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// A web app host names the user's space of that name here, else their one
// space of that name elsewhere (relayed); several elsewhere are a conflict
// naming the locations, and a space deleted since it was found is not
// found again.
func TestWebAppHostsOfSpacesElsewhere(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	tmpl := "t1"
	for _, r := range []shared.Record{
		&shared.Template{Meta: shared.Meta{ID: tmpl}, Name: "web", Kind: shared.TemplateManual, HTTPPorts: []shared.HTTPPort{{Port: 8080, Name: "app"}}},
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID}},
		&shared.Space{Meta: shared.Meta{ID: "dev-here"}, Name: "dev", UserID: "ann", Location: "here", TemplateID: tmpl},
		&shared.Space{Meta: shared.Meta{ID: "dev-b"}, Name: "dev", UserID: "ann", Location: "b", TemplateID: tmpl},
		&shared.Space{Meta: shared.Meta{ID: "solo-a"}, Name: "solo", UserID: "ann", Location: "a", TemplateID: tmpl},
		&shared.Space{Meta: shared.Meta{ID: "web-a"}, Name: "web", UserID: "ann", Location: "a", TemplateID: tmpl},
		&shared.Space{Meta: shared.Meta{ID: "web-b"}, Name: "web", UserID: "ann", Location: "b", TemplateID: tmpl},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	a := leaf.NewAccess(leaf.AccessOptions{Location: "here", Store: st})
	ann := as("ann", shared.PermUseSpaces)
	for label, want := range map[string]string{"ann--dev--8080": "dev-here", "ANN--Solo--8080": "solo-a"} {
		// (This server has no agent endpoint: a space here is found, and
		// its port cannot be reached.)
		sp, port, err := a.AppSpace(ann, caller, label)
		if (err != nil && shared.ErrorCode(err) != shared.EUNAVAILABLE) || sp == nil || sp.ID != want || port != 8080 {
			t.Errorf("%s: %v, %d, %v; want %s", label, sp, port, err, want)
		}
	}
	_, _, err := a.AppSpace(ann, caller, "ann--web--8080")
	if shared.ErrorCode(err) != shared.ECONFLICT || !strings.Contains(err.Error(), "a, b") || !strings.Contains(err.Error(), "/proxy/spaces/") {
		t.Fatalf("a name at two other locations: %v, want ECONFLICT naming them and the path proxy", err)
	}
	if _, err := st.Delete(ctx, shared.KindSpace, "solo-a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.AppSpace(ann, caller, "ann--solo--8080"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("a space deleted since it was found: %v, want ENOTFOUND", err)
	}
}
