package web

import (
	"net/http"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/wire"
)

// Streams to the agents of spaces at any location (see package leaf,
// streams.go, for relay against redirect): the terminal handler, and any
// handler of another kind of agent stream, asks s.agentStreams for a stream
// to a space whether it runs here or elsewhere.

// setupStreams gives, on an origin, the server's agent streams their way
// to other locations, the hub, and the hub its way to this location's
// (a leaf's uplink gets them in leaf.NewLocal).
func (s *Server) setupStreams() {
	if s.hub != nil {
		s.agentStreams.SetRemote(s.hub)
		s.hub.SetRelayLocal(s.agentStreams.ServeRelayed)
	}
}

// callerOf is where r came from, for the audit log of the ways into
// spaces.
func callerOf(r *http.Request) leaf.Caller {
	return leaf.Caller{IP: clientIP(r), UserAgent: r.UserAgent(), ForwardedFor: r.Header.Get("X-Forwarded-For")}
}

// handleLeafRelay serves GET /api/leaf-relay, the relay channel of a leaf
// (wire.RelayPath): authenticated as the leaf link (401 with the reason),
// it must belong to a live link of the same node (409), and is handed to
// the hub after the upgrade to a websocket with the subprotocol
// knot-relay.v1.
func (s *Server) handleLeafRelay(w http.ResponseWriter, r *http.Request) {
	cred, err := s.leafCredential(r, wire.RelaySubprotocol, "the relay channel")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	node, location := r.URL.Query().Get("node"), r.URL.Query().Get("location")
	if err := s.hub.CheckRelay(cred, node, location); err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.RelaySubprotocol}})
	if err != nil {
		return // Accept wrote the response
	}
	if err := s.hub.AcceptRelay(conn, cred, node, location); err != nil {
		s.log.Debug("leaf relay channel refused", "remote", r.RemoteAddr, "err", err)
	}
}
