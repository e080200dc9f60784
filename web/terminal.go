package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
)

// Terminals: GET /api/spaces/{space_id}/terminal.
//
// Without an upgrade it answers {"sessions": [...]}, the terminal sessions
// the space's agent keeps. As a websocket it opens a terminal in the space,
// relayed by this server to the agent over the agent link, or, for a space
// of another location, through the origin to the leaf of that location
// (leaf.AgentStreams; 503 at once naming the location while the way there
// is down):
//
//   - query: attach=ID reattaches to a kept session; cols and rows size a
//     new one; cmd (repeated) runs that program in place of a login shell,
//     and pty=0 runs it, or the shell reading commands from its input,
//     without a terminal (for scripts).
//   - server → client: first a text message {"type":"session","id":ID},
//     then binary messages of terminal output (a reattach starts with the
//     session's replay), and at the end {"type":"exit","code":N,"reason":R}
//     and a normal close.
//   - client → server: binary messages are input; text messages are
//     {"type":"resize","cols":C,"rows":R} or {"type":"eof"}. A message
//     over 64 KiB or one that is not this closes the websocket with the
//     reason.
//
// Only the space's owner, or a user with Manage Spaces, opens a terminal;
// others get 404 as for the space itself, and the refusal is audited.
// Every open and close is audited with who, from where, how long it lasted
// and why it ended.

// handleAgentToken serves POST /api/spaces/{space_id}/agent-token: a new
// agent credential for a manual space, whose owner runs the agent, shown
// once. The space keeps only its hash, and an agent linked with the one
// before is cut at its next heartbeat. Container and Nomad spaces get
// theirs from knot at every start.
func (s *Server) handleAgentToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, token, env, err := s.access.MintAgentToken(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AgentToken{SpaceID: sp.ID, Token: token, Env: env})
	return nil
}

// terminalWriteTimeout bounds the sending of one message to a viewer.
const terminalWriteTimeout = 30 * time.Second

// handleTerminal serves GET /api/spaces/{space_id}/terminal.
func (s *Server) handleTerminal(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.access.Enter(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), leaf.Way{Kind: "terminal"})
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		list, err := s.access.Sessions(r.Context(), callerOf(r), sp)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, terminalSessions(list))
		return nil
	}
	return s.serveTerminal(w, r, sp)
}

// serveTerminal opens a terminal of sp over the websocket r asks for,
// and relays it until it ends.
func (s *Server) serveTerminal(w http.ResponseWriter, r *http.Request, sp *shared.Space) error {
	req, err := terminalRequest(r)
	if err != nil {
		return err
	}
	return pump(s, w, r, agentwire.MaxFrame+1, func() (*leaf.TerminalStream, *leaf.Visit, error) {
		return s.access.OpenTerminal(r.Context(), callerOf(r), sp, req)
	}, s.relayTerminal)
}

// terminalSessions is the API's list of the sessions an agent keeps.
func terminalSessions(list []agentwire.SessionInfo) api.TerminalSessions {
	out := api.TerminalSessions{Sessions: make([]api.TerminalSession, 0, len(list))}
	for _, si := range list {
		out.Sessions = append(out.Sessions, api.TerminalSession{ID: si.ID, Shell: si.Shell, Created: si.Created, Viewers: si.Viewers, Idle: si.Idle})
	}
	return out
}

// terminalRequest reads the query of a terminal websocket.
func terminalRequest(r *http.Request) (agentwire.Terminal, error) {
	q := r.URL.Query()
	t := agentwire.Terminal{Attach: q.Get("attach"), Command: q["cmd"]}
	for name, dst := range map[string]*uint16{"cols": &t.Cols, "rows": &t.Rows} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > agentwire.MaxSize {
			return t, invalid("query parameter %s must be a number from 1 to %d, not %s", name, agentwire.MaxSize, quote(v))
		}
		*dst = uint16(n)
	}
	switch q.Get("pty") {
	case "", "1", "true":
	case "0", "false":
		t.NoPTY = true
	default:
		return t, invalid("query parameter pty must be 0 or 1, not %s", quote(q.Get("pty")))
	}
	if err := t.Validate(); err != nil {
		return t, invalid("%v", err)
	}
	return t, nil
}

