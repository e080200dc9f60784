package origin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// rawLeaf speaks the wire protocol by hand, to test what the hub sends and
// how it answers frames a real leaf would never send.
type rawLeaf struct {
	t *testing.T
	c *websocket.Conn
}

func dialRaw(t *testing.T, o *testOrigin, token string) (*rawLeaf, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, o.srv.URL+wire.Path, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
		Subprotocols: []string{wire.Subprotocol},
	})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(wire.MaxFrameSize)
	t.Cleanup(func() { c.CloseNow() })
	return &rawLeaf{t: t, c: c}, resp, nil
}

func mustDialRaw(t *testing.T, o *testOrigin, token string) *rawLeaf {
	t.Helper()
	r, _, err := dialRaw(t, o, token)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return r
}

func hello(node, location, epoch string, applied int64) *wire.Hello {
	return &wire.Hello{NodeID: node, Location: location, Version: "test", ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax, Epoch: epoch, AppliedRevision: applied}
}

func (r *rawLeaf) send(f wire.Frame) {
	r.t.Helper()
	b, err := wire.Encode(f)
	if err != nil {
		r.t.Fatalf("encode: %v", err)
	}
	r.sendRaw(b)
}

func (r *rawLeaf) sendRaw(b []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, or the error that ended the link.
func (r *rawLeaf) next() (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := r.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

func (r *rawLeaf) mustNext() wire.Frame {
	r.t.Helper()
	f, err := r.next()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return f
}

// nextSkipping returns the next frame that is not a keep-alive.
func (r *rawLeaf) nextSkipping() wire.Frame {
	r.t.Helper()
	for {
		f := r.mustNext()
		if _, ok := f.(*wire.KeepAlive); !ok {
			return f
		}
	}
}

// welcome sends h and expects a welcome.
func (r *rawLeaf) welcome(h *wire.Hello) *wire.Welcome {
	r.t.Helper()
	r.send(h)
	f := r.mustNext()
	w, ok := f.(*wire.Welcome)
	if !ok {
		r.t.Fatalf("want a welcome, got %#v", f)
	}
	return w
}

// readSnapshot reads a whole snapshot and returns its records by kind/id.
func (r *rawLeaf) readSnapshot() (map[string]wire.Change, int64) {
	r.t.Helper()
	out := map[string]wire.Change{}
	for {
		switch f := r.nextSkipping().(type) {
		case *wire.Snapshot:
			for _, c := range f.Records {
				out[string(c.Kind)+"/"+c.ID] = c
			}
		case *wire.SnapshotEnd:
			if f.Count != len(out) {
				r.t.Fatalf("snapshot end counts %d records, got %d", f.Count, len(out))
			}
			return out, f.Revision
		default:
			r.t.Fatalf("want a snapshot frame, got %#v", f)
		}
	}
}

// closed waits for the link to close and returns its close code and reason.
func (r *rawLeaf) closed() (websocket.StatusCode, string) {
	r.t.Helper()
	for {
		_, err := r.next()
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			r.t.Fatalf("link ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}

// expectClose checks that the link closes with code and a reason holding
// want.
func (r *rawLeaf) expectClose(code int, want string) {
	r.t.Helper()
	got, reason := r.closed()
	if int(got) != code || !strings.Contains(reason, want) {
		r.t.Fatalf("closed with %d %q, want %d and a reason with %q", got, reason, code, want)
	}
}

// expectRefusal checks that the hub refuses h with a reason holding want.
func (r *rawLeaf) expectRefusal(h *wire.Hello, retryable bool, want string) {
	r.t.Helper()
	r.send(h)
	f := r.mustNext()
	ref, ok := f.(*wire.Refusal)
	if !ok {
		r.t.Fatalf("want a refusal, got %#v", f)
	}
	if ref.Retryable != retryable || !strings.Contains(ref.Reason, want) {
		r.t.Fatalf("refusal %+v, want retryable=%v and a reason with %q", ref, retryable, want)
	}
	r.expectClose(wire.CloseRefused, want)
}

// mustPut writes rec as new or over the stored revision.
func mustPut(t testing.TB, o *testOrigin, rec shared.Record) {
	t.Helper()
	ctx := context.Background()
	if c, err := o.Store().Get(ctx, rec.RecordKind(), rec.RecordID()); err == nil {
		rec.SetRevision(c.Revision)
	}
	if err := o.Store().Put(ctx, rec); err != nil {
		t.Fatalf("put %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
	o.hub().Notify()
}

func decodeData[T any](t testing.TB, c wire.Change) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal(c.Data, v); err != nil {
		t.Fatalf("decode %s %s: %v", c.Kind, c.ID, err)
	}
	return v
}

func key(k shared.Kind, id string) string { return fmt.Sprintf("%s/%s", k, id) }
