package leaf

import (
	"context"
	"io"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
)

// OpenSSH opens an SSH connection to the agent of a space: after it
// returns, the stream carries the SSH connection's bytes both ways. It
// fails with EUNAVAILABLE when the agent is not linked or does not answer,
// and EINVALID (with the agent's reason) when it refuses.
func (a *Agents) OpenSSH(ctx context.Context, spaceID string, o agentwire.SSH) (io.ReadWriteCloser, error) {
	if err := o.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	ac := a.get(spaceID)
	if ac == nil {
		return nil, notLinked(spaceID)
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := a.open(octx, ac, agentwire.Open{Type: agentwire.OpenSSH, SSH: &o})
	if err != nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	var op agentwire.Opened
	if err := agentwire.ReadJSON(st, &op); err != nil {
		st.Close()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	if op.Error != "" {
		st.Close()
		return nil, shared.Errorf(shared.EINVALID, "the agent cannot serve SSH: %s", op.Error)
	}
	st.SetDeadline(time.Time{})
	return st, nil
}
