package web

// Forwarded ports: GET /api/spaces/{space_id}/ports/{port}, a websocket
// that carries one TCP connection to 127.0.0.1:PORT inside the space,
// relayed by this server over the agent link (knot forward port opens one
// per local connection).
//
//   - Binary messages carry the connection's bytes both ways. A text
//     message {"type":"eof"} says the sender's side will write no more
//     (a TCP half-close); the connection ends when both sides said so, or
//     at once when either closes the websocket or the space's program
//     closes its connection.
//   - The owner of the space, or a user with Manage Spaces, may forward
//     any port; anyone else gets 404 as for the space, audited. Nothing
//     listening on the port is 400 with the agent's reason, before the
//     upgrade. server.disable_proxy turns forwarding off (403).
//   - Every connection is audited when it ends: who, from where, the
//     port, how long it lasted, the bytes each way and why it ended.

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
)

// maxForwardMessage bounds a message of a forwarded-port websocket.
const maxForwardMessage = 64 << 10

// portParam reads the port of a route, 1 to 65535.
func portParam(r *http.Request) (int, error) {
	v := chi.URLParam(r, "port")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != v {
		return 0, invalid("port must be a number from 1 to 65535, not %s", quote(v))
	}
	return n, nil
}

// handleForwardPort serves GET /api/spaces/{space_id}/ports/{port}.
func (s *Server) handleForwardPort(w http.ResponseWriter, r *http.Request, p *principal) error {
	port, err := portParam(r)
	if err != nil {
		return err
	}
	way := leaf.Way{Kind: "port forward", Port: port}
	sp, err := s.access.Forward(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), way)
	if err != nil {
		return err
	}
	return pump(s, w, r, maxForwardMessage, func() (*leaf.PortConn, *leaf.Visit, error) {
		return s.access.DialPort(r.Context(), callerOf(r), sp, way)
	}, leaf.RelayPort)
}
