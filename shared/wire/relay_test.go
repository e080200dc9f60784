package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
)

func relayTerminal() *wire.RelayOpen {
	return &wire.RelayOpen{SpaceID: "sp1", UserID: "u1", From: "127.0.0.1", Via: "origin hq",
		Open: agentwire.Open{Type: agentwire.OpenTerminal, Terminal: &agentwire.Terminal{Cols: 80, Rows: 24}}}
}

// A relay header round-trips; a bad one is refused with the reason.
func TestRelayHeaderIsValidated(t *testing.T) {
	var b bytes.Buffer
	if err := wire.WriteRelay(&b, relayTerminal()); err != nil {
		t.Fatal(err)
	}
	h, err := wire.ReadRelayOpen(&b)
	if err != nil || h.SpaceID != "sp1" || h.UserID != "u1" || h.Open.Terminal == nil || h.Open.Terminal.Cols != 80 {
		t.Fatalf("round trip: %+v, %v", h, err)
	}
	for _, c := range []struct {
		name string
		edit func(*wire.RelayOpen)
		says string
	}{
		{"no space", func(h *wire.RelayOpen) { h.SpaceID = "" }, "space_id"},
		{"a space id with a newline", func(h *wire.RelayOpen) { h.SpaceID = "a\nb" }, "space_id"},
		{"no user", func(h *wire.RelayOpen) { h.UserID = "" }, "user_id"},
		{"a long via", func(h *wire.RelayOpen) { h.Via = strings.Repeat("v", 300) }, "via"},
		{"a kind of the agent link", func(h *wire.RelayOpen) { h.Open = agentwire.Open{Type: agentwire.OpenState} }, "not relayed"},
		{"a terminal without its request", func(h *wire.RelayOpen) { h.Open.Terminal = nil }, "needs a terminal"},
	} {
		h := relayTerminal()
		c.edit(h)
		b.Reset()
		wire.WriteRelay(&b, h)
		_, err := wire.ReadRelayOpen(&b)
		var fe *agentwire.FrameError
		if !errors.As(err, &fe) || !strings.Contains(fe.Reason, c.says) {
			t.Errorf("%s: %v; want a frame error saying %q", c.name, err, c.says)
		}
	}
	if _, err := wire.DecodeRelayOpen(make([]byte, wire.MaxRelayHeader+1)); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("an oversized header: %v", err)
	}
}

// A refusal travels with its code and message; an acceptance is nil.
func TestRelayReplyCarriesTheRefusal(t *testing.T) {
	var b bytes.Buffer
	wire.WriteRelay(&b, wire.ReplyOf(shared.Errorf(shared.EUNAVAILABLE, "location x is unreachable")))
	wire.WriteRelay(&b, wire.ReplyOf(nil))
	if err := wire.ReadRelayReply(&b); shared.ErrorCode(err) != shared.EUNAVAILABLE || shared.ErrorMessage(err) != "location x is unreachable" {
		t.Fatalf("refusal: %v", err)
	}
	if err := wire.ReadRelayReply(&b); err != nil {
		t.Fatalf("acceptance: %v", err)
	}
}

// FuzzReadRelayOpen feeds arbitrary bytes to the relay header decoder: a
// valid header within its bounds, or an error; never a panic.
func FuzzReadRelayOpen(f *testing.F) {
	var b bytes.Buffer
	wire.WriteRelay(&b, relayTerminal())
	f.Add(b.Bytes())
	b.Reset()
	wire.WriteRelay(&b, &wire.RelayOpen{SpaceID: "s", UserID: "u", Open: agentwire.Open{Type: agentwire.OpenSessions}})
	f.Add(b.Bytes())
	b.Reset()
	wire.WriteRelay(&b, &wire.RelayOpen{SpaceID: "s", UserID: "u", Ask: wire.AskLogsFollow})
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 2, 'j', '{'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'j'})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := wire.ReadRelayOpen(bytes.NewReader(data))
		if err != nil {
			var fe *agentwire.FrameError
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &fe) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("decoded an invalid header: %v", err)
		}
		if (h.Ask == "" && !wire.RelayKind(h.Open.Type)) || (h.Ask != "" && h.Open.Type != "") || len(h.SpaceID) > 64 || len(h.Via) > 256 {
			t.Fatalf("decoded a header out of bounds: %+v", h)
		}
	})
}
