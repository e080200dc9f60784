package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
)

// The relay channel: streams to the agents of spaces at other locations.
//
// The leaf link carries the replication; streams to agents (terminals,
// SSH, forwarded ports and web apps) go over a second connection
// the leaf keeps to the origin while its link is up, because the origin
// cannot count on reaching a leaf, but every leaf reaches the origin:
//
//   - The leaf dials GET RelayPath?node=NODE&location=LOCATION with the
//     link's credential (Authorization: Bearer) and the subprotocol
//     RelaySubprotocol. The origin authenticates it exactly as the link and
//     takes it only for the location of a live link of the same node on a
//     credential of the same holder; it ends with that link.
//   - The websocket carries binary messages wrapped in yamux; the origin is
//     the yamux client. Either side opens streams: the origin to reach a
//     space at the leaf's location, the leaf to reach a space at another
//     location through the origin (leaf → origin → leaf).
//   - Every stream starts with one RelayOpen from the side that opens it,
//     framed as an agentwire JSON frame of at most MaxRelayHeader bytes,
//     and the other side answers one RelayReply. An error in the reply, or
//     a header that is not valid, closes the stream with that reason. After
//     a reply without an error the stream carries the agent stream
//     unchanged: first the agent's own answer to Open (agentwire.Opened for
//     a terminal), then its frames.
//   - The receiving side checks everything itself: a leaf opens a stream
//     only to a space of its own location, for a user of its replica who
//     owns the space or holds Manage Spaces, and audits it as a local one,
//     with Via naming the servers the stream came through.
const (
	RelayPath        = "/api/leaf-relay"
	RelaySubprotocol = "knot-relay.v1"
	// MaxRelayHeader bounds the payload of a RelayOpen or RelayReply frame.
	MaxRelayHeader = 12 << 10
	// MaxRelayStreams bounds the streams open at once on one relay channel,
	// in each direction.
	MaxRelayStreams = 256
)

// relayKinds are the agent stream kinds (agentwire.Open.Type) a relay
// carries; the other kinds are the agent link's own.
var relayKinds = map[string]bool{agentwire.OpenTerminal: true, agentwire.OpenSessions: true,
	agentwire.OpenSSH: true, agentwire.OpenPort: true}

// RelayKind reports whether streams of kind (an agentwire.Open.Type) may be
// relayed. A new kind of agent stream is added here when it is.
func RelayKind(kind string) bool { return relayKinds[kind] }

// RelayOpen is the header of a relayed stream.
type RelayOpen struct {
	// SpaceID is the space whose agent the stream is for.
	SpaceID string `json:"space_id"`
	// UserID is the user who opens the stream, whom the receiver checks.
	UserID string `json:"user_id"`
	// From is the client's address, for the audit log.
	From string `json:"from,omitempty"`
	// Via names the servers the stream came through, set by the origin
	// (what a leaf sends is replaced).
	Via string `json:"via,omitempty"`
	// Open is what the agent is asked for, as on the agent link; empty
	// with Ask.
	Open agentwire.Open `json:"open"`
	// Ask is what the space's leaf is asked for itself rather than its
	// agent (relayasks.go); "" for an agent stream.
	Ask string `json:"ask,omitempty"`
}

// Validate checks o's fields and that its kind is relayed.
func (o *RelayOpen) Validate() error {
	switch {
	case o.SpaceID == "" || len(o.SpaceID) > 64 || !printableASCII(o.SpaceID):
		return errors.New("relay: space_id must be 1 to 64 printable characters")
	case o.UserID == "" || len(o.UserID) > 64 || !printableASCII(o.UserID):
		return errors.New("relay: user_id must be 1 to 64 printable characters")
	case len(o.From) > 256 || !utf8.ValidString(o.From):
		return errors.New("relay: from must be at most 256 bytes of UTF-8")
	case len(o.Via) > 256 || !utf8.ValidString(o.Via):
		return errors.New("relay: via must be at most 256 bytes of UTF-8")
	case o.Ask != "":
		if !relayAsks[o.Ask] || o.Open.Type != "" {
			return fmt.Errorf("relay: ask %.32q is not one a leaf answers, or comes with an agent stream", o.Ask)
		}
		return nil
	case !RelayKind(o.Open.Type):
		return fmt.Errorf("relay: streams of kind %.32q are not relayed", o.Open.Type)
	}
	return o.Open.Validate()
}

// RelayReply answers a RelayOpen: Code and Error (a shared error code and
// its message) when the stream is refused, nothing when it goes on.
type RelayReply struct {
	Code  string `json:"code,omitempty"`
	Error string `json:"reason,omitempty"`
}

