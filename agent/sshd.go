package agent

// The image's own sshd. An image may run its own SSH server on 127.0.0.1
// (Options.SSHPort, KNOT_SSH_PORT as the predecessor's templates set it):
// then each SSH connection goes to it while something answers there, and to
// the agent's own SSH server otherwise. That sshd authenticates with its own
// authorized_keys, where the agent keeps the public keys of the space's
// owner (Options.AuthorizedKeysFile) in a block between marker lines, the
// predecessor's, replacing only that block: the leaf sends the keys when
// the agent links, whenever they change, and with every SSH connection.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

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
