package leaf

import (
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/sshkey"
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
