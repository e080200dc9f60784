package leaf

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/storage"
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
	if err := openAnswer(st, spaceID, sshRefused); err != nil {
		return nil, err
	}
	return st, nil
}

// SSH returns the space with id when the actor may open an SSH connection
// to it (as Enter, audited as "ssh refused"): a space of this location
// with its host key (EUNAVAILABLE without an agent endpoint), a space of
// another location as it is, to be relayed.
func (a *Access) SSH(ctx context.Context, c Caller, id string) (*shared.Space, error) {
	sp, err := a.Enter(ctx, c, id, Way{Kind: "ssh"})
	switch {
	case err != nil:
		return nil, err
	case sp.Location != a.opts.Location:
		return sp, nil // relayed: the space's leaf holds its host key
	case a.opts.Agents == nil:
		return nil, shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint, so no SSH")
	}
	return a.HostKey(ctx, sp)
}

// HostKey returns sp with its SSH host key, making and storing one, in
// one transaction, for a space older than host keys. ECONFLICT for a
// space of another location without one: its own server makes it.
func (a *Access) HostKey(ctx context.Context, sp *shared.Space) (*shared.Space, error) {
	if sp.SSHHostKey != "" {
		return sp, nil
	}
	if sp.Location != a.opts.Location {
		return nil, shared.Errorf(shared.ECONFLICT, "space %s runs at location %s and has no SSH host key yet: ask that location's server", quote(sp.Name), quote(sp.Location))
	}
	ctx = context.WithoutCancel(ctx)
	var out *shared.Space
	err := a.opts.Store.Update(ctx, func(tx storage.Tx) error {
		cur, err := storage.Get[shared.Space](ctx, tx, sp.ID)
		if err != nil {
			return err
		}
		out = cur
		if cur.SSHHostKey != "" {
			return nil
		}
		if cur.SSHHostKey, cur.SSHHostPublic, err = newHostKey(a.opts.Streams.opts.Sealer); err != nil {
			return err
		}
		cur.UpdatedAt = a.opts.Now().UTC()
		return tx.Put(ctx, cur)
	})
	return out, err
}

// OpenSSH opens an SSH connection to the agent of sp (one SSH returned),
// local or relayed, for the actor, who authenticates with the keys of their profile
// (EINVALID when it holds none); the session runs the space's shell, as
// its terminals do. After it returns the stream carries the SSH
// connection's bytes both ways; the Visit records its open at Begin and
// its close at End, with the bytes each way. EUNAVAILABLE when the agent
// is not linked or does not answer, EINVALID (with the agent's reason)
// when it refuses.
func (a *Access) OpenSSH(ctx context.Context, c Caller, sp *shared.Space) (net.Conn, *Visit, error) {
	act := shared.ActorFrom(ctx)
	if act == nil || act.User == nil {
		return nil, nil, shared.Errorf(shared.ENOTFOUND, "space %s not found", quote(sp.ID))
	}
	keys := sshkey.Fingerprints(act.User)
	if len(keys) == 0 {
		return nil, nil, invalid("user %s has no SSH public key in their profile: add one with knot ssh-key add FILE.pub", quote(act.User.Username))
	}
	o := agentwire.SSH{Keys: keys, User: act.User.Username, Remote: c.IP, Shell: shellOf(ctx, a.opts.Store, sp)}
	if sp.Location == a.opts.Location { // else the space's leaf fills it, with the keys it holds
		var err error
		if o.HostKey, err = openHostKey(a.opts.Streams.opts.Sealer, sp); err != nil {
			return nil, nil, err
		}
	}
	if err := o.Validate(); err != nil {
		return nil, nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, v, err := a.OpenStream(octx, c, sp, Way{Kind: "ssh"}, agentwire.Open{Type: agentwire.OpenSSH, SSH: &o})
	if err != nil {
		return nil, nil, err
	}
	if err := openAnswer(st, sp.ID, sshRefused); err != nil {
		return nil, nil, err
	}
	return st, v, nil
}

// sshRefused begins the error of an SSH open the agent refuses.
const sshRefused = "the agent cannot serve SSH: "
