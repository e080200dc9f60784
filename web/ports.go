package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
)

// portParam reads the port of a route, 1 to 65535.
func portParam(r *http.Request) (int, error) {
	v := chi.URLParam(r, "port")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != v {
		return 0, invalid("port must be a number from 1 to 65535, not %s", quote(v))
	}
	return n, nil
}

// handleForwardPort serves GET /api/spaces/{space_id}/ports/{port}, a
// websocket that carries one TCP connection to the port in the space
// (leaf.RelayPort) in messages of at most 64 KiB.
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
	return pump(s, w, r, 64<<10, func() (*leaf.PortConn, *leaf.Visit, error) {
		return s.access.DialPort(r.Context(), callerOf(r), sp, way)
	}, leaf.RelayPort)
}
