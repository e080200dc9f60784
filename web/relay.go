package web

import (
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared/wire"
)

// The websockets of an origin's leaves: the leaf link and the relay
// channel, which web upgrades and authenticates and package origin's hub
// serves. The hub, told by leaf.NewLocal, relays the streams to the agents
// of spaces at other locations (see package leaf, streams.go).

// handleLeafServer serves GET /api/leaf-server, the link of a leaf: it
// authenticates the leaf's bearer credential (401 with the reason when it
// is refused), upgrades to a websocket with the subprotocol knot-leaf.v1,
// and hands the connection to the hub.
func (s *Server) handleLeafServer(w http.ResponseWriter, r *http.Request) {
	cred, err := s.leafCredential(r, wire.Subprotocol, "the leaf link")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := websocket.Accept(linkBuffers{w}, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		return // Accept wrote the response
	}
	// Accept answers the leaf's hello and returns: the link goes on in
	// goroutines of its own, and the hub ends it when it stops.
	if err := s.o.Hub.Accept(r.Context(), conn, cred); err != nil {
		s.log.Debug("leaf link refused", "remote", r.RemoteAddr, "err", err)
	}
}

// leafCredential authenticates the bearer credential of a leaf's
// websocket at an origin (a refusal goes to the hub's throttled log), and
// checks that the request offers subprotocol, the one of what.
func (s *Server) leafCredential(r *http.Request, subprotocol, what string) (origin.Credential, error) {
	if s.o.Hub == nil {
		return origin.Credential{}, notFound("this server is not an origin and takes no leaves: set server.shared_token on the server leaves connect to")
	}
	if cred, err := s.o.Hub.AuthenticateFrom(r.Context(), bearer(r), r.RemoteAddr); err != nil || offers(r, subprotocol) {
		return cred, err
	}
	return origin.Credential{}, invalid("%s is a websocket with the subprotocol %s", what, subprotocol)
}

// handleLeafRelay serves GET /api/leaf-relay, the relay channel of a leaf
// (wire.RelayPath): authenticated as the leaf link (401 with the reason),
// it must belong to a live link of the same node (409), and is handed to
// the hub after the upgrade to a websocket with the subprotocol
// knot-relay.v1.
func (s *Server) handleLeafRelay(w http.ResponseWriter, r *http.Request) {
	cred, err := s.leafCredential(r, wire.RelaySubprotocol, "the relay channel")
	if err == nil {
		err = s.o.Hub.CheckRelay(cred, r.URL.Query().Get("node"), r.URL.Query().Get("location"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.RelaySubprotocol}})
	if err != nil {
		return // Accept wrote the response
	}
	if err := s.o.Hub.AcceptRelay(conn, cred, r.URL.Query().Get("node"), r.URL.Query().Get("location")); err != nil {
		s.log.Debug("leaf relay channel refused", "remote", r.RemoteAddr, "err", err)
	}
}

// offers reports whether the request offers the websocket subprotocol p.
func offers(r *http.Request, p string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, s := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), p) {
				return true
			}
		}
	}
	return false
}

// callerOf is where r came from, for the audit log of the ways into
// spaces.
func callerOf(r *http.Request) leaf.Caller {
	return leaf.Caller{IP: clientIP(r), UserAgent: r.UserAgent(), ForwardedFor: r.Header.Get("X-Forwarded-For")}
}
