package client

import (
	"context"
	"strconv"

	"github.com/coder/websocket"
)

// MaxPortMessage is the largest message of a forwarded-port websocket.
const MaxPortMessage = 64 << 10

// ForwardPort opens one connection to 127.0.0.1:port inside a space (GET
// /api/spaces/{space_id}/ports/{port} as a websocket); ctx bounds the dial
// only. Binary messages carry the bytes both ways; a text message
// {"type":"eof"} says the sender writes no more. The caller closes it.
func (s *Spaces) ForwardPort(ctx context.Context, id string, port int) (*websocket.Conn, error) {
	conn, err := s.c.dial(ctx, "/api/spaces/"+esc(id)+"/ports/"+strconv.Itoa(port), "cannot forward a port of a space")
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(MaxPortMessage)
	return conn, nil
}
