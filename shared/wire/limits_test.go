package wire_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// hello returns the JSON of a valid hello with extra fields set.
func hello(extra string) string {
	return `{"type":"hello","node_id":"n","location":"eu","version":"1.0","protocol_min":1,"protocol_max":4` + extra + `}`
}

func TestDecodeRefusesFieldsOverTheirBound(t *testing.T) {
	manyRuntimes := make([]string, 200000) // megabytes of runtimes
	for i := range manyRuntimes {
		manyRuntimes[i] = "runtime-number-" + fmt.Sprint(i)
	}
	rt, _ := json.Marshal(manyRuntimes)
	event := func(fields string) string {
		return `{"type":"audit_report","store":"e","events":[{"id":1,"event":"Login"` + fields + `}]}`
	}
	props := map[string]string{}
	for i := range wire.MaxAuditProperties + 1 {
		props[fmt.Sprint("p", i)] = "v"
	}
	pj, _ := json.Marshal(props)
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tt := range []struct {
		name, in, want string
	}{
		{"MegabytesOfRuntimes", hello(`,"runtimes":` + string(rt)), "hello: runtimes has 200000 entries, more than 8"},
		{"LongRuntime", hello(`,"runtimes":["` + long(wire.MaxRuntimeLength+1) + `"]`), "hello: runtime 0 is 33 bytes, longer than 32"},
		{"EmptyRuntime", hello(`,"runtimes":[""]`), "hello: runtime 0 is empty"},
		{"LongNodeID", strings.Replace(hello(""), `"node_id":"n"`, `"node_id":"`+long(300)+`"`, 1), "node_id is longer than 256 bytes"},
		{"LongLocation", strings.Replace(hello(""), `"eu"`, `"`+long(wire.MaxLocationLength+1)+`"`, 1), "hello: location is 257 bytes, longer than 256"},
		{"LongVersion", strings.Replace(hello(""), `"1.0"`, `"`+long(1<<20)+`"`, 1), "hello: version is 1048576 bytes, longer than 64"},
		{"LongEpoch", hello(`,"epoch":"` + long(wire.MaxEpochLength+1) + `"`), "hello: epoch is 129 bytes, longer than 128"},
		{"HugeProtocol", strings.Replace(hello(""), `"protocol_max":4`, `"protocol_max":99999999`, 1), "protocol_max 99999999 is above 65536"},
		{"LongAuditStore", `{"type":"audit_report","store":"` + long(wire.MaxEpochLength+1) + `"}`, "audit_report: store is 129 bytes, longer than 128"},
		{"LongAuditDetails", event(`,"details":"` + long(wire.MaxAuditDetailsLength+1) + `"`), "audit_report: event 0: details is 4097 bytes, longer than 4096"},
		{"LongAuditActor", event(`,"actor":"` + long(wire.MaxAuditActorLength+1) + `"`), "audit_report: event 0: actor is 257 bytes"},
		{"LongAuditEvent", strings.Replace(event(""), `"Login"`, `"`+long(wire.MaxAuditEventLength+1)+`"`, 1), "audit_report: event 0: event is 257 bytes"},
		{"ManyAuditProperties", event(`,"properties":` + string(pj)), "audit_report: event 0: properties has 33 entries, more than 32"},
		{"LongAuditPropertyValue", event(`,"properties":{"ip":"` + long(wire.MaxAuditPropertyValue+1) + `"}`), "audit_report: event 0: property ip is 1025 bytes"},
		{"LongAuditPropertyName", event(`,"properties":{"` + long(wire.MaxAuditPropertyName+1) + `":"v"}`), "property name"},
		{"LargeSpace", `{"type":"space_report","leaf_revision":1,"space_id":"s","space":{"description":"` + long(wire.MaxSpaceSize) + `"}}`, "space_report: space is 262162 bytes, longer than 262144"},
		{"LongCommandMessage", `{"type":"command_result","id":"c","code":"internal","message":"` + long(wire.MaxMessageLength+1) + `"}`, "command_result: message is 4097 bytes, longer than 4096"},
		{"LongCommandCode", `{"type":"command_result","id":"c","code":"` + long(wire.MaxCodeLength+1) + `"}`, "command_result: code is 65 bytes"},
		{"LongCommandID", `{"type":"command_result","id":"` + long(257) + `"}`, "command_result: id is 257 bytes, longer than 256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wire.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode accepted %.80s... as %T", tt.in, f)
			}
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Errorf("code %q, want %q", shared.ErrorCode(err), shared.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestDecodeTakesFieldsAtTheirBound(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	runtimes := make([]string, wire.MaxRuntimes)
	for i := range runtimes {
		runtimes[i] = long(wire.MaxRuntimeLength)
	}
	props := map[string]string{}
	for i := range wire.MaxAuditProperties {
		props[fmt.Sprint("p", i)] = long(wire.MaxAuditPropertyValue)
	}
	for _, f := range []wire.Frame{
		&wire.Hello{NodeID: long(256), Location: long(wire.MaxLocationLength), Version: long(wire.MaxVersionLength), ProtocolMin: 1, ProtocolMax: wire.MaxProtocol,
			Epoch: long(wire.MaxEpochLength), Runtimes: runtimes},
		&wire.AuditReport{Store: long(wire.MaxEpochLength), Events: []wire.AuditEvent{{ID: 1, Actor: long(wire.MaxAuditActorLength), ActorType: long(wire.MaxAuditActorTypeLength),
			Event: long(wire.MaxAuditEventLength), Details: long(wire.MaxAuditDetailsLength), Properties: props}}},
		&wire.CommandResult{ID: long(256), Code: long(wire.MaxCodeLength), Message: long(wire.MaxMessageLength)},
	} {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatalf("Encode %T at the bounds: %v", f, err)
		}
		if _, err := wire.Decode(b); err != nil {
			t.Errorf("Decode %T at the bounds: %v", f, err)
		}
	}
}

func TestClippedAuditEventFitsTheBounds(t *testing.T) {
	props := map[string]string{strings.Repeat("k", 100): "dropped"}
	for i := range 40 {
		props[fmt.Sprintf("p%02d", i)] = strings.Repeat("é", 1000)
	}
	e := wire.AuditEvent{ID: 1, At: time.Now(), Actor: strings.Repeat("a", 1000), Event: "Login", Details: strings.Repeat("d", 10000), Properties: props}
	c := e.Clipped()
	if _, err := wire.Encode(&wire.AuditReport{Store: "e", Events: []wire.AuditEvent{c}}); err != nil {
		t.Fatalf("a clipped event does not encode: %v", err)
	}
	if len(c.Properties) != wire.MaxAuditProperties || c.Properties["p00"] == "" || c.Properties["p39"] != "" {
		t.Errorf("clipped properties: %d of them, p00 %t, p39 %t", len(c.Properties), c.Properties["p00"] != "", c.Properties["p39"] != "")
	}
	if !strings.HasSuffix(c.Details, "...") || len(c.Details) != wire.MaxAuditDetailsLength {
		t.Errorf("clipped details are %d bytes, ending %q", len(c.Details), c.Details[len(c.Details)-5:])
	}
	if ok := wire.AuditEvent(e).Clipped(); ok.Event != "Login" {
		t.Errorf("the event name changed to %q", ok.Event)
	}
	small := wire.AuditEvent{ID: 2, Event: "Space Start", Details: "dev", Properties: map[string]string{"ip": "127.0.0.1"}}
	if got := small.Clipped(); got.Details != "dev" || got.Properties["ip"] != "127.0.0.1" {
		t.Errorf("an event within the bounds changed: %+v", got)
	}
}

// FuzzAuditEventClipped checks that every clipped event fits a report.
func FuzzAuditEventClipped(f *testing.F) {
	f.Add("ann", "user", "Login", "logged in", "ip", "127.0.0.1", 1)
	f.Add(strings.Repeat("é", 200), "", "x", strings.Repeat("\xff", 5000), strings.Repeat("k", 70), "v", 40)
	f.Fuzz(func(t *testing.T, actor, actorType, event, details, key, value string, n int) {
		props := map[string]string{}
		for i := range min(max(n, 0), 64) {
			props[fmt.Sprint(key, i)] = value
		}
		if event == "" {
			event = "e"
		}
		e := wire.AuditEvent{ID: 1, Actor: actor, ActorType: actorType, Event: event, Details: details, Properties: props}.Clipped()
		b, err := wire.Encode(&wire.AuditReport{Store: "s", Events: []wire.AuditEvent{e}})
		if err != nil {
			t.Fatalf("a clipped event does not encode: %v", err)
		}
		if _, err := wire.Decode(b); err != nil {
			t.Fatalf("a clipped event is refused where it arrives: %v", err)
		}
	})
}
