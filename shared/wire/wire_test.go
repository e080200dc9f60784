package wire_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/v*.golden")

// samples holds one valid frame of each type, as version 1 sends them.
func samples() []wire.Frame {
	user := json.RawMessage(`{"id":"u1","revision":7,"username":"ann"}`)
	renamed := json.RawMessage(`{"id":"u1","revision":43,"username":"anna"}`)
	space := json.RawMessage(`{"id":"s1","revision":3,"name":"dev","location":"eu"}`)
	return []wire.Frame{
		&wire.Hello{NodeID: "node-1", Location: "eu", Version: "1.0.0", ProtocolMin: 1, ProtocolMax: 1, Epoch: "e1", AppliedRevision: 41, Runtimes: []string{"docker"}},
		&wire.Welcome{Protocol: 1, Epoch: "e1", Restricted: false, Location: "eu", Mode: wire.ModeResume, Head: 44},
		&wire.Refusal{Reason: "no common protocol", Retryable: false},
		&wire.Snapshot{Revision: 44, Records: []wire.Change{{Kind: shared.KindUser, ID: "u1", Revision: 7, Data: user}}},
		&wire.SnapshotEnd{Revision: 44, Count: 1},
		&wire.Changes{Prev: 41, Revision: 44, Changes: []wire.Change{
			{Kind: shared.KindUser, ID: "u1", Revision: 43, Data: renamed},
			{Kind: shared.KindTemplate, ID: "t1", Revision: 44, Deleted: true},
		}},
		&wire.Ack{Applied: 44},
		&wire.KeepAlive{Head: 44},
		&wire.SpaceReport{LeafRevision: 3, SpaceID: "s1", Space: space},
		&wire.SpaceAck{LeafRevision: 3},
		&wire.Command{ID: "c1", Action: wire.ActionStop, SpaceID: "s1"},
		&wire.CommandResult{ID: "c1", Code: shared.ENOTFOUND, Message: "Space s1 not found."},
	}
}

// samplesV2 holds one valid frame of each type or form that version 2
// added.
func samplesV2() []wire.Frame {
	space := json.RawMessage(`{"id":"s2","name":"dev","location":"eu","state":"stopped"}`)
	at := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	return []wire.Frame{
		&wire.Command{ID: "c2", Action: wire.ActionCreate, SpaceID: "s2", Space: space},
		&wire.AuditReport{Store: "leaf-epoch"},
		&wire.AuditReport{Store: "leaf-epoch", Events: []wire.AuditEvent{
			{ID: 7, At: at, Actor: "ann", ActorType: "user", Event: "Login Success", Details: "logged in as ann", Properties: map[string]string{"ip": "127.0.0.1"}},
			{ID: 9, At: at, Actor: "ann", ActorType: "user", Event: "Space Start", Details: "space dev started"},
		}},
		&wire.AuditAck{Store: "leaf-epoch", Upto: 9},
	}
}

// samplesV4 holds the frames that version 4 gave a field: the ack interval.
func samplesV4() []wire.Frame {
	return []wire.Frame{
		&wire.Welcome{Protocol: 4, Epoch: "e1", Location: "eu", Mode: wire.ModeResume, Head: 44, AckIntervalMS: 5000},
		&wire.KeepAlive{Head: 45, AckIntervalMS: 1000},
	}
}

// samplesV5 holds the frames version 5 added: the agents' states.
func samplesV5() []wire.Frame {
	seen := time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC)
	return []wire.Frame{
		&wire.AgentStates{Reset: true, Agents: []wire.AgentState{{SpaceID: "s1", Connected: true, Version: "1.2.0", LastSeen: seen}}},
		&wire.AgentStates{Agents: []wire.AgentState{{SpaceID: "s1", Version: "1.2.0", LastSeen: seen}, {SpaceID: "s2"}}},
	}
}

// samplesV6 holds the frames version 6 added: the agents of other
// locations, origin → leaf.
func samplesV6() []wire.Frame {
	seen := time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC)
	return []wire.Frame{
		&wire.AgentStates{Reset: true, Location: "eu", Server: "1.2.0", Agents: []wire.AgentState{{SpaceID: "s1", Connected: true, Version: "1.2.0", LastSeen: seen}}},
		&wire.AgentStates{Reset: true, Location: "us", Unlinked: true},
	}
}

// TestGoldenV1 keeps the JSON of every version 1 frame, TestGoldenV2 that
// of what version 2 added, and so on: a change here is a protocol change
// and needs a version bump. (Version 3 changed what the feed carries, not
// the frames.)
func TestGoldenV1(t *testing.T) { checkGolden(t, "v1.golden", samples) }

func TestGoldenV2(t *testing.T) { checkGolden(t, "v2.golden", samplesV2) }

func TestGoldenV4(t *testing.T) { checkGolden(t, "v4.golden", samplesV4) }

func TestGoldenV5(t *testing.T) { checkGolden(t, "v5.golden", samplesV5) }

func TestGoldenV6(t *testing.T) { checkGolden(t, "v6.golden", samplesV6) }

