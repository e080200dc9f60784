package wire

import (
	"encoding/json"
	"strconv"

	"github.com/knot-dev/knot/shared"
)

// EncodeTrusted returns the same bytes as Encode for a Changes or Snapshot
// frame whose record data comes from a store (storage.Encode writes compact
// JSON objects), without checking that data in full: it checks the frame
// and each change as Validate does, but takes data that starts with '{'
// and ends with '}' to be the valid JSON object the store wrote. Encode
// reads every record two more times, which is most of the cost of sending
// a large page of the feed. A leaf decodes and validates every frame in
// full whichever way it was encoded.
func EncodeTrusted(f Frame) ([]byte, error) {
	var (
		head    []byte
		changes []Change
		where   string
		tombs   bool
	)
	switch f := f.(type) {
	case *Changes:
		if f.Prev < 0 || f.Revision <= f.Prev {
			return nil, f.Validate()
		}
		head = append(head, `{"type":"changes","prev":`...)
		head = strconv.AppendInt(head, f.Prev, 10)
		head = append(head, `,"revision":`...)
		head = strconv.AppendInt(head, f.Revision, 10)
		head = append(head, `,"changes":`...)
		changes, where, tombs = f.Changes, "changes: change", true
	case *Snapshot:
		if f.Revision < 0 {
			return nil, f.Validate()
		}
		head = append(head, `{"type":"snapshot","revision":`...)
		head = strconv.AppendInt(head, f.Revision, 10)
		head = append(head, `,"records":`...)
		changes, where = f.Records, "snapshot: record"
	default:
		return Encode(f)
	}
	n := len(head) + 16
	for _, c := range changes {
		n += len(c.Data) + len(c.ID) + len(c.Kind) + 64
	}
	if n > MaxFrameSize+4096 {
		n = MaxFrameSize + 4096 // the check below refuses it
	}
	out := make([]byte, 0, n)
	out = append(out, head...)
	if changes == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
	}
	for i, c := range changes {
		if c.Deleted && !tombs {
			return nil, invalid("snapshot: record %d is a tombstone", i)
		}
		if err := c.check(where, i); err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"kind":`...)
		out = appendString(out, string(c.Kind))
		out = append(out, `,"id":`...)
		out = appendString(out, c.ID)
		out = append(out, `,"revision":`...)
		out = strconv.AppendInt(out, c.Revision, 10)
		if c.Deleted {
			out = append(out, `,"deleted":true`...)
		}
		if len(c.Data) > 0 {
			out = append(out, `,"data":`...)
			out = append(out, c.Data...)
		}
		out = append(out, '}')
	}
	if changes != nil {
		out = append(out, ']')
	}
	out = append(out, '}')
	if len(out) > MaxFrameSize {
		return nil, shared.Errorf(shared.ETOOLARGE, "wire: %s frame of %d bytes is over the limit of %d", f.FrameType(), len(out), MaxFrameSize)
	}
	return out, nil
}

// check is validate with a cheap test of the data: a compact JSON object
// as a store writes it starts with '{' and ends with '}'.
func (c Change) check(where string, i int) error {
	shape := func(b []byte) bool { return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' }
	switch {
	case !c.Kind.Replicated(), c.ID == "", len(c.ID) > maxIDLength, c.Revision < 0,
		c.Deleted && len(c.Data) > 0, !c.Deleted && !shape(c.Data):
		return c.validate(where + " " + strconv.Itoa(i))
	}
	return nil
}

// appendString appends s as encoding/json writes a string.
func appendString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			q, _ := json.Marshal(s)
			return append(out, q...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}
