package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/testenv"
)

// knot forward ssh half-closes: a client whose input ends (the end of
// standard input) still gets what the space answers after reading it to
// its end, at the space's own leaf, relayed by the origin and from the
// other leaf. The space's "sshd" (agent.port.ssh) is a server that answers
// each connection once it read it to its end; before, the end of input
// ended the connection and the answer was lost.
func TestSSHHalfCloseFromAnyServer(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		testenv.Missing(t, "ssh-keygen (openssh-client)", err)
	}
	f := startRelayFleet(t)
	answerPort := answerAtEOFPort(t)
	startManualSpaceEnv(t, f.branch, f.admin, f.tmplID, "eofs", map[string]string{"KNOT_SSH_PORT": answerPort})
	env := clientEnv(t, "KNOT_SERVER", f.branch.base, "KNOT_TOKEN", f.admin)
	key := filepath.Join(env["HOME"], "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	keygen(t, key)
	mustSucceed(t, knot(t, env, "", "ssh-key", "add", key+".pub"))

	input := strings.Repeat("x", 100_000)
	for _, s := range []*serverProc{f.branch, f.origin, f.annex} {
		env := clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", f.admin)
		poll(t, "knot forward ssh at "+s.base, func() (bool, string) {
			// The key reaches the space's leaf by replication.
			r := knot(t, env, input, "forward", "ssh", "eofs")
			return r.code == 0 && r.stdout == "got 100000 bytes", r.stdout + r.stderr
		})
	}
}
