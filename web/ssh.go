package web

import (
	"net"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// SSH: GET /api/spaces/{space_id}/ssh.
//
// Without an upgrade it answers api.SpaceSSH: the name ssh-config gives
// the space and its host keys (the space's own made on first use for a
// space older than host keys; those of the image's own sshd first, when
// its agent reported them). As a websocket it carries one SSH connection, relayed to the
// space's agent, which serves SSH with the space's host key and lets in
// the keys of the caller's profile: binary messages both ways are the
// connection's bytes (knot forward ssh is the client), and a text message
// {"type":"eof"} either way is a half-close, as on a forwarded port: its
// sender wrote its last byte, and the other direction goes on until it
// ends too (leaf.RelaySSH).
//
// Only the space's owner, or a user with Manage Spaces, gets in; others
// get 404, and the refusal is audited. Every connection is audited when it
// opens and when it closes, with how long it lasted and the bytes each way.

// sshReadLimit bounds one websocket message of an SSH connection.
const sshReadLimit = 1 << 20

// handleSSH serves GET /api/spaces/{space_id}/ssh.
func (s *Server) handleSSH(w http.ResponseWriter, r *http.Request, p *principal) error {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		sp, err := s.access.SSH(r.Context(), callerOf(r), chi.URLParam(r, "space_id"))
		if err != nil {
			return err
		}
		return s.serveSSH(w, r, sp)
	}
	sp, err := s.accessSpace(r.Context(), r, p)
	if err != nil {
		return err
	}
	if sp, err = s.access.HostKey(r.Context(), sp); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.SpaceSSH{SpaceID: sp.ID, Host: "knot." + sp.Name, HostKey: sp.HostKey(), HostKeys: sp.HostKeys()})
	return nil
}

// serveSSH relays one SSH connection to the agent of sp over the
// websocket r asks for; the Visit audits it.
func (s *Server) serveSSH(w http.ResponseWriter, r *http.Request, sp *shared.Space) error {
	return pump(s, w, r, sshReadLimit, func() (net.Conn, *leaf.Visit, error) {
		return s.access.OpenSSH(r.Context(), callerOf(r), sp)
	}, leaf.RelaySSH)
}
