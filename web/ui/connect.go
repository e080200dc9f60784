package ui

// The page of the CLI's browser login, /connect (knot connect
// --use-web-auth; shared.ConnectRequest describes the flow). It shows the
// logged-in user which CLI asks for an API token; its script approves with
// POST /api/connect/approve (with the CSRF header, as every write of the
// UI) and sends the browser on to the CLI, or sends it there with a
// refusal.

import (
	"net/http"
	"strconv"

	"github.com/knot-dev/knot/shared"
)

// connectPage is the template and script of the page.
const connectPage = "connect"

// handleConnect serves /connect?port=N&state=S&challenge=C&host=H to a
// logged-in user: a user who is not is sent to log in (with two-factor
// login when the server uses it) and comes back here. A request the CLI
// did not make as knot connect does is refused with 400 saying what is
// wrong.
func (u *UI) handleConnect(w http.ResponseWriter, r *http.Request) {
	a, ok := u.user(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	cr := shared.ConnectRequest{State: q.Get("state"), Challenge: q.Get("challenge"), Host: q.Get("host")}
	cr.Port, _ = strconv.Atoi(q.Get("port")) // not a number: 0, which Check refuses
	if err := cr.Check(); err != nil {
		u.showError(w, r, a, shared.Errorf(shared.EINVALID, "this is not a request of knot connect --use-web-auth: %s", shared.ErrorMessage(err)))
		return
	}
	d := u.pageData(a, connectPage, "Connect the knot CLI")
	d.Connect = &cr
	u.render(w, r, http.StatusOK, connectPage, d)
}
