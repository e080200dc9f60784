package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
)

func TestRelayAsksAreValidatedAlone(t *testing.T) {
	for name, h := range map[string]*wire.RelayOpen{
		"UnknownAsk":      {SpaceID: "s", UserID: "u", Ask: "shell"},
		"AskWithAStream":  {SpaceID: "s", UserID: "u", Ask: wire.AskLogs, Open: agentwire.Open{Type: agentwire.OpenSessions}},
		"AskWithoutAUser": {SpaceID: "s", Ask: wire.AskAgentEnv},
	} {
		if err := h.Validate(); err == nil {
			t.Errorf("%s: %+v is valid", name, h)
		}
	}
	for _, ask := range []string{wire.AskAgentToken, wire.AskAgentEnv, wire.AskLogs, wire.AskLogsFollow} {
		if err := (&wire.RelayOpen{SpaceID: "s", UserID: "u", Ask: ask}).Validate(); err != nil {
			t.Errorf("ask %s: %v", ask, err)
		}
	}
	if err := (&wire.RelayLogLine{Level: "info", Text: strings.Repeat("x", wire.MaxRelayLogText+1)}).Validate(); err == nil {
		t.Error("a log line over the bound is valid")
	}
	if err := (&wire.RelayAgentToken{Token: "t", Env: map[string]string{"": "x"}}).Validate(); err == nil {
		t.Error("an agent token answer with an empty variable name is valid")
	}
}

// FuzzRelayAnswers feeds arbitrary frames to the readers of the answers to
// asks: what decodes is within its bounds; nothing panics.
func FuzzRelayAnswers(f *testing.F) {
	for _, v := range []any{&wire.RelayAgentToken{Token: "t", Env: map[string]string{"KNOT_SPACE_ID": "s"}}, &wire.RelayLogLine{Level: "info", Text: "hi"}} {
		var b bytes.Buffer
		agentwire.WriteJSON(&b, v)
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tok wire.RelayAgentToken
		if err := agentwire.ReadJSON(bytes.NewReader(data), &tok); err == nil {
			if tok.Token == "" || len(tok.Token) > wire.MaxRelayEnvValue || len(tok.Env) > wire.MaxRelayEnv {
				t.Fatalf("an agent token answer out of bounds: %+v", tok)
			}
		} else if !isFrameErr(err) {
			t.Fatalf("unexpected error %T: %v", err, err)
		}
		var l wire.RelayLogLine
		if err := agentwire.ReadJSON(bytes.NewReader(data), &l); err == nil {
			if len(l.Text) > wire.MaxRelayLogText || len(l.Level) > wire.MaxRelayLogLevel {
				t.Fatalf("a log line out of bounds: %+v", l)
			}
		} else if !isFrameErr(err) {
			t.Fatalf("unexpected error %T: %v", err, err)
		}
	})
}

func isFrameErr(err error) bool {
	var fe *agentwire.FrameError
	return errors.As(err, &fe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
