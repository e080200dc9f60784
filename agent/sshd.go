package agent

// The image's own sshd. An image may run its own SSH server on 127.0.0.1
// (Options.SSHPort, KNOT_SSH_PORT as the predecessor's templates set it):
// then each SSH connection goes to it while something answers there, and to
// the agent's own SSH server otherwise. That sshd authenticates with its own
// authorized_keys, where the agent keeps the public keys of the space's
// owner (Options.AuthorizedKeysFile) in a block between marker lines, the
// predecessor's, replacing only that block: the leaf sends the keys when
// the agent links, whenever they change, and with every SSH connection.
//
// That sshd presents its own host keys, not the space's. So that OpenSSH,
// which checks them against what knot ssh-config wrote, agrees, the agent
// learns them: it opens an SSH handshake with the sshd for each kind of
// host key (taking the key it is shown and going no further), when it
// links and then every sshdProbeEvery, and reports them in its state
// (agentwire.State.SSHDHostKeys); the leaf keeps them on the space.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
)

// The lines around the agent's block of authorized_keys.
const (
	KeysBegin = "#===KNOT-START==="
	KeysEnd   = "#===KNOT-END==="
)

// sshdDialTimeout bounds the dial of the image's sshd.
const sshdDialTimeout = 3 * time.Second

// sshdProbeEvery is how often the agent looks at the sshd's host keys
// again.
const sshdProbeEvery = time.Minute

// sshdKeyAlgorithms are the kinds of host key the agent asks the sshd
// for, one handshake each, in the order OpenSSH prefers them.
var sshdKeyAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512}

// sshdKeys is what the agent last saw of the sshd's host keys.
type sshdKeys struct {
	keys   []string  // in authorized_keys form; nil when no sshd answered
	probed time.Time // when it last looked; zero: never
}

// probeSSHD looks at the host keys of the image's sshd when it is due
// (never looked, or sshdProbeEvery ago), and reports whether they changed.
// It does nothing without Options.SSHPort.
func (a *Agent) probeSSHD(now time.Time) bool {
	a.mu.Lock()
	due := a.opts.SSHPort > 0 && (a.sshd.probed.IsZero() || now.Sub(a.sshd.probed) >= sshdProbeEvery)
	a.mu.Unlock()
	if !due {
		return false
	}
	keys := SSHDHostKeys(net.JoinHostPort("127.0.0.1", strconv.Itoa(a.opts.SSHPort)), sshdDialTimeout)
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := !slices.Equal(a.sshd.keys, keys)
	a.sshd = sshdKeys{keys: keys, probed: now}
	if changed {
		a.log.Info("agent: the image's sshd host keys", "port", a.opts.SSHPort, "keys", len(keys))
	}
	return changed
}

// SSHDHostKeys returns the host keys the SSH server at addr presents, one
// per kind it has (of sshdKeyAlgorithms, in that order), in authorized_keys
// form without a comment: for each kind it opens a connection, takes the
// key the server shows in the handshake and closes it before anything
// else. It returns nil when nothing answers at addr. Each connection and
// handshake is bounded by timeout, and it stops at the first handshake
// that fails otherwise than for want of that kind of key (not an SSH
// server, one that hangs), so it takes at most about one timeout then.
func SSHDHostKeys(addr string, timeout time.Duration) []string {
	var keys []string
	for _, alg := range sshdKeyAlgorithms {
		key, err := sshdHostKey(addr, alg, timeout)
		switch {
		case key != nil:
			keys = append(keys, string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(key))))
		case errors.Is(err, errNoSSHD):
			return nil
		case err != nil && !strings.Contains(err.Error(), "no common algorithm"):
			return keys
		}
	}
	return keys
}

// errNoSSHD is sshdHostKey's error when nothing answers.
var errNoSSHD = errors.New("no sshd answers")

// errGotKey ends a handshake once the host key is in.
var errGotKey = errors.New("got the host key")

// sshdHostKey returns the host key of kind alg that the SSH server at addr
// presents: nil when it has none of that kind, errNoSSHD when nothing
// answers.
func sshdHostKey(addr, alg string, timeout time.Duration) (ssh.PublicKey, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, errNoSSHD
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              "knot-host-key",
		HostKeyAlgorithms: []string{alg},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errGotKey
		},
		Timeout: timeout,
	}
	_, _, _, err = ssh.NewClientConn(c, addr, cfg)
	if key != nil {
		return key, nil
	}
	return nil, err
}

// keysFile guards the writes of authorized_keys.
var keysFile sync.Mutex

// toSSHD hands the SSH connection on rw to the image's sshd, if one is
// configured and answers, after writing the owner's keys that o carries;
// it reports whether it did (and then serves the connection to its end).
func (a *Agent) toSSHD(rw net.Conn, o *agentwire.SSH) bool {
	if a.opts.SSHPort <= 0 {
		return false
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(a.opts.SSHPort)), sshdDialTimeout)
	if err != nil {
		a.log.Debug("agent: no sshd answers; serving SSH itself", "port", a.opts.SSHPort, "err", err)
		return false
	}
	defer c.Close()
	if o.Owner != nil {
		a.keepKeys(o.Owner.Keys)
	}
	if err := agentwire.WriteJSON(rw, agentwire.Opened{ID: "sshd"}); err != nil {
		return true
	}
	a.log.Info("agent: SSH connection handed to the image's sshd", "port", a.opts.SSHPort, "user", o.User, "remote", o.Remote)
	wire.Splice(rw, c)
	return true
}

// keepKeys writes keys into the agent's block of authorized_keys, if it
// keeps one; a failure is logged.
func (a *Agent) keepKeys(keys []string) {
	if a.opts.AuthorizedKeysFile == "" {
		return
	}
	if err := WriteAuthorizedKeys(a.opts.AuthorizedKeysFile, keys); err != nil {
		a.log.Error("agent: cannot write authorized_keys", "file", a.opts.AuthorizedKeysFile, "err", err)
	}
}

// WriteAuthorizedKeys replaces the block between KeysBegin and KeysEnd in
// file with keys (appending the block when there is none), and keeps every
// other line. It makes the file (mode 0600) and its directory (0700) when
// they are missing, leaves the file alone when nothing changes, and
// replaces it whole, so sshd never reads half of it.
func WriteAuthorizedKeys(file string, keys []string) error {
	keysFile.Lock()
	defer keysFile.Unlock()
	old, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out []string
	in, placed := false, false
	block := func() {
		out = append(out, KeysBegin)
		for _, k := range keys {
			if k = strings.TrimSpace(k); k != "" && !strings.ContainsAny(k, "\r\n") {
				out = append(out, k)
			}
		}
		out = append(out, KeysEnd)
		placed = true
	}
	for l := range strings.Lines(string(old)) {
		l = strings.TrimRight(l, "\r\n")
		switch {
		case l == KeysBegin && !in:
			in = true
			if !placed {
				block()
			}
		case l == KeysEnd && in:
			in = false
		case !in:
			out = append(out, l)
		}
	}
	if in {
		return fmt.Errorf("%s: %s has no %s line after it; not touching the file", file, KeysBegin, KeysEnd)
	}
	if !placed {
		block()
	}
	data := []byte(strings.Join(out, "\n") + "\n")
	if string(data) == string(old) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".authorized_keys.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
