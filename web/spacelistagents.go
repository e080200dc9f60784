package web

import (
	"bytes"
	"encoding/json"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// agentOf describes the agent of sp, nil when this server does not hold
// its link.
func (s *Server) agentOf(sp *shared.Space) *api.SpaceAgent { return s.access.AgentOf(sp) }

// reachableTail ends every cached list entry: api.Space.Reachable is its
// last field.
var reachableTail = []byte(`"reachable":true}`)

// listBody returns the space list response of v. On a server with an
// agent endpoint every space of its location carries its agent's state
// (api.SpaceAgent), read from the in-memory registry of linked agents on
// each request, and on an origin or a leaf every space of a location it
// cannot reach now says so (leaf.SpaceService.Reachability); the rest of each entry is the
// cached encoding, so the list costs one pass and no store reads more.
// Otherwise it is the cached response, made once per view.
func (s *Server) listBody(v *spaceView) []byte {
	reach := s.spaces.Reachability()
	if s.agents == nil && reach == nil {
		return v.body()
	}
	return v.encode(96, func(buf *bytes.Buffer, sp *shared.Space) {
		frag := v.frags[sp.ID]
		a := s.agentOf(sp)
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
