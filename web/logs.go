package web

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
)

// The ways into spaces that are websockets (terminals, SSH, forwarded
// ports, log streams; see openapi.yaml) go through pump; package leaf
// checks who may open them, opens them and copies.

// handleSpaceLogs serves GET /api/spaces/{space_id}/logs: the recent lines
// of the space's log, oldest first; for a space of another location, as
// its leaf, which keeps them, answers through the relay.
func (s *Server) handleSpaceLogs(w http.ResponseWriter, r *http.Request, p *principal) error {
	lines, _, _, err := s.access.Logs(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, leaf.NewSpaceLogs(lines))
	return nil
}

// handleSpaceLogStream serves GET /api/spaces/{space_id}/logs/stream, a
// websocket of the recent lines of the space's log and then every new
// one (leaf.RelayLog). Browsers authenticate with the session cookie: the
// upgrade is refused to a page of another origin.
func (s *Server) handleSpaceLogStream(w http.ResponseWriter, r *http.Request, p *principal) error {
	lines, next, cancel, err := s.access.Logs(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), true)
	if err != nil {
		return err
	}
	defer cancel()
	if !isWebsocket(r) {
		return invalid("GET %s is a websocket; GET %s answers the recent lines", r.URL.Path, strings.TrimSuffix(r.URL.Path, "/stream"))
	}
	return pump(s, w, r, 0, func() (*leaf.LogStream, *leaf.Visit, error) {
		return &leaf.LogStream{Lines: lines, Next: next}, nil, nil
	}, leaf.RelayLog)
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// pump opens a stream to a space with open, while the server is not
// shutting down, upgrades r to a
// websocket whose messages are at most limit bytes (0: the library's
// bound), and relays between the two until relay returns; the visit, if
// any, records when the relay began and why it ended. An error comes
// before the upgrade, for the caller to write.
func pump[T io.Closer](s *Server, w http.ResponseWriter, r *http.Request, limit int64,
	open func() (T, *leaf.Visit, error),
	relay func(ctx context.Context, v leaf.Viewer, st T, stop <-chan struct{}) string) error {
	stop, done, err := s.streams.Open()
	if err != nil {
		return err
	}
	defer done()
	st, visit, err := open()
	if err != nil {
		return err
	}
	defer st.Close()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept wrote the response
	}
	defer conn.CloseNow()
	if limit > 0 {
		conn.SetReadLimit(limit)
	}
	visit.Begin()
	visit.End(relay(r.Context(), conn, st, stop))
	return nil
}
