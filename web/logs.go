package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// SpaceLogs keeps the logs of the spaces this server runs;
// *runtime.Manager is one.
type SpaceLogs = leaf.SpaceLogs

func newLogLine(e shared.SpaceLogEntry) api.LogLine {
	at := e.At.UTC()
	return api.LogLine{At: at, Level: e.Level, Text: e.Text, Line: at.Format(time.RFC3339) + " " + e.Level + " " + e.Text}
}

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
		l := newLogLine(e)
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
// new line, one logLine as JSON a text message. It ends with 1000 when the
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
	stop, done, ok := s.streams.open()
	if !ok {
		return shared.Errorf(shared.EUNAVAILABLE, "the server is shutting down")
	}
	defer done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept wrote the response
	}
	defer conn.CloseNow()
	// The client sends nothing; gone ends when it closes or goes away.
	gone := conn.CloseRead(context.WithoutCancel(r.Context()))
	sendLog(gone, conn, lines, next, stop)
	return nil
}

// sendLog sends lines and then every line of next to conn until next is
// closed (1000), stop is (1001), or gone ends or a line is not taken in
// time (no close message).
func sendLog(gone context.Context, conn *websocket.Conn, lines []shared.SpaceLogEntry, next <-chan shared.SpaceLogEntry, stop <-chan struct{}) {
	send := func(e shared.SpaceLogEntry) bool {
		ctx, cancel := context.WithTimeout(gone, logWriteTimeout)
		defer cancel()
		return wsjson.Write(ctx, conn, newLogLine(e)) == nil
	}
	for _, e := range lines {
		if !send(e) {
			return
		}
	}
	for {
		select {
		case e, ok := <-next:
			if !ok {
				conn.Close(websocket.StatusNormalClosure, "the log has ended")
				return
			}
			if !send(e) {
				return
			}
		case <-gone.Done():
			return
		case <-stop:
			conn.Close(websocket.StatusGoingAway, "the server is shutting down")
			return
		}
	}
}

// streams are the websockets a Server holds open. http.Server.Shutdown
// neither closes nor waits for them (they are hijacked connections), so Run
// calls close. The zero value is ready for use.
type streams struct {
	mu     sync.Mutex
	closed bool          // guarded by mu
	stop   chan struct{} // guarded by mu; closed by close
	wg     sync.WaitGroup
}

// open registers a stream: it is to end when stop is closed and to call
// done when it has. ok is false once the server is shutting down.
func (st *streams) open() (stop <-chan struct{}, done func(), ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, nil, false
	}
	if st.stop == nil {
		st.stop = make(chan struct{})
	}
	st.wg.Add(1)
	return st.stop, st.wg.Done, true
}

// pump opens a stream to a space's agent with open, while the server is
// not shutting down, upgrades r to a websocket whose messages are at most
// limit bytes, and relays between the two until relay returns; the visit
// records when the relay began and why it ended. An error comes before the
// upgrade, for the caller to write.
func pump[T io.Closer](s *Server, w http.ResponseWriter, r *http.Request, limit int64,
	open func() (T, *leaf.Visit, error),
	relay func(ctx context.Context, conn *websocket.Conn, st T, stop <-chan struct{}) string) error {
	stop, done, ok := s.streams.open()
	if !ok {
		return shared.Errorf(shared.EUNAVAILABLE, "the server is shutting down")
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

// close tells every stream to end, refuses new ones, and waits for them to
// end or for ctx to.
func (st *streams) close(ctx context.Context) {
	st.mu.Lock()
	if !st.closed {
		st.closed = true
		if st.stop != nil {
			close(st.stop)
		}
	}
	st.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
	}
}
