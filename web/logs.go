package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/api"
)

// SpaceLogs keeps the logs of the spaces this server runs;
// *runtime.Manager is one.
type SpaceLogs = leaf.SpaceLogs

// handleSpaceLogs serves GET /api/spaces/{space_id}/logs: the recent lines
// of the space's log, oldest first; for a space of another location, as
// its leaf, which keeps them, answers through the relay.
func (s *Server) handleSpaceLogs(w http.ResponseWriter, r *http.Request, p *principal) error {
	lines, _, _, err := s.access.Logs(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), false)
	if err != nil {
		return err
	}
	res := api.SpaceLogs{Lines: []string{}, Entries: []api.LogLine{}}
	for _, e := range lines {
		l := leaf.NewLogLine(e)
		res.Lines = append(res.Lines, l.Line)
		res.Entries = append(res.Entries, l)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// logWriteTimeout bounds the sending of one line to a follower.
const logWriteTimeout = 10 * time.Second

// handleSpaceLogStream serves GET /api/spaces/{space_id}/logs/stream: a
// websocket that carries the recent lines of the space's log and then every
// new line, one api.LogLine as JSON a text message. It ends with 1000 when the
// log ends (the space was deleted) and with 1001 when the server shuts down;
// it ends without a close message when the client goes away or does not
// take a line within logWriteTimeout. Browsers authenticate with the
// session cookie: the upgrade is refused to a page of another origin. The
// log of a space of another location is relayed from its leaf; it ends
// with 1000 too when the relay does.
func (s *Server) handleSpaceLogStream(w http.ResponseWriter, r *http.Request, p *principal) error {
	lines, next, cancel, err := s.access.Logs(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), true)
	if err != nil {
		return err
	}
	defer cancel()
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return invalid("GET %s is a websocket; GET %s answers the recent lines", r.URL.Path, strings.TrimSuffix(r.URL.Path, "/stream"))
	}
	stop, done, err := s.streams.Open()
	if err != nil {
		return err
	}
	defer done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept wrote the response
	}
	defer conn.CloseNow()
	// The client sends nothing; gone ends when it closes or goes away.
	gone := conn.CloseRead(context.WithoutCancel(r.Context()))
	leaf.SendLog(gone, conn, lines, next, stop, logWriteTimeout)
	return nil
}

// pump opens a stream to a space's agent with open, while the server is
// not shutting down, upgrades r to a websocket whose messages are at most
// limit bytes, and relays between the two until relay returns; the visit
// records when the relay began and why it ended. An error comes before the
// upgrade, for the caller to write.
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
	conn.SetReadLimit(limit)
	visit.Begin()
	visit.End(relay(r.Context(), conn, st, stop))
	return nil
}
