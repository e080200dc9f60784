package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// SpaceLogs keeps the logs of the spaces this server runs; *runtime.Manager
// is one.
type SpaceLogs interface {
	// Logs returns the log of the space, oldest line first.
	Logs(spaceID string) []runtime.LogEntry
	// Follow returns the log of the space as Logs does and a channel of the
	// lines that follow, in order. The channel is closed after cancel is
	// called, or when the log ends (the space was deleted). Follow never
	// makes the log wait for a slow reader.
	Follow(spaceID string) (lines []runtime.LogEntry, next <-chan runtime.LogEntry, cancel func())
}

var _ SpaceLogs = (*runtime.Manager)(nil)

func newLogLine(e runtime.LogEntry) api.LogLine {
	at := e.At.UTC()
	return api.LogLine{At: at, Level: e.Level, Text: e.Text, Line: at.Format(time.RFC3339) + " " + e.Level + " " + e.Text}
}

// spaceWithLogs returns the space named by {space_id}, to those who may see
// it (see accessSpace), on a server that keeps logs.
func (s *Server) spaceWithLogs(r *http.Request, p *principal) (*shared.Space, error) {
	sp, err := s.accessSpace(r.Context(), r, p)
	if err != nil {
		return nil, err
	}
	if s.remote(sp) {
		return nil, shared.Errorf(shared.ECONFLICT, "space %s runs at location %s, which keeps its logs: read them at that location's server", quote(sp.Name), quote(sp.Location))
	}
	if s.logs == nil {
		return nil, notFound("this server keeps no space logs")
	}
	return sp, nil
}

// handleSpaceLogs serves GET /api/spaces/{space_id}/logs: the recent lines
// of the space's log, oldest first.
func (s *Server) handleSpaceLogs(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.spaceWithLogs(r, p)
	if err != nil {
		return err
	}
	res := api.SpaceLogs{Lines: []string{}, Entries: []api.LogLine{}}
	for _, e := range s.logs.Logs(sp.ID) {
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
// session cookie: the upgrade is refused to a page of another origin.
func (s *Server) handleSpaceLogStream(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.spaceWithLogs(r, p)
	if err != nil {
		return err
	}
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
	lines, next, cancel := s.logs.Follow(sp.ID)
	defer cancel()
	// The client sends nothing; gone ends when it closes or goes away.
	gone := conn.CloseRead(context.WithoutCancel(r.Context()))
	send := func(e runtime.LogEntry) bool {
		ctx, cancel := context.WithTimeout(gone, logWriteTimeout)
		defer cancel()
		return wsjson.Write(ctx, conn, newLogLine(e)) == nil
	}
	for _, e := range lines {
		if !send(e) {
			return nil
		}
	}
	for {
		select {
		case e, ok := <-next:
			if !ok {
				conn.Close(websocket.StatusNormalClosure, "the log has ended")
				return nil
			}
			if !send(e) {
				return nil
			}
		case <-gone.Done():
			return nil
		case <-stop:
			conn.Close(websocket.StatusGoingAway, "the server is shutting down")
			return nil
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
