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

// listBody returns the space list response of v. On a server with an
// agent endpoint every space of its location carries its agent's state
// (api.SpaceAgent), read from the in-memory registry of linked agents on
// each request; the rest of each entry is the cached encoding, so the list
// costs one pass and no store reads more. Without an agent endpoint it is
// the cached response, made once per view.
func (s *Server) listBody(v *spaceView) []byte {
	if s.agents == nil {
		return v.body()
	}
	return v.encode(96, func(buf *bytes.Buffer, sp *shared.Space) {
		frag := v.frags[sp.ID]
		a := s.agentOf(sp)
		if a == nil || len(frag) < 2 || frag[len(frag)-1] != '}' {
			buf.Write(frag)
			return
		}
		ab, err := json.Marshal(a)
		if err != nil {
			buf.Write(frag)
			return
		}
		buf.Write(frag[:len(frag)-1])
		buf.WriteString(`,"agent":`)
		buf.Write(ab)
		buf.WriteByte('}')
	})
}
