package leaf

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The list cache keeps the encoded space list responses for as long as the
// store has not changed: the space service's lists name their snapshot
// (shared.SpaceList.Version), and a list of the same version and filter is
// answered with the bytes made for the first. Only spaces whose record,
// owner or template changed are encoded again; an encoding not used by
// the views of this version or the one before is dropped, so the cache
// holds no spaces that are gone.
//
// Values handed out by the cache are shared: callers must not modify them.

// SpaceInfo is the API's description of sp; u and t (its owner and
// template) may be nil.
func SpaceInfo(sp *shared.Space, u *shared.User, t *shared.Template) api.Space {
	info := api.Space{
		ID: sp.ID, Name: sp.Name, Description: sp.Description, UserID: sp.UserID,
		TemplateID: sp.TemplateID, Location: sp.Location, Shell: sp.Shell, State: sp.State, Reason: sp.Reason,
		IsDeployed: sp.Deployed(), StartedAt: sp.StartedAt, CreatedAt: sp.CreatedAt, UpdatedAt: sp.UpdatedAt,
		SSHHostKey: sp.HostKey(),
		HTTPPorts:  []shared.HTTPPort{}, WithTerminal: true, WithSSH: true, Reachable: true,
	}
	if len(sp.SSHDHostKeys) > 0 {
		info.SSHHostKeys = sp.HostKeys()
	}
	if u != nil {
		info.Username = u.Username
	}
	if t != nil {
		info.TemplateName = t.Name
		if t.HTTPPorts != nil {
			info.HTTPPorts = t.HTTPPorts
		}
		info.UpdateAvailable = t.Hash != sp.TemplateHash
		info.WithTerminal, info.WithSSH = !t.NoTerminal, !t.NoSSH
	}
	return info
}

// SpaceView is a list of spaces and the records their list entries show,
// with their encodings.
type SpaceView struct {
	Version   string
	Spaces    []*shared.Space // ordered by id, or as the list options say
	Total     int             // spaces selected before paging
	States    map[shared.SpaceState]int
	Users     map[string]*shared.User
	Templates map[string]*shared.Template
	frags     map[string][]byte // space id -> its encoded list entry

	mu   sync.Mutex
	resp []byte // guarded by mu: the list response, once made
}

// encode writes the list response of the view's spaces: the count, then
// each space as entry writes it (its cached fragment, and up to extra bytes
// more).
func (v *SpaceView) encode(extra int, entry func(*bytes.Buffer, *shared.Space)) []byte {
	size := 0
	for _, sp := range v.Spaces {
		size += len(v.frags[sp.ID]) + 1 + extra
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+256))
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(len(v.Spaces)))
	buf.WriteString(`,"total":`)
	buf.WriteString(strconv.Itoa(v.Total))
	buf.WriteString(`,"states":{`)
	for i, st := range shared.SpaceStates {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + string(st) + `":`)
		buf.WriteString(strconv.Itoa(v.States[st]))
	}
	buf.WriteString(`},"spaces":[`)
	for i, sp := range v.Spaces {
		if i > 0 {
			buf.WriteByte(',')
		}
		entry(buf, sp)
	}
	buf.WriteString("]}\n")
	return buf.Bytes()
}

// reachableTail ends every cached list entry: api.Space.Reachable is its
// last field.
var reachableTail = []byte(`"reachable":true}`)

// Body returns the space list response of the view. With agentOf, every
// space whose agent this server holds carries its state (api.SpaceAgent),
// read on each call; with reach, every space of a location this server
// cannot reach now says so (a reason, "" for a reachable one). The rest of
// each entry is the cached encoding, so the list costs one pass and no
// store reads more. Without either it is the cached response, made once
// per view.
func (v *SpaceView) Body(agentOf func(*shared.Space) *api.SpaceAgent, reach func(*shared.Space) string) []byte {
	if agentOf == nil && reach == nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.resp == nil {
			v.resp = v.encode(0, func(buf *bytes.Buffer, sp *shared.Space) { buf.Write(v.frags[sp.ID]) })
		}
		return v.resp
	}
	return v.encode(96, func(buf *bytes.Buffer, sp *shared.Space) {
		frag := v.frags[sp.ID]
		var a *api.SpaceAgent
		if agentOf != nil {
			a = agentOf(sp)
		}
		why := ""
		if reach != nil {
			why = reach(sp)
		}
		if (a == nil && why == "") || !bytes.HasSuffix(frag, reachableTail) {
			buf.Write(frag)
			return
		}
		var ab, wb []byte
		var err error
		if a != nil {
			if ab, err = json.Marshal(a); err != nil {
				buf.Write(frag)
				return
			}
		}
		if why != "" {
			if wb, err = json.Marshal(why); err != nil {
				buf.Write(frag)
				return
			}
		}
		buf.Write(frag[:len(frag)-1])
		if why != "" {
			buf.Truncate(buf.Len() - len("true"))
			buf.WriteString(`false,"unreachable_reason":`)
			buf.Write(wb)
		}
		if a != nil {
			buf.WriteString(`,"agent":`)
			buf.Write(ab)
		}
		buf.WriteByte('}')
	})
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

// SpaceListCache makes SpaceViews. Its methods are safe for concurrent
// use.
type SpaceListCache struct {
	mu      sync.Mutex
	version string                // guarded by mu: the version of views
	views   map[string]*SpaceView // guarded by mu: by filter
	frags   map[string]fragEntry  // guarded by mu: by space id, those of this version's views
	old     map[string]fragEntry  // guarded by mu: frags of the version before, reused when unchanged
}

// NewSpaceListCache returns an empty cache.
func NewSpaceListCache() *SpaceListCache { return &SpaceListCache{frags: map[string]fragEntry{}} }

// View returns the view of l (a page of the space service's List), a
// list of spaces the filter key names.
func (c *SpaceListCache) View(l *shared.SpaceList, key string) (*SpaceView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != l.Version {
		c.version, c.views = l.Version, map[string]*SpaceView{}
		c.old, c.frags = c.frags, map[string]fragEntry{}
	}
	if v := c.views[key]; v != nil {
		return v, nil
	}
	v := &SpaceView{Version: l.Version, Spaces: l.Spaces, Total: l.Total, States: l.States,
		Users: l.Users, Templates: l.Templates, frags: make(map[string][]byte, len(l.Spaces))}
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
		if !ok {
			e, ok = c.old[sp.ID]
		}
		if !ok || e.key != k {
			data, err := json.Marshal(SpaceInfo(sp, u, t))
			if err != nil {
				return nil, shared.Wrap(shared.EINTERNAL, err, "encode space %s", sp.ID)
			}
			e = fragEntry{key: k, data: data}
		}
		c.frags[sp.ID] = e
		v.frags[sp.ID] = e.data
	}
	if len(c.views) < maxViews {
		c.views[key] = v
	}
	return v, nil
}
