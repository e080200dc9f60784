package web

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/knot-dev/knot/shared"
)

// The list cache keeps the encoded space list responses for as long as the
// store has not changed: the space service's lists name their snapshot
// (shared.SpaceList.Version), and a list of the same version and filter is
// answered with the bytes made for the first. Only spaces whose record,
// owner or template changed are encoded again.
//
// Values handed out by the cache are shared: callers must not modify them.

// spaceSnapshots gives every space with its owners and templates; the
// space service is one.
type spaceSnapshots interface {
	Snapshot(ctx context.Context) (*shared.SpaceList, error)
}

// spaceView is a list of spaces and the records their list entries show,
// with their encodings.
type spaceView struct {
	version   string
	spaces    []*shared.Space // ordered by id, or as the list options say
	total     int             // spaces selected before paging
	states    map[shared.SpaceState]int
	users     map[string]*shared.User
	templates map[string]*shared.Template
	frags     map[string][]byte // space id -> its encoded list entry

	mu   sync.Mutex
	resp []byte // guarded by mu: the list response, once made
}

// encode writes the list response of the view's spaces: the count, then
// each space as entry writes it (its cached fragment, and up to extra bytes
// more).
func (v *spaceView) encode(extra int, entry func(*bytes.Buffer, *shared.Space)) []byte {
	size := 0
	for _, sp := range v.spaces {
		size += len(v.frags[sp.ID]) + 1 + extra
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+256))
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(len(v.spaces)))
	buf.WriteString(`,"total":`)
	buf.WriteString(strconv.Itoa(v.total))
	buf.WriteString(`,"states":{`)
	for i, st := range shared.SpaceStates {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + string(st) + `":`)
		buf.WriteString(strconv.Itoa(v.states[st]))
	}
	buf.WriteString(`},"spaces":[`)
	for i, sp := range v.spaces {
		if i > 0 {
			buf.WriteByte(',')
		}
		entry(buf, sp)
	}
	buf.WriteString("]}\n")
	return buf.Bytes()
}

// body returns the encoded list response of the view, made once.
func (v *spaceView) body() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.resp == nil {
		v.resp = v.encode(0, func(buf *bytes.Buffer, sp *shared.Space) { buf.Write(v.frags[sp.ID]) })
	}
	return v.resp
}

// maxViews bounds the number of list views a cache keeps per version.
const maxViews = 256

type fragKey struct {
	space, user, template int64
}

type fragEntry struct {
	key  fragKey
	data []byte
}

// listCache makes spaceViews.
type listCache struct {
	mu      sync.Mutex
	version string                // guarded by mu: the version of views
	views   map[string]*spaceView // guarded by mu: by filter
	frags   map[string]fragEntry  // guarded by mu: by space id
}

func newListCache() *listCache { return &listCache{frags: map[string]fragEntry{}} }

// get returns a view of every space, no older than the moment of the call.
func (c *listCache) get(ctx context.Context, src spaceSnapshots) (*spaceView, error) {
	l, err := src.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return c.view(l, "", true)
}

// view returns the view of l, a list of spaces the filter key names;
// every is true when l holds every space, whose encodings alone the cache
// then keeps.
func (c *listCache) view(l *shared.SpaceList, key string, every bool) (*spaceView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != l.Version {
		c.version, c.views = l.Version, map[string]*spaceView{}
	}
	if v := c.views[key]; v != nil {
		return v, nil
	}
	v := &spaceView{version: l.Version, spaces: l.Spaces, total: l.Total, states: l.States,
		users: l.Users, templates: l.Templates, frags: make(map[string][]byte, len(l.Spaces))}
	if l.States == nil {
		v.total, v.states = len(l.Spaces), countStates(l.Spaces)
	}
	frags := c.frags
	if every {
		frags = make(map[string]fragEntry, len(l.Spaces))
	}
	for _, sp := range l.Spaces {
		u, t := l.Users[sp.UserID], l.Templates[sp.TemplateID]
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
	if len(c.views) < maxViews {
		c.views[key] = v
	}
	return v, nil
}

// countStates counts spaces per state.
func countStates(spaces []*shared.Space) map[shared.SpaceState]int {
	m := make(map[shared.SpaceState]int, len(shared.SpaceStates))
	for _, sp := range spaces {
		m[sp.State]++
	}
	return m
}