// Validate bounds r.
func (r *RelayReply) Validate() error {
	if len(r.Code) > 32 || len(r.Error) > 2048 || (r.Code == "") != (r.Error == "") {
		return errors.New("relay: a reply holds a code and an error of at most 2 KiB, or neither")
	}
	return nil
}

// Err returns the refusal r carries as a *shared.Error, nil when there is
// none.
func (r *RelayReply) Err() error {
	if r.Error == "" {
		return nil
	}
	return shared.Errorf(r.Code, "%s", r.Error)
}

// ReplyOf returns the reply that refuses with err, or accepts for nil.
func ReplyOf(err error) RelayReply {
	if err == nil {
		return RelayReply{}
	}
	msg := shared.ErrorMessage(err)
	if len(msg) > 2048 {
		msg = msg[:2048]
	}
	if msg == "" {
		msg = "refused"
	}
	return RelayReply{Code: shared.ErrorCode(err), Error: msg}
}

// WriteRelay writes a RelayOpen or RelayReply as one frame.
func WriteRelay(w io.Writer, v any) error { return agentwire.WriteJSON(w, v) }

// ReadRelayOpen reads and validates the header of a relayed stream. A
// frame that is too long, malformed or not valid is an *agentwire.FrameError
// with the reason.
func ReadRelayOpen(r io.Reader) (*RelayOpen, error) {
	var o RelayOpen
	if err := readRelay(r, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ReadRelayReply reads the answer to a RelayOpen; a refusal is returned as
// the reply's *shared.Error.
func ReadRelayReply(r io.Reader) error {
	var rep RelayReply
	if err := readRelay(r, &rep); err != nil {
		return err
	}
	return rep.Err()
}

// DecodeRelayOpen decodes and validates the payload of a RelayOpen frame.
func DecodeRelayOpen(p []byte) (*RelayOpen, error) {
	if len(p) > MaxRelayHeader {
		return nil, &agentwire.FrameError{Reason: fmt.Sprintf("relay header of %d bytes is over %d", len(p), MaxRelayHeader)}
	}
	var o RelayOpen
	if err := agentwire.DecodeJSON(p, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

func readRelay(r io.Reader, v any) error {
	kind, p, err := agentwire.ReadFrame(r)
	if err != nil {
		return err
	}
	if kind != agentwire.KindJSON {
		return &agentwire.FrameError{Reason: "a relay header was expected, not data"}
	}
	if len(p) > MaxRelayHeader {
		return &agentwire.FrameError{Reason: fmt.Sprintf("relay header of %d bytes is over %d", len(p), MaxRelayHeader)}
	}
	return agentwire.DecodeJSON(p, v)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// MaxRelayMessage bounds a websocket message of the relay channel: one
// yamux frame, at most a stream window of data.
const MaxRelayMessage = 512 << 10

// RelayMux is the yamux configuration of the relay channel, the same on
// both sides.
func RelayMux() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = MaxRelayStreams
	c.KeepAliveInterval = 15 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	c.StreamOpenTimeout = 10 * time.Second
	c.StreamCloseTimeout = time.Minute
	c.LogOutput = io.Discard
	return c
}

// Splice carries a relayed stream between a and b until both directions
// have ended, then closes both. When one direction's input ends, only the
// other side's writing is ended (CloseWrite), so a half-closed connection
// (a client that wrote its last byte and waits for the answer) keeps its
// other direction; an error in either direction ends both at once.
func Splice(a, b net.Conn) {
	var once sync.Once
	abort := func() {
		once.Do(func() {
			now := time.Now()
			a.SetDeadline(now)
			b.SetDeadline(now)
			a.Close()
			b.Close()
		})
	}
	pipe := func(dst, src net.Conn) {
		buf := spliceBufs.Get().(*[]byte)
		defer spliceBufs.Put(buf)
		if _, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf); err != nil || CloseWrite(dst) != nil {
			abort()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { pipe(a, b) })
	pipe(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// spliceBufs are Splice's copy buffers.
var spliceBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// CloseWrite ends c's writing and leaves its reading: c's own CloseWrite
// when it has one (a TCP connection, a forwarded port), and Close for a
// yamux stream, whose Close ends only its writing. Any other c is closed.
func CloseWrite(c net.Conn) error {
	switch c := c.(type) {
	case interface{ CloseWrite() error }:
		return c.CloseWrite()
	default:
		return c.Close()
	}
}
