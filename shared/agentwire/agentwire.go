// Package agentwire is what an agent in a space and its leaf say to each
// other over the agent link.
//
// Decisions:
//
//   - The agent dials the leaf's listen_agent over TLS and speaks first: one
//     Hello frame (space id, per-space token, version). The leaf answers one
//     Welcome frame. Only after an accepted Welcome do both sides wrap the
//     connection in yamux's protocol (the agent is the client and runs
//     hashicorp/yamux; the leaf runs Mux, which costs an idle link one
//     goroutine); nothing else is said on the raw connection.
//   - Every stream starts with an Open frame naming what it is for (state,
//     ping, terminal, sessions). The side that opens says; the other answers
//     or closes the stream.
//   - A frame is a 4-byte big-endian length, then a kind byte, then the
//     payload: JSON for control messages (KindJSON), raw bytes for terminal
//     data (KindData). The length counts the kind byte and the payload and
//     is bounded by the reader (MaxFrame for data, MaxControl for JSON); a
//     frame that is empty, too long or of an unknown kind is an error that
//     closes the stream or the link with that reason.
//   - JSON messages ignore fields they do not know, so either side may add
//     one; Validate checks what a message must hold.
package agentwire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Kind says what a frame's payload is.
type Kind byte

const (
	KindJSON Kind = 'j' // a control message as JSON
	KindData Kind = 'd' // terminal bytes
)

// Bounds of frames.
const (
	// MaxFrame bounds a data frame's payload.
	MaxFrame = 64 << 10
	// MaxControl bounds a JSON frame's payload.
	MaxControl = 16 << 10
)

// FrameError is a frame that breaks the protocol.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "bad agent frame: " + e.Reason }

// WriteFrame writes one frame of kind with payload p.
func WriteFrame(w io.Writer, kind Kind, p []byte) error {
	if len(p) > MaxFrame {
		return &FrameError{Reason: fmt.Sprintf("payload of %d bytes is over %d", len(p), MaxFrame)}
	}
	buf := make([]byte, 5+len(p))
	binary.BigEndian.PutUint32(buf, uint32(1+len(p)))
	buf[4] = byte(kind)
	copy(buf[5:], p)
	_, err := w.Write(buf)
	return err
}

// WriteJSON writes v as one JSON frame.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxControl {
		return &FrameError{Reason: fmt.Sprintf("control message of %d bytes is over %d", len(b), MaxControl)}
	}
	return WriteFrame(w, KindJSON, b)
}

// ReadFrame reads one frame. It returns io.EOF when r ends cleanly before a
// frame, and a *FrameError for a frame that breaks the protocol.
func ReadFrame(r io.Reader) (Kind, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 {
		return 0, nil, &FrameError{Reason: "empty frame"}
	}
	if n-1 > MaxFrame {
		return 0, nil, &FrameError{Reason: fmt.Sprintf("frame of %d bytes is over %d", n-1, MaxFrame)}
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return 0, nil, unexpected(err)
	}
	kind := Kind(hdr[4])
	switch kind {
	case KindData:
	case KindJSON:
		if n-1 > MaxControl {
			return 0, nil, &FrameError{Reason: fmt.Sprintf("control message of %d bytes is over %d", n-1, MaxControl)}
		}
	default:
		return 0, nil, &FrameError{Reason: fmt.Sprintf("unknown frame kind 0x%02x", hdr[4])}
	}
	p := make([]byte, n-1)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, unexpected(err)
	}
	return kind, p, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadJSON reads one frame that must be a JSON message and decodes it into
// v, then validates v when it has a Validate method.
func ReadJSON(r io.Reader, v any) error {
	kind, p, err := ReadFrame(r)
	if err != nil {
		return err
	}
	if kind != KindJSON {
		return &FrameError{Reason: "a control message was expected, not data"}
	}
	return DecodeJSON(p, v)
}

// DecodeJSON decodes a JSON payload into v and validates it.
func DecodeJSON(p []byte, v any) error {
	if err := json.Unmarshal(p, v); err != nil {
		return &FrameError{Reason: "control message: " + err.Error()}
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return &FrameError{Reason: err.Error()}
		}
	}
	return nil
}

// Hello is the agent's first frame on a new connection.
type Hello struct {
	SpaceID string `json:"space_id"`
	Token   string `json:"token"`
	Version string `json:"version"`
}

