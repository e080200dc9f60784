package wire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

func TestAgentStatesRefused(t *testing.T) {
	many := make([]string, wire.MaxAgentStates+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"space_id":"s%d"}`, i)
	}
	for _, tt := range []struct{ name, in, want string }{
		{"NoSpaceID", `{"type":"agent_states","agents":[{"connected":false}]}`, "agent 0: space_id is missing"},
		{"LongSpaceID", `{"type":"agent_states","agents":[{"space_id":"` + strings.Repeat("x", 257) + `"}]}`, "space_id is longer than 256"},
		{"ConnectedWithoutVersion", `{"type":"agent_states","agents":[{"space_id":"s","connected":true}]}`, "a connected agent has no version"},
		{"LongVersion", `{"type":"agent_states","agents":[{"space_id":"s","connected":true,"version":"` + strings.Repeat("v", 65) + `"}]}`, "version is 65 bytes, longer than 64"},
		{"TooMany", `{"type":"agent_states","agents":[` + strings.Join(many, ",") + `]}`, "1001 agents, more than 1000"},
		{"LongLocation", `{"type":"agent_states","location":"` + strings.Repeat("l", 257) + `"}`, "location is 257 bytes, longer than 256"},
		{"LongServer", `{"type":"agent_states","location":"eu","server":"` + strings.Repeat("v", 65) + `"}`, "server is 65 bytes, longer than 64"},
		{"ServerWithoutLocation", `{"type":"agent_states","server":"1.0"}`, "server and unlinked need a location"},
		{"UnlinkedWithoutLocation", `{"type":"agent_states","unlinked":true}`, "server and unlinked need a location"},
		{"BadTime", `{"type":"agent_states","agents":[{"space_id":"s","last_seen":"yesterday"}]}`, "does not decode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wire.Decode([]byte(tt.in))
			if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %#v, %v; want EINVALID mentioning %q", f, err, tt.want)
			}
		})
	}
}

// FuzzAgentStates checks that an agent states frame that decodes holds
// only bounded fields, and encodes to what decodes to the same again.
func FuzzAgentStates(f *testing.F) {
	for _, s := range append(samplesV5(), samplesV6()...) {
		b, _ := wire.Encode(s)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"agent_states","reset":true}`))
	f.Add([]byte(`{"type":"agent_states","agents":[{"space_id":"a","connected":true,"version":"\u00e9","last_seen":"2026-01-01T00:00:00+02:00"}]}`))
	f.Add([]byte(`{"type":"agent_states","agents":[{"space_id":"a"},{"space_id":"a"}]}`))
	f.Add([]byte(`{"type":"agent_states","agents":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, err := wire.Decode(in)
		if err != nil {
			if c := shared.ErrorCode(err); c != shared.EINVALID && c != shared.ETOOLARGE {
				t.Fatalf("Decode error with code %q: %v", c, err)
			}
			return
		}
		as, ok := fr.(*wire.AgentStates)
		if !ok {
			return
		}
		if len(as.Agents) > wire.MaxAgentStates {
			t.Fatalf("%d agents decoded", len(as.Agents))
		}
		if len(as.Location) > wire.MaxLocationLength || len(as.Server) > wire.MaxVersionLength || (as.Location == "" && (as.Server != "" || as.Unlinked)) {
			t.Fatalf("unbounded agent states decoded: %q %q %v", as.Location, as.Server, as.Unlinked)
		}
		for _, a := range as.Agents {
			if a.SpaceID == "" || len(a.SpaceID) > 256 || len(a.Version) > wire.MaxAgentVersionLength || (a.Connected && a.Version == "") {
				t.Fatalf("unbounded agent state decoded: %+v", a)
			}
		}
		b1, err := wire.Encode(as)
		if err != nil {
			t.Fatalf("a decoded frame does not encode: %v", err)
		}
		f2, err := wire.Decode(b1)
		if err != nil {
			t.Fatalf("an encoded frame does not decode: %v\n%s", err, b1)
		}
		if b2, err := wire.Encode(f2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", b1, b2, err)
		}
	})
}