// relayTerminal copies between the websocket and the agent's stream until
// one ends, and returns why the terminal ended. It owns its two copying
// goroutines and returns after both.
func (s *Server) relayTerminal(ctx context.Context, conn *websocket.Conn, ts *leaf.TerminalStream, stop <-chan struct{}) string {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	write := func(typ websocket.MessageType, p []byte) error {
		wctx, wcancel := context.WithTimeout(ctx, terminalWriteTimeout)
		defer wcancel()
		return conn.Write(wctx, typ, p)
	}
	hello, _ := json.Marshal(api.TerminalMessage{Type: "session", ID: ts.ID})
	if err := write(websocket.MessageText, hello); err != nil {
		return "the viewer went away"
	}

	var (
		mu     sync.Mutex
		reason string
	)
	setReason := func(why string) {
		mu.Lock()
		if reason == "" {
			reason = why
		}
		mu.Unlock()
	}
	end := func(why string) {
		setReason(why)
		cancel()
		ts.Close()
	}
	var wg sync.WaitGroup
	wg.Go(func() { // agent → viewer
		for {
			kind, p, err := agentwire.ReadFrame(ts)
			if err != nil {
				var fe *agentwire.FrameError
				if errors.As(err, &fe) {
					end("the agent sent a bad frame: " + fe.Reason)
				} else {
					end("the agent link closed")
				}
				return
			}
			if kind == agentwire.KindData {
				if write(websocket.MessageBinary, p) != nil {
					end("the viewer went away")
					return
				}
				continue
			}
			var c agentwire.Control
			if agentwire.DecodeJSON(p, &c) != nil || c.Type != agentwire.CtlExit {
				continue
			}
			code := c.Code
			msg, _ := json.Marshal(api.TerminalMessage{Type: "exit", Code: &code, Reason: c.Reason})
			write(websocket.MessageText, msg)
			why := fmt.Sprintf("the program exited with code %d", code)
			if c.Reason != "" {
				why = "the session ended: " + c.Reason
			}
			setReason(why)
			conn.Close(websocket.StatusNormalClosure, why)
			end(why)
			return
		}
	})
	wg.Go(func() { // viewer → agent
		for {
			typ, p, err := conn.Read(ctx)
			if err != nil {
				switch {
				case ctx.Err() != nil:
				case websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway:
					end("the viewer closed it")
				case websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
					end("the viewer sent a message over 64 KiB")
				default:
					end("the viewer went away")
				}
				return
			}
			if typ == websocket.MessageBinary {
				if agentwire.WriteFrame(ts, agentwire.KindData, p) != nil {
					end("the agent link closed")
					return
				}
				continue
			}
			c, err := viewerControl(p)
			if err != nil {
				setReason("the viewer sent a bad message: " + err.Error())
				conn.Close(websocket.StatusPolicyViolation, err.Error())
				end("")
				return
			}
			if agentwire.WriteJSON(ts, c) != nil {
				end("the agent link closed")
				return
			}
		}
	})
	select {
	case <-ctx.Done():
	case <-stop:
		setReason("the server is shutting down")
		conn.Close(websocket.StatusGoingAway, "the server is shutting down")
		end("")
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return reason
}

// viewerControl checks a text message from a viewer.
func viewerControl(p []byte) (agentwire.Control, error) {
	var m api.TerminalMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return agentwire.Control{}, fmt.Errorf("a text message must be a JSON control message: %v", err)
	}
	c := agentwire.Control{Type: m.Type, Cols: m.Cols, Rows: m.Rows}
	if c.Type != agentwire.CtlResize && c.Type != agentwire.CtlEOF {
		return c, fmt.Errorf("unknown control message type %s: resize or eof", quote(m.Type))
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