func checkGolden(t *testing.T, name string, samples func() []wire.Frame) {
	var buf bytes.Buffer
	for _, f := range samples() {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatalf("encode %s: %v", f.FrameType(), err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("frames differ from %s:\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
	// And every golden line decodes back to its sample.
	for i, line := range bytes.Split(bytes.TrimSpace(want), []byte("\n")) {
		f, err := wire.Decode(line)
		if err != nil {
			t.Fatalf("decode golden line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(f, samples()[i]) {
			t.Errorf("golden line %d decodes to %#v, want %#v", i+1, f, samples()[i])
		}
	}
}

// Frames that do not begin as Encode writes them decode too: with space
// before the type, the type elsewhere, or the type escaped.
func TestDecodeReadsTheTypeWhereverItIs(t *testing.T) {
	want := &wire.Ack{Applied: 7}
	for _, in := range []string{
		` {"type":"ack","applied":7}`,
		`{"applied":7,"type":"ack"}`,
		`{"type":"\u0061ck","applied":7}`,
		`{ "type" : "ack" , "applied" : 7 }`,
	} {
		f, err := wire.Decode([]byte(in))
		if err != nil || !reflect.DeepEqual(f, want) {
			t.Errorf("Decode(%s) = %#v, %v; want %#v", in, f, err, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"NotJSON", `hello`, "not a JSON object"},
		{"NotAnObject", `[1,2]`, "not a JSON object"},
		{"TruncatedJSON", `{"type":"ack","applied":1`, "not a JSON object"},
		{"NoType", `{"applied":1}`, "no type"},
		{"UnknownType", `{"type":"gossip"}`, `unknown frame type "gossip"`},
		{"WrongFieldType", `{"type":"ack","applied":"one"}`, "ack frame does not decode"},
		{"NegativeAck", `{"type":"ack","applied":-1}`, "applied -1 is negative"},
		{"HelloWithoutNode", `{"type":"hello","version":"1","protocol_min":1,"protocol_max":1}`, "node_id is missing"},
		{"HelloWithoutVersion", `{"type":"hello","node_id":"n","protocol_min":1,"protocol_max":1}`, "version is missing"},
		{"HelloWithoutProtocol", `{"type":"hello","node_id":"n","version":"1"}`, "protocol_min 0 is missing"},
		{"HelloInvertedRange", `{"type":"hello","node_id":"n","version":"1","protocol_min":3,"protocol_max":2}`, "protocol_max 2 is below protocol_min 3"},
		{"HelloNegativeRevision", `{"type":"hello","node_id":"n","version":"1","protocol_min":1,"protocol_max":1,"epoch":"e","applied_revision":-5}`, "applied_revision -5 is negative"},
		{"HelloRevisionWithoutEpoch", `{"type":"hello","node_id":"n","version":"1","protocol_min":1,"protocol_max":1,"applied_revision":5}`, "without an epoch"},
		{"WelcomeBadMode", `{"type":"welcome","protocol":1,"epoch":"e","location":"eu","mode":"replay"}`, `mode "replay"`},
		{"WelcomeWithoutEpoch", `{"type":"welcome","protocol":1,"location":"eu","mode":"resume"}`, "epoch is missing"},
		{"WelcomeNegativeAckInterval", `{"type":"welcome","protocol":4,"epoch":"e","location":"eu","mode":"resume","ack_interval_ms":-1}`, "ack_interval_ms -1 is negative"},
		{"KeepAliveNegativeAckInterval", `{"type":"keepalive","head":3,"ack_interval_ms":-5}`, "ack_interval_ms -5 is negative"},
		{"RefusalWithoutReason", `{"type":"refusal","retryable":true}`, "reason is missing"},
		{"ChangesWithoutRevision", `{"type":"changes","prev":4}`, "revision 0 is missing or not above prev 4"},
		{"ChangesNegativePrev", `{"type":"changes","prev":-1,"revision":3}`, "prev -1 is negative"},
		{"ChangeOfLocalKind", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"session","id":"s","revision":1,"data":{}}]}`, `kind "session" is not a replicated`},
		{"ChangeWithoutID", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","revision":1,"data":{}}]}`, "id is missing"},
		{"ChangeNegativeRevision", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":-2,"data":{}}]}`, "revision -2 is negative"},
		{"ChangeWithoutData", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1}]}`, "has no record data"},
		{"ChangeWithNullData", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1,"data":null}]}`, "has no record data"},
		{"ChangeWithBrokenData", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1,"data":{"a":}}]}`, "not a JSON object"},
		{"ChangeWithDataNotAnObject", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1,"data":[1]}]}`, "has no record data"},
		{"TrailingGarbage", `{"type":"ack","applied":1} {}`, "not a JSON object"},
		{"TombstoneWithData", `{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1,"deleted":true,"data":{}}]}`, "carries data"},
		{"SnapshotTombstone", `{"type":"snapshot","revision":1,"records":[{"kind":"user","id":"u","revision":1,"deleted":true}]}`, "record 0 is a tombstone"},
		{"SnapshotEndNegativeCount", `{"type":"snapshot_end","revision":1,"count":-1}`, "count -1 is negative"},
		{"KeepAliveNegativeHead", `{"type":"keepalive","head":-1}`, "head -1 is negative"},
		{"ReportWithoutRevision", `{"type":"space_report","space_id":"s","space":{}}`, "leaf_revision 0 is missing"},
		{"ReportWithoutSpace", `{"type":"space_report","leaf_revision":2,"space_id":"s"}`, "has no data"},
		{"CommandBadAction", `{"type":"command","id":"c","action":"reboot","space_id":"s"}`, `action "reboot"`},
		{"CommandResultWithoutID", `{"type":"command_result","code":"internal"}`, "id is missing"},
		{"CreateWithoutSpace", `{"type":"command","id":"c","action":"create","space_id":"s"}`, "carries no space"},
		{"StopWithSpace", `{"type":"command","id":"c","action":"stop","space_id":"s","space":{}}`, "carries a space"},
		{"AuditReportWithoutStore", `{"type":"audit_report","events":[]}`, "store is missing"},
		{"AuditEventsOutOfOrder", `{"type":"audit_report","store":"e","events":[{"id":5,"event":"a"},{"id":5,"event":"b"}]}`, "not above 5"},
		{"AuditEventWithoutName", `{"type":"audit_report","store":"e","events":[{"id":1}]}`, "no event name"},
		{"AuditAckNegative", `{"type":"audit_ack","store":"e","upto":-1}`, "upto -1 is negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wire.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%s) = %#v, want an error", tt.in, f)
			}
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Errorf("code %q, want %q", shared.ErrorCode(err), shared.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestDecodeRejectsOversizedFrame(t *testing.T) {
	big := append([]byte(`{"type":"keepalive","head":1,"pad":"`), bytes.Repeat([]byte("x"), wire.MaxFrameSize)...)
	big = append(big, `"}`...)
	_, err := wire.Decode(big)
	if shared.ErrorCode(err) != shared.ETOOLARGE {
		t.Fatalf("Decode of %d bytes: %v, want ETOOLARGE", len(big), err)
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	f, err := wire.Decode([]byte(`{"type":"ack","applied":3,"compressed":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := f.(*wire.Ack); !ok || a.Applied != 3 {
		t.Fatalf("got %#v", f)
	}
}

func TestEncodeRefusesInvalidFrame(t *testing.T) {
	if _, err := wire.Encode(&wire.Changes{Prev: 5, Revision: 5}); shared.ErrorCode(err) != shared.EINVALID {
		t.Fatalf("Encode of a frame going nowhere: %v, want EINVALID", err)
	}
}

func TestNegotiate(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		min1, max1, min2, max2 int
		want                   int
		ok                     bool
	}{
		{"SameRange", 1, 1, 1, 1, 1, true},
		{"HighestCommon", 1, 3, 2, 5, 3, true},
		{"NewerPeerStillSpeaksOurs", 1, 2, 2, 4, 2, true},
		{"NoOverlap", 1, 1, 2, 3, 0, false},
		{"NoOverlapOtherSide", 3, 4, 1, 2, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := wire.Negotiate(tt.min1, tt.max1, tt.min2, tt.max2)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Negotiate = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCloseReasonFitsAFrame(t *testing.T) {
	long := strings.Repeat("é", 100)
	r := wire.CloseReason(long)
	if len(r) > wire.MaxCloseReason || !strings.HasSuffix(r, "...") || !json.Valid([]byte(`"`+r+`"`)) {
		t.Errorf("CloseReason = %q (%d bytes)", r, len(r))
	}
	if got := wire.CloseReason("short"); got != "short" {
		t.Errorf("CloseReason(short) = %q", got)
	}
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// encodes and decodes again to the same frame.
func FuzzDecode(f *testing.F) {
	for _, s := range slices.Concat(samples(), samplesV2(), samplesV4(), samplesV5(), samplesV6()) {
		b, _ := wire.Encode(s)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"changes","prev":0,"revision":1,"changes":[{"kind":"user","id":"u","revision":1,"data":{"a":[1,{"b":null}]}}]}`))
	f.Add([]byte(`{"type":"hello"}`))
	f.Add([]byte(`{"type":"hello","node_id":"n","version":"1","protocol_min":1,"protocol_max":4,"runtimes":["docker","podman","nomad","a","b","c","d","e","f"]}`))
	f.Add([]byte(`{"type":"audit_report","store":"e","events":[{"id":1,"event":"a","details":"\u00e9","properties":{"k":"v"}}]}`))
	f.Add([]byte(`{"type":"command_result","id":"c","code":"internal","message":"m"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		f1, err := wire.Decode(in)
		if err != nil {
			if c := shared.ErrorCode(err); c != shared.EINVALID && c != shared.ETOOLARGE {
				t.Fatalf("Decode error with code %q: %v", c, err)
			}
			return
		}
		b1, err := wire.Encode(f1)
		if err != nil {
			t.Fatalf("a decoded frame does not encode: %v", err)
		}
		f2, err := wire.Decode(b1)
		if err != nil {
			t.Fatalf("an encoded frame does not decode: %v\n%s", err, b1)
		}
		b2, err := wire.Encode(f2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", b1, b2, err)
		}
	})
}
