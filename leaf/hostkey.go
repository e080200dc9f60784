package leaf

import (
	"context"
	"slices"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/storage"
)

// newHostKey makes a space's SSH host key: the private half as it is
// stored (sealed with sealer, in clear without one) and the public half.
func newHostKey(sealer *crypt.Sealer) (stored, public string, err error) {
	private, public, err := sshkey.NewHostKey()
	if err != nil || sealer == nil {
		return private, public, err
	}
	return sealer.Seal(private), public, nil
}

// openHostKey returns the OpenSSH PEM of sp's host key, for its agent: a
// key stored in clear (older records, a server without server.encrypt)
// as it is, a sealed one opened with sealer. EUNAVAILABLE, naming the
// space, when a sealed key does not open here.
func openHostKey(sealer *crypt.Sealer, sp *shared.Space) (string, error) {
	if !crypt.IsSealed(sp.SSHHostKey) {
		return sp.SSHHostKey, nil
	}
	if sealer == nil {
		return "", shared.Errorf(shared.EUNAVAILABLE, "space %s: its SSH host key is sealed and this server has no server.encrypt to open it", quote(sp.Name))
	}
	key, err := sealer.Open(sp.SSHHostKey)
	if err != nil {
		return "", shared.Errorf(shared.EUNAVAILABLE, "space %s: its SSH host key does not open with this server's server.encrypt (%v): every server needs the same server.encrypt", quote(sp.Name), err)
	}
	return key, nil
}

// KeepSSHDHostKeys stores keys, the host keys of the image's own sshd that
// the agent of the space spaceID reported (Agents.SSHDHostKeys), on the
// space, in one transaction, and reports whether it wrote: nothing is
// written when the space holds them already. So every server serves them
// (api.SpaceSSH, api.Space.SSHHostKeys) and knot ssh-config writes them.
// A space that is gone is no error.
func KeepSSHDHostKeys(ctx context.Context, st storage.Store, spaceID string, keys []string, now time.Time) (bool, error) {
	wrote := false
	err := st.Update(context.WithoutCancel(ctx), func(tx storage.Tx) error {
		sp, err := storage.Get[shared.Space](ctx, tx, spaceID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return nil
		}
		if err != nil || slices.Equal(sp.SSHDHostKeys, keys) {
			return err
		}
		sp.SSHDHostKeys = slices.Clone(keys)
		sp.UpdatedAt = now.UTC()
		wrote = true
		return tx.Put(ctx, sp)
	})
	return wrote && err == nil, err
}