// Validate checks the lengths and characters of h.
func (h *Hello) Validate() error {
	switch {
	case h.SpaceID == "" || len(h.SpaceID) > 64 || !printable(h.SpaceID):
		return errors.New("hello: space_id must be 1 to 64 printable characters")
	case h.Token == "" || len(h.Token) > 256:
		return errors.New("hello: token must be 1 to 256 bytes")
	case len(h.Version) > 64 || !printable(h.Version):
		return errors.New("hello: version must be at most 64 printable characters")
	}
	return nil
}

// Welcome is the leaf's answer to a Hello. OK false means refused; Error
// says why and the leaf closes the connection.
type Welcome struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Version string `json:"version,omitempty"`
	// Heartbeat is how often the leaf wants a State, in milliseconds.
	HeartbeatMS int64 `json:"heartbeat_ms,omitempty"`
}

// Heartbeat returns w.HeartbeatMS as a duration, bounded to 1s..5m, or def
// when unset.
func (w *Welcome) Heartbeat(def time.Duration) time.Duration {
	if w.HeartbeatMS <= 0 {
		return def
	}
	return min(max(time.Duration(w.HeartbeatMS)*time.Millisecond, 50*time.Millisecond), 5*time.Minute)
}

// Stream purposes, in Open.Type.
const (
	OpenState    = "state"    // agent → leaf: State frames until the link ends
	OpenPing     = "ping"     // leaf → agent: the agent answers one Pong
	OpenTerminal = "terminal" // leaf → agent: a terminal (Terminal in Open)
	OpenSessions = "sessions" // leaf → agent: the agent answers one SessionList
	// OpenPort is leaf → agent: the agent dials 127.0.0.1:Port in the
	// space and answers one Opened (Error says why not); after an Opened
	// without Error the stream carries the connection's bytes both ways,
	// unframed, and closing one side's writing closes the other's.
	OpenPort = "port"
)

// Open is the first frame on every stream.
type Open struct {
	Type     string    `json:"type"`
	Terminal *Terminal `json:"terminal,omitempty"`
	SSH      *SSH      `json:"ssh,omitempty"`
	Keys     *Keys     `json:"keys,omitempty"` // for OpenKeys
	Port     int       `json:"port,omitempty"` // for OpenPort: 1 to 65535
}

// Validate checks that o names a known purpose with what it needs.
func (o *Open) Validate() error {
	switch o.Type {
	case OpenState, OpenPing, OpenSessions, OpenLogs:
		return nil
	case OpenTerminal:
		if o.Terminal == nil {
			return errors.New("open: a terminal stream needs a terminal")
		}
		return o.Terminal.Validate()
	case OpenSSH:
		if o.SSH == nil {
			return errors.New("open: an ssh stream needs ssh")
		}
		return o.SSH.Validate()
	case OpenKeys:
		if o.Keys == nil {
			return errors.New("open: a keys stream needs keys")
		}
		return o.Keys.Validate()
	case OpenPort:
		if o.Port < 1 || o.Port > 65535 {
			return fmt.Errorf("open: a port stream needs a port from 1 to 65535, not %d", o.Port)
		}
		return nil
	}
	return fmt.Errorf("open: unknown stream type %q", truncate(o.Type, 32))
}

// Terminal asks for a terminal: a new session running the shell (or
// Command), or Attach to an existing session.
type Terminal struct {
	Attach string `json:"attach,omitempty"` // a session id
	Shell  string `json:"shell,omitempty"`  // the preferred shell; "" tries zsh, bash, sh
	// Command runs this program instead of a login shell. Such a session
	// ends with the program and is not kept for reattaching.
	Command []string `json:"command,omitempty"`
	// NoPTY runs Command (or the shell, reading commands from its input)
	// with pipes, not a terminal, for scripts. Such a session is not kept.
	NoPTY bool   `json:"no_pty,omitempty"`
	Cols  uint16 `json:"cols,omitempty"`
	Rows  uint16 `json:"rows,omitempty"`
}

// MaxSize bounds a terminal's columns and rows.
const MaxSize = 1000

