package wire_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// stored returns a change as a store holds it: the record's JSON, as
// storage.Encode writes it.
func stored(t *testing.T, rec shared.Record) wire.Change {
	t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Change{Kind: rec.RecordKind(), ID: rec.RecordID(), Revision: rec.GetRevision(), Data: data}
}

func TestEncodeTrustedWritesWhatEncodeWrites(t *testing.T) {
	tpl := &shared.Template{Meta: shared.Meta{ID: "t1", Revision: 7}, Name: "dev", Kind: shared.TemplateContainer,
		Spec: "image: x\ncommand: [\"sh\", \"-c\", \"make && echo <done>\"]\nenvironment:\n  - \"Q=\\\"quoted\\\" é ☃\"\n"}
	user := &shared.User{Meta: shared.Meta{ID: "ü-<1>&", Revision: 9}, Username: "ann", Email: "ann@example.com", Groups: []string{"g"}}
	tomb := wire.Change{Kind: shared.KindGroup, ID: "g2", Revision: 10, Deleted: true}
	for _, tt := range []struct {
		name  string
		frame wire.Frame
	}{
		{"Changes", &wire.Changes{Prev: 6, Revision: 10, Changes: []wire.Change{stored(t, tpl), stored(t, user), tomb}}},
		{"EmptyChanges", &wire.Changes{Prev: 6, Revision: 8, Changes: []wire.Change{}}},
		{"NilChanges", &wire.Changes{Prev: 0, Revision: 1}},
		{"Snapshot", &wire.Snapshot{Revision: 10, Records: []wire.Change{stored(t, tpl), stored(t, user)}}},
		{"EmptySnapshot", &wire.Snapshot{Revision: 0}},
		{"OtherFramesGoToEncode", &wire.Ack{Applied: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, err := wire.Encode(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wire.EncodeTrusted(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("EncodeTrusted:\n%s\nEncode:\n%s", got, want)
			}
			if _, err := wire.Decode(got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

func TestEncodeTrustedRefusesWhatEncodeRefuses(t *testing.T) {
	good := wire.Change{Kind: shared.KindGroup, ID: "g1", Revision: 3, Data: json.RawMessage(`{"id":"g1"}`)}
	with := func(f func(*wire.Change)) []wire.Change {
		c := good
		f(&c)
		return []wire.Change{good, c}
	}
	for _, tt := range []struct {
		name  string
		frame wire.Frame
		code  string
		want  string
	}{
		{"RevisionNotAbovePrev", &wire.Changes{Prev: 5, Revision: 5}, shared.EINVALID, "revision 5 is missing or not above prev 5"},
		{"NegativePrev", &wire.Changes{Prev: -1, Revision: 5}, shared.EINVALID, "prev -1 is negative"},
		{"LocalKind", &wire.Changes{Prev: 1, Revision: 5, Changes: with(func(c *wire.Change) { c.Kind = shared.KindSession })}, shared.EINVALID, "change 1: kind"},
		{"NoID", &wire.Changes{Prev: 1, Revision: 5, Changes: with(func(c *wire.Change) { c.ID = "" })}, shared.EINVALID, "change 1: id is missing"},
		{"TombstoneWithData", &wire.Changes{Prev: 1, Revision: 5, Changes: with(func(c *wire.Change) { c.Deleted = true })}, shared.EINVALID, "carries data"},
		{"DataNotAnObject", &wire.Changes{Prev: 1, Revision: 5, Changes: with(func(c *wire.Change) { c.Data = json.RawMessage(`[1]`) })}, shared.EINVALID, "no record data"},
		{"NoData", &wire.Changes{Prev: 1, Revision: 5, Changes: with(func(c *wire.Change) { c.Data = nil })}, shared.EINVALID, "no record data"},
		{"TombstoneInSnapshot", &wire.Snapshot{Revision: 5, Records: []wire.Change{{Kind: shared.KindGroup, ID: "g", Revision: 1, Deleted: true}}}, shared.EINVALID, "record 0 is a tombstone"},
		{"NegativeSnapshot", &wire.Snapshot{Revision: -1}, shared.EINVALID, "negative"},
		{"TooLarge", &wire.Snapshot{Revision: 1, Records: []wire.Change{{Kind: shared.KindGroup, ID: "g", Revision: 1, Data: json.RawMessage(`{"x":"` + strings.Repeat("a", wire.MaxFrameSize) + `"}`)}}}, shared.ETOOLARGE, "over the limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.EncodeTrusted(tt.frame)
			if shared.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EncodeTrusted = %v; want %s containing %q", err, tt.code, tt.want)
			}
			if _, err2 := wire.Encode(tt.frame); shared.ErrorCode(err2) != tt.code {
				t.Fatalf("Encode = %v, EncodeTrusted = %v: they disagree", err2, err)
			}
		})
	}
}

// BenchmarkDecodeChanges decodes a change frame as a catching-up leaf gets
// it: 400 templates with a 2 KiB spec each, about 1 MB.
func BenchmarkDecodeChanges(b *testing.B) {
	var spec strings.Builder
	for spec.Len() < 2048 {
		spec.WriteString("environment:\n  - \"KNOT_BENCH=a line of a container spec\"\n")
	}
	cs := make([]wire.Change, 400)
	for i := range cs {
		tpl := &shared.Template{Meta: shared.Meta{ID: "t" + strings.Repeat("0", i%7), Revision: int64(i + 1)},
			Name: "dev", Kind: shared.TemplateContainer, Spec: spec.String(), Groups: []string{}, Locations: []string{}}
		data, err := json.Marshal(tpl)
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = wire.Change{Kind: shared.KindTemplate, ID: tpl.ID, Revision: int64(i + 1), Data: data}
	}
	frame, err := wire.EncodeTrusted(&wire.Changes{Prev: 0, Revision: 400, Changes: cs})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		f, err := wire.Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(f.(*wire.Changes).Changes); n != 400 {
			b.Fatalf("decoded %d changes, want 400", n)
		}
	}
}
