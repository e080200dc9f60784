package web

import (
	"bytes"
	"encoding/json"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// agentOf describes the agent of sp, nil when this server does not hold
// its link.
func (s *Server) agentOf(sp *shared.Space) *api.SpaceAgent { return s.access.AgentOf(sp) }

// remoteAgents returns, on an origin, what the hub heard from the leaves
// of their agents (leaf.AccessOptions.RemoteAgents); nil elsewhere.
func (s *Server) remoteAgents() func(location, spaceID string) (leaf.AgentStatus, string, bool) {
	if s.hub == nil {
		return nil
	}
	return func(location, spaceID string) (leaf.AgentStatus, string, bool) {
		st, server, ok := s.hub.AgentState(location, spaceID)
		return leaf.AgentStatus{Connected: st.Connected, Version: st.Version, LastSeen: st.LastSeen}, server, ok
	}
}

// reachableTail ends every cached list entry: api.Space.Reachable is its
// last field.
var reachableTail = []byte(`"reachable":true}`)

// listBody returns the space list response of v. On a server with an
// agent endpoint every space of its location carries its agent's state
// (api.SpaceAgent), read from the in-memory registry of linked agents on
// each request, and on an origin every space of a leaf whose agent that
// leaf reported, and on an origin or a leaf every space of a location it
// cannot reach now says so (reachability); the rest of each entry is the
// cached encoding, so the list costs one pass and no store reads more.
// Otherwise it is the cached response, made once per view.
func (s *Server) listBody(v *spaceView) []byte {
	reach := s.reachability()
	if s.agents == nil && s.hub == nil && reach == nil {
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
