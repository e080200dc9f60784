package web

// The page of one space: /spaces/{space_id}. The server renders its shell;
// its scripts read the space, its logs and its terminal from the API, which
// checks every permission again.

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
)

// uiSpacePage is the template and script of the space page.
const uiSpacePage = "space"

// handleUISpace serves the page of the space {space_id} to those the API
// shows it to (its owner, or a user with Manage Spaces); others get the
// API's refusal: 403 without a spaces permission, else 404, as for a space
// that does not exist.
func (s *Server) handleUISpace(w http.ResponseWriter, r *http.Request) {
	p, ok := s.uiUser(w, r)
	if !ok {
		return
	}
	spaces := uiPageNamed("spaces")
	if !spaces.allowed(p) {
		s.uiError(w, r, p, forbidden("the space page needs %s, which you do not have", spaces.needs))
		return
	}
	ctx := shared.NewContextWithActor(r.Context(), actorOf(p))
	sp, err := s.accessSpace(ctx, r, p)
	if err != nil {
		s.uiError(w, r, p, err)
		return
	}
	d := s.uiData(p, uiSpacePage, sp.Name)
	for i := range d.Nav {
		d.Nav[i].Current = d.Nav[i].Href == spaces.path
	}
	d.SpaceID, d.SpaceName, d.Shells = sp.ID, sp.Name, shared.Shells
	s.render(w, r, http.StatusOK, uiSpacePage, d)
}

// uiPageNamed returns the page of uiPages named name.
func uiPageNamed(name string) uiPage {
	for _, p := range uiPages {
		if p.name == name {
			return p
		}
	}
	panic("web: no UI page " + name)
}