// Validate checks t's fields.
func (t *Terminal) Validate() error {
	switch {
	case len(t.Attach) > 64 || !printable(t.Attach):
		return errors.New("terminal: attach must be a session id")
	case len(t.Shell) > 256 || !printable(t.Shell):
		return errors.New("terminal: shell must be at most 256 printable characters")
	case t.Attach != "" && len(t.Command) > 0:
		return errors.New("terminal: attach and command exclude each other")
	case t.NoPTY && t.Attach != "":
		return errors.New("terminal: attach and no_pty exclude each other")
	case len(t.Command) > 256:
		return errors.New("terminal: a command has at most 256 arguments")
	case t.Cols > MaxSize || t.Rows > MaxSize:
		return fmt.Errorf("terminal: cols and rows must be at most %d", MaxSize)
	}
	n := 0
	for _, a := range t.Command {
		n += len(a)
		if !utf8.ValidString(a) {
			return errors.New("terminal: command arguments must be UTF-8")
		}
	}
	if n > 8<<10 {
		return errors.New("terminal: the command is over 8 KiB")
	}
	if len(t.Command) > 0 && t.Command[0] == "" {
		return errors.New("terminal: the command's program is empty")
	}
	return nil
}

// Opened is the agent's answer to a terminal or port Open: the session id
// (for a port, "port"), or Error when it could not open one (and the
// stream is closed).
type Opened struct {
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
}

// Control messages on a terminal stream, in Control.Type.
const (
	CtlResize = "resize" // viewer → agent: Cols, Rows
	CtlEOF    = "eof"    // viewer → agent: input ended
	CtlExit   = "exit"   // agent → viewer: the program ended with Code
)

// Control is a JSON frame on a terminal stream; terminal bytes travel as
// data frames.
type Control struct {
	Type string `json:"type"`
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Code int    `json:"code,omitempty"`
	// Reason says why a session ended when it was not the program's exit
	// (it expired, the agent stopped).
	Reason string `json:"reason,omitempty"`
}

// Validate checks c.
func (c *Control) Validate() error {
	switch c.Type {
	case CtlResize:
		if c.Cols == 0 || c.Rows == 0 || c.Cols > MaxSize || c.Rows > MaxSize {
			return fmt.Errorf("resize: cols and rows must be 1 to %d", MaxSize)
		}
	case CtlEOF, CtlExit:
	default:
		return fmt.Errorf("control: unknown type %q", truncate(c.Type, 32))
	}
	if len(c.Reason) > 1024 {
		return errors.New("control: reason is over 1 KiB")
	}
	return nil
}

// State is what the agent reports, first when the link is up and then at
// every heartbeat.
type State struct {
	Version  string `json:"version"`
	State    string `json:"state"` // "ready"
	Sessions int    `json:"sessions"`
	// AuthorizedKeys says the agent keeps the owner's keys in the
	// authorized_keys of the image's own sshd: the leaf sends them
	// (OpenKeys).
	AuthorizedKeys bool `json:"authorized_keys,omitempty"`
	// SSHDHostKeys are the host keys the image's own sshd presents (one
	// per kind of key it has, in authorized_keys form), as the agent last
	// saw them in an SSH handshake with it; none when no sshd answers. The
	// leaf keeps them on the space, so that knot ssh-config writes them.
	SSHDHostKeys []string `json:"sshd_host_keys,omitempty"`
}

// The bounds of State.SSHDHostKeys.
const (
	MaxSSHDHostKeys   = 8
	MaxSSHDHostKeyLen = 4096
)

// Validate checks s.
func (s *State) Validate() error {
	if len(s.Version) > 64 || len(s.State) > 64 || !printable(s.Version) || !printable(s.State) || s.Sessions < 0 {
		return errors.New("state: version and state must be at most 64 printable characters")
	}
	if len(s.SSHDHostKeys) > MaxSSHDHostKeys {
		return fmt.Errorf("state: %d sshd host keys, more than %d", len(s.SSHDHostKeys), MaxSSHDHostKeys)
	}
	for _, k := range s.SSHDHostKeys {
		if k == "" || len(k) > MaxSSHDHostKeyLen || !printable(k) {
			return fmt.Errorf("state: an sshd host key must be 1 to %d printable characters", MaxSSHDHostKeyLen)
		}
	}
	return nil
}

// Pong answers a ping.
type Pong struct {
	OK bool `json:"ok"`
}

// SessionInfo describes one kept terminal session.
type SessionInfo struct {
	ID string `json:"id"`
	// Shell is what the session runs: the path of the shell the agent
	// found (another than the one asked for when that one is not in the
	// image), or a command's words.
	Shell   string    `json:"shell"`
	Created time.Time `json:"created"`
	Viewers int       `json:"viewers"`
	// Idle is when the last viewer left; zero while someone watches.
	Idle time.Time `json:"idle,omitzero"`
}

// SessionList answers a sessions stream.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Validate bounds the list.
func (l *SessionList) Validate() error {
	if len(l.Sessions) > 1000 {
		return errors.New("sessions: more than 1000")
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
