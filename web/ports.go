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
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/api"
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
	}, relayPort)
}

// relayPort copies between the websocket and the port connection until
// both directions ended or either broke, and returns why it ended. It
// owns its two goroutines and returns after both.
func relayPort(ctx context.Context, conn *websocket.Conn, pc *leaf.PortConn, stop <-chan struct{}) string {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var (
		mu     sync.Mutex
		reason string
		eofs   int // sides that wrote their last byte
	)
	end := func(why string, cut bool) {
		mu.Lock()
		if reason == "" {
			reason = why
		}
		mu.Unlock()
		if cut {
			cancel()
			pc.Close()
		}
	}
	// halfClosed notes that one side wrote its last byte; after both, the
	// connection ended well.
	halfClosed := func() {
		mu.Lock()
		eofs++
		both := eofs == 2
		mu.Unlock()
		if both {
			conn.Close(websocket.StatusNormalClosure, "")
			end("the connection ended", true)
		}
	}
	eof, _ := json.Marshal(api.TerminalMessage{Type: "eof"})
	var wg sync.WaitGroup
	wg.Go(func() { // space → client, in messages as large as the client takes
		buf := make([]byte, maxForwardMessage)
		for {
			n, err := pc.Read(buf)
			if n > 0 {
				wctx, wcancel := context.WithTimeout(ctx, terminalWriteTimeout)
				werr := conn.Write(wctx, websocket.MessageBinary, buf[:n])
				wcancel()
				if werr != nil {
					end("the client went away", true)
					return
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if conn.Write(ctx, websocket.MessageText, eof) != nil {
					end("the client went away", true)
					return
				}
				halfClosed()
				return
			}
		}
	})
	wg.Go(func() { // client → space, each message read into one buffer
		buf := make([]byte, maxForwardMessage)
		gone := func(err error) {
			switch {
			case ctx.Err() != nil:
			case websocket.CloseStatus(err) == websocket.StatusNormalClosure:
				end("the client closed it", true)
			case websocket.CloseStatus(err) == websocket.StatusMessageTooBig || strings.Contains(err.Error(), "read limited"):
				end("the client sent a message over 64 KiB", true)
			default:
				end("the client went away", true)
			}
		}
		for {
			typ, r, err := conn.Reader(ctx)
			if err != nil {
				gone(err)
				return
			}
			text := 0
			for {
				n, err := r.Read(buf[text:])
				if typ == websocket.MessageBinary && n > 0 {
					if _, werr := pc.Write(buf[:n]); werr != nil {
						end("the space's program closed the connection", true)
						return
					}
				} else if text += n; text == len(buf) {
					break // no eof message is this long
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					gone(err)
					return
				}
			}
			if typ == websocket.MessageBinary {
				continue
			}
			var m api.TerminalMessage
			if text == len(buf) || json.Unmarshal(buf[:text], &m) != nil || m.Type != "eof" {
				conn.Close(websocket.StatusPolicyViolation, `a text message must be {"type":"eof"}`)
				end("the client sent a bad message", true)
				return
			}
			pc.CloseWrite()
			halfClosed()
		}
	})
	select {
	case <-ctx.Done():
	case <-stop:
		conn.Close(websocket.StatusGoingAway, "the server is shutting down")
		end("the server is shutting down", true)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return reason
}
