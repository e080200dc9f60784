package web

import (
	"bytes"
	"context"
	"sync"

	"github.com/knot-dev/knot/storage"
)

type recEntry[P any] struct {
	rev  int64
	data []byte
	val  P
}

// decodeCache keeps decoded records of one kind by id, so that the records
// read on every request (sessions, users) are decoded only when they change.
// It is bounded: past maxDecoded entries it starts over. Values are shared:
// callers must not modify them.
type decodeCache[T any, P storage.RecordPtr[T]] struct {
	mu sync.Mutex
	m  map[string]recEntry[P] // guarded by mu
}

const maxDecoded = 10000

// get reads the record with id from st and returns it decoded.
func (c *decodeCache[T, P]) get(ctx context.Context, st storage.Store, id string) (P, error) {
	ch, err := st.Get(ctx, P(new(T)).RecordKind(), id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.rev == ch.Revision && bytes.Equal(e.data, ch.Data) {
		return e.val, nil
	}
	v, err := storage.Decode[T, P](ch)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = map[string]recEntry[P]{}
	}
	c.m[id] = recEntry[P]{rev: ch.Revision, data: ch.Data, val: v}
	c.mu.Unlock()
	return v, nil
}
