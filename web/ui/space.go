package ui

// The page of one space: /spaces/{space_id}. The server renders its shell;
// its scripts read the space, its logs and its terminal from the API, which
// checks every permission again.

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// spacePage is the template and script of the space page.
const (
	spacePage  = "space"
	spacesPage = "spaces"
)

// handleSpace serves the page of the space {space_id} to those the space
// service shows it to (its owner, or a user with Manage Spaces); others get
// the API's refusal: 403 without a spaces permission, else 404, as for a
// space that does not exist.
func (u *UI) handleSpace(w http.ResponseWriter, r *http.Request) {
	a, ok := u.user(w, r)
	if !ok {
		return
	}
	spaces := pageNamed("spaces")
	if !spaces.allowed(a) {
		u.showError(w, r, a, shared.Errorf(shared.EFORBIDDEN, "the space page needs %s, which you do not have", spaces.needs))
		return
	}
	sp, err := u.d.Spaces.Get(shared.NewContextWithActor(r.Context(), a), chi.URLParam(r, "space_id"))
	if err != nil {
		u.showError(w, r, a, err)
		return
	}
	d := u.pageData(a, spacePage, sp.Name)
	for i := range d.Nav {
		d.Nav[i].Current = d.Nav[i].Href == spaces.path
	}
	d.SpaceID, d.SpaceName, d.Shells = sp.ID, sp.Name, shared.Shells
	u.render(w, r, http.StatusOK, spacePage, d)
}
