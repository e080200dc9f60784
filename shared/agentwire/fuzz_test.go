package agentwire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/agentwire"
)

// FuzzReadFrame feeds arbitrary bytes to the frame decoder and the message
// decoders: each input is a frame, a clean end, or a *FrameError / short
// read; never a panic, and never a payload over the bounds.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	agentwire.WriteJSON(&b, agentwire.Hello{SpaceID: "s", Token: "t"})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.Open{Type: "terminal", Terminal: &agentwire.Terminal{Cols: 80, Rows: 24}})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.Open{Type: "ssh", SSH: &agentwire.SSH{HostKey: "k", Keys: []string{"SHA256:x"}}})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.Open{Type: "port", Port: 8080})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.Open{Type: "keys", Keys: &agentwire.Keys{Keys: []string{"ssh-ed25519 AAAA k"}}})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.State{Version: "v", State: "ready", SSHDHostKeys: []string{"ssh-ed25519 AAAA", "ecdsa-sha2-nistp256 AAAA"}})
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteFrame(&b, agentwire.KindData, []byte("ls\r"))
	f.Add(b.Bytes())
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.LogLine{At: time.Now(), Level: "info", Service: "app", Text: "hello"})
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'j'})
	f.Add([]byte{0, 0, 0, 2, 'x', 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			kind, p, err := agentwire.ReadFrame(r)
			if err != nil {
				var fe *agentwire.FrameError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &fe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if len(p) > agentwire.MaxFrame || (kind == agentwire.KindJSON && len(p) > agentwire.MaxControl) {
				t.Fatalf("payload of %d bytes passed the bounds", len(p))
			}
			if kind == agentwire.KindJSON {
				agentwire.DecodeJSON(p, &agentwire.Hello{})
				var o agentwire.Open
				valid := agentwire.DecodeJSON(p, &o) == nil
				if valid && o.Type == agentwire.OpenPort && (o.Port < 1 || o.Port > 65535) {
					t.Fatalf("a port open with port %d passed", o.Port)
				}
				if valid && (o.Type == agentwire.OpenKeys || o.Type == agentwire.OpenSSH && o.SSH.Owner != nil) {
					keys := o.Keys
					if o.Type == agentwire.OpenSSH {
						keys = o.SSH.Owner
					}
					n := 0
					for _, k := range keys.Keys {
						n += len(k)
						if strings.ContainsAny(k, "\r\n") {
							t.Fatalf("a key with a line break passed: %q", k)
						}
					}
					if n > agentwire.MaxAuthorizedKeys || len(keys.Keys) > agentwire.MaxSSHKeys {
						t.Fatalf("%d keys of %d bytes passed", len(keys.Keys), n)
					}
				}
				agentwire.DecodeJSON(p, &agentwire.Control{})
				var st agentwire.State
				if agentwire.DecodeJSON(p, &st) == nil {
					if len(st.SSHDHostKeys) > agentwire.MaxSSHDHostKeys {
						t.Fatalf("%d sshd host keys passed", len(st.SSHDHostKeys))
					}
					for _, k := range st.SSHDHostKeys {
						if k == "" || len(k) > agentwire.MaxSSHDHostKeyLen || strings.ContainsAny(k, "\r\n") {
							t.Fatalf("an sshd host key of %d bytes or with a line break passed: %q", len(k), k)
						}
					}
				}
				agentwire.DecodeJSON(p, &agentwire.Welcome{})
				agentwire.DecodeJSON(p, &agentwire.SessionList{})
				var l agentwire.LogLine
				if agentwire.DecodeJSON(p, &l) == nil && (len(l.Text) > agentwire.MaxLogText || strings.ContainsAny(l.Text, "\r\n")) {
					t.Fatalf("a log line of %d bytes or with a line break passed", len(l.Text))
				}
			}
		}
	})
}

func TestFrameRefusals(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":        {0, 0, 0, 0},
		"too long":     {0, 0x10, 0, 0, 'd'},
		"unknown kind": {0, 0, 0, 2, 'x', 1},
		"long control": append([]byte{0, 0, 0x40, 2, 'j'}, make([]byte, 0x4001)...),
	} {
		_, _, err := agentwire.ReadFrame(bytes.NewReader(in))
		var fe *agentwire.FrameError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FrameError", name, err)
		}
	}
	var b bytes.Buffer
	agentwire.WriteJSON(&b, agentwire.Open{Type: "terminal"})
	if err := agentwire.ReadJSON(&b, &agentwire.Open{}); err == nil {
		t.Error("a terminal open without a terminal was accepted")
	}
	b.Reset()
	agentwire.WriteJSON(&b, agentwire.Control{Type: "resize", Cols: 0, Rows: 5})
	if err := agentwire.ReadJSON(&b, &agentwire.Control{}); err == nil {
		t.Error("a resize to 0 columns was accepted")
	}
}

// FuzzCleanLogText: whatever a program in a space writes, the cleaned text
// is a valid line, or empty.
func FuzzCleanLogText(f *testing.F) {
	f.Add("plain")
	f.Add("bad \xff utf8\x00 \x1b[31mred")
	f.Add(strings.Repeat("é", agentwire.MaxLogText))
	f.Fuzz(func(t *testing.T, s string) {
		c := agentwire.CleanLogText(s)
		l := agentwire.LogLine{At: time.Now(), Level: "info", Service: agentwire.CleanLogService(s, "x"), Text: c}
		if c != "" && !strings.ContainsAny(s, "\r\n") {
			if err := l.Validate(); err != nil {
				t.Fatalf("cleaned %q to an invalid line: %v", s, err)
			}
		}
	})
}
