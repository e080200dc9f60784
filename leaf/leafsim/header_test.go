package leafsim_test

import (
	"testing"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

func TestHeaderReadsWhatEncodeWrites(t *testing.T) {
	enc := func(f wire.Frame) string {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	change := wire.Change{Kind: shared.KindGroup, ID: "g1", Revision: 41, Data: []byte(`{"id":"g1"}`)}
	for _, tt := range []struct {
		name      string
		frame     string
		typ       string
		prev, rev int64
		ok        bool
	}{
		{"ChangesGiveTheirRevisions", enc(&wire.Changes{Prev: 40, Revision: 42, Changes: []wire.Change{change}}), wire.TypeChanges, 40, 42, true},
		{"EmptyChangesToo", enc(&wire.Changes{Prev: 0, Revision: 1}), wire.TypeChanges, 0, 1, true},
		{"LargeRevisions", enc(&wire.Changes{Prev: 1 << 50, Revision: 1<<50 + 1}), wire.TypeChanges, 1 << 50, 1<<50 + 1, true},
		{"KeepAliveIsLeftToDecode", enc(&wire.KeepAlive{Head: 77, AckIntervalMS: 1000}), "", 0, 0, false},
		{"SnapshotIsRecognized", enc(&wire.Snapshot{Revision: 9, Records: []wire.Change{change}}), wire.TypeSnapshot, 0, 0, true},
		{"OtherFramesAreLeftToDecode", enc(&wire.SnapshotEnd{Revision: 9, Count: 1}), "", 0, 0, false},
		{"FieldsInAnotherOrderAreLeftToDecode", `{"type":"changes","revision":2,"prev":1,"changes":[]}`, "", 0, 0, false},
		{"SpacesAreLeftToDecode", `{ "type":"changes","prev":1,"revision":2,"changes":[]}`, "", 0, 0, false},
		{"RevisionNotAbovePrevIsLeftToDecode", `{"type":"changes","prev":2,"revision":2,"changes":[]}`, "", 0, 0, false},
		{"NegativeIsLeftToDecode", `{"type":"changes","prev":-1,"revision":2,"changes":[]}`, "", 0, 0, false},
		{"HugeNumberIsLeftToDecode", `{"type":"changes","prev":1,"revision":99999999999999999999,"changes":[]}`, "", 0, 0, false},
		{"TruncatedIsLeftToDecode", `{"type":"changes","prev":1,"revis`, "", 0, 0, false},
		{"ChangesCutShortAreLeftToDecode", `{"type":"changes","prev":1,"revision":2,"changes":[{"kind":"group","id":"g1"`, "", 0, 0, false},
		{"ChangesWithMoreAfterTheListAreLeftToDecode", `{"type":"changes","prev":1,"revision":2,"changes":[],"x":1}`, "", 0, 0, false},
		{"ChangesThatAreNoListAreLeftToDecode", `{"type":"changes","prev":1,"revision":2,"changes":{}}`, "", 0, 0, false},
		{"NotJSON", `hello`, "", 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			typ, prev, rev, ok := leafsim.Header([]byte(tt.frame))
			if typ != tt.typ || prev != tt.prev || rev != tt.rev || ok != tt.ok {
				t.Fatalf("Header(%s) = %q %d %d %v, want %q %d %d %v", tt.frame, typ, prev, rev, ok, tt.typ, tt.prev, tt.rev, tt.ok)
			}
		})
	}
}
