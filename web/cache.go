package web

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// The list cache keeps decoded spaces, users and templates, and the encoded
// space list responses, for as long as the store has not changed. "Not
// changed" is decided by a token made of the store's head (epoch and
// revision, which every Put and Delete advances) and its replica state
// (which every Apply of an origin's feed advances), read before the records
// are listed. When the token moves, the records are listed again, but only
// records whose revision or bytes differ are decoded again, and only spaces
// whose record, owner or template changed are encoded again.
//
// Values handed out by the cache are shared: callers must not modify them.

type viewToken struct {
	epoch    string
	rev      int64
	repEpoch string
	applied  int64
}

func readToken(ctx context.Context, st storage.Store) (viewToken, error) {
	h, err := st.Head(ctx)
	if err != nil {
		return viewToken{}, err
	}
	e, a, err := st.Replica(ctx)
	if err != nil {
		return viewToken{}, err
	}
	return viewToken{epoch: h.Epoch, rev: h.Revision, repEpoch: e, applied: a}, nil
}

// spaceView is a consistent snapshot of the spaces and the records their
// list entries show.
type spaceView struct {
	token     viewToken
	spaces    []*shared.Space // ordered by id
	users     map[string]*shared.User
	templates map[string]*shared.Template
	frags     map[string][]byte // space id -> its encoded list entry

	mu     sync.Mutex
	bodies map[string][]byte // guarded by mu: list responses by filter
}

// encode writes the list response of the spaces keep selects: the count,
// then each space as entry writes it (its cached fragment, and up to extra
// bytes more).
func (v *spaceView) encode(keep func(*shared.Space) bool, extra int, entry func(*bytes.Buffer, *shared.Space)) []byte {
	n, size := 0, 0
	for _, sp := range v.spaces {
		if keep(sp) {
			n++
			size += len(v.frags[sp.ID]) + 1 + extra
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+64))
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(n))
	buf.WriteString(`,"spaces":[`)
	first := true
	for _, sp := range v.spaces {
		if !keep(sp) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		entry(buf, sp)
	}
	buf.WriteString("]}\n")
	return buf.Bytes()
}

// maxBodies bounds the number of list responses a view keeps.
const maxBodies = 256

// body returns the encoded list response of the spaces keep selects, made
// once per view and key.
func (v *spaceView) body(key string, keep func(*shared.Space) bool) []byte {
	v.mu.Lock()
	b, ok := v.bodies[key]
	v.mu.Unlock()
	if ok {
		return b
	}
	b = v.encode(keep, 0, func(buf *bytes.Buffer, sp *shared.Space) { buf.Write(v.frags[sp.ID]) })
	v.mu.Lock()
	if len(v.bodies) < maxBodies {
		v.bodies[key] = b
	}
	v.mu.Unlock()
	return b
}

type fragKey struct {
	space, user, template int64
}

type fragEntry struct {
	key  fragKey
	data []byte
}

// listCache builds spaceViews.
type listCache struct {
	mu        sync.Mutex
	view      *spaceView                                  // guarded by mu
	spaces    recCache[shared.Space, *shared.Space]       // guarded by mu
	users     recCache[shared.User, *shared.User]         // guarded by mu
	templates recCache[shared.Template, *shared.Template] // guarded by mu
	frags     map[string]fragEntry                        // guarded by mu
}

func newListCache() *listCache { return &listCache{frags: map[string]fragEntry{}} }

// view returns a view of the store no older than the moment of the call.
func (c *listCache) get(ctx context.Context, st storage.Store) (*spaceView, error) {
	tok, err := readToken(ctx, st)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view != nil && c.view.token == tok {
		return c.view, nil
	}
	spaces, err := c.spaces.load(ctx, st)
	if err != nil {
		return nil, err
	}
	users, err := c.users.load(ctx, st)
	if err != nil {
		return nil, err
	}
	templates, err := c.templates.load(ctx, st)
	if err != nil {
		return nil, err
	}
	v := &spaceView{
		token:     tok,
		spaces:    spaces,
		users:     make(map[string]*shared.User, len(users)),
		templates: make(map[string]*shared.Template, len(templates)),
		frags:     make(map[string][]byte, len(spaces)),
		bodies:    map[string][]byte{},
	}
	for _, u := range users {
		v.users[u.ID] = u
	}
	for _, t := range templates {
		v.templates[t.ID] = t
	}
	frags := make(map[string]fragEntry, len(spaces))
	for _, sp := range spaces {
		u, t := v.users[sp.UserID], v.templates[sp.TemplateID]
		k := fragKey{space: sp.Revision}
		if u != nil {
			k.user = u.Revision
		}
		if t != nil {
			k.template = t.Revision
		}
		e, ok := c.frags[sp.ID]
		if !ok || e.key != k {
			data, err := json.Marshal(newSpaceInfo(sp, u, t))
			if err != nil {
				return nil, shared.Wrap(shared.EINTERNAL, err, "encode space %s", sp.ID)
			}
			e = fragEntry{key: k, data: data}
		}
		frags[sp.ID] = e
		v.frags[sp.ID] = e.data
	}
	c.frags = frags
	c.view = v
	return v, nil
}

type recEntry[P any] struct {
	rev  int64
	data []byte
	val  P
}

// recCache keeps the decoded records of one kind by id.
type recCache[T any, P storage.RecordPtr[T]] struct {
	m map[string]recEntry[P]
}

// load lists the records and decodes those that changed since the last load.
func (c *recCache[T, P]) load(ctx context.Context, st storage.Store) ([]P, error) {
	kind := P(new(T)).RecordKind()
	cs, err := st.List(ctx, kind)
	if err != nil {
		return nil, err
	}
	next := make(map[string]recEntry[P], len(cs))
	out := make([]P, 0, len(cs))
	for _, ch := range cs {
		e, ok := c.m[ch.ID]
		if !ok || e.rev != ch.Revision || !bytes.Equal(e.data, ch.Data) {
			v, err := storage.Decode[T, P](ch)
			if err != nil {
				return nil, err
			}
			e = recEntry[P]{rev: ch.Revision, data: ch.Data, val: v}
		}
		next[ch.ID] = e
		out = append(out, e.val)
	}
	c.m = next
	return out, nil
}
