package ui

import (
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// Every page of a leaf behind the login carries the place of the banner
// that says when the origin is unreachable (originbanner.js fills it in),
// with the script that fills it; the login page, which no user is on yet,
// does not.
func TestLeafPagesHaveTheOriginBanner(t *testing.T) {
	ann := &shared.Actor{User: &shared.User{Username: "ann"}, Permissions: shared.PermissionsOf([]shared.Permission{shared.PermUseSpaces})}
	for _, p := range []string{"/spaces", "/templates", "/tokens", "/users"} {
		body := serve(t, ann, nil, p).Body.String()
		if !strings.Contains(body, `id="origin-banner"`) {
			t.Errorf("%s on a leaf has no origin banner", p)
		}
	}
	if body := serve(t, nil, shared.Errorf(shared.EUNAUTHORIZED, "log in"), "/login").Body.String(); strings.Contains(body, `id="origin-banner"`) {
		t.Error("the login page has the origin banner")
	}
	shell := string(assets["js/shell.js"].body)
	if !strings.Contains(shell, "originbanner.js") {
		t.Error("shell.js, which every page behind the login loads, does not load originbanner.js")
	}
}
