package main_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/knot-dev/knot/shared/testenv"
)

// BenchmarkSSHRelayed measures the interactive round trip of SSH into a
// space through a second server that relays it to the space's leaf (an
// origin and two leaves as processes on loopback; the manual space's agent
// runs on this machine), against the same space through its own leaf and
// OpenSSH's sshd on loopback: one byte through cat on a warm connection,
// with OpenSSH's ssh and knot ssh-config's configuration.
//
//	go test -run '^$' -bench SSHRelayed -benchtime 1x ./cmd/knot
func BenchmarkSSHRelayed(b *testing.B) {
	for _, prog := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(prog); err != nil {
			testenv.Missing(b, prog+" (openssh-client)", err)
		}
	}
	f := startRelayFleet(b)
	env := clientEnv(b, "KNOT_SERVER", f.origin.base, "KNOT_TOKEN", f.admin)
	home := env["HOME"]
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		b.Fatal(err)
	}
	keygen(b, key)
	mustSucceed(b, knot(b, env, "", "ssh-key", "add", key+".pub"))
	mustSucceed(b, knot(b, env, "", "ssh-config", "update"))
	relayed := &sshClient{t: b, home: home, key: key, env: env, config: filepath.Join(home, ".ssh", "config")}
	own := *relayed
	own.env = maps.Clone(env)
	own.env["KNOT_SERVER"] = f.branch.base
	for _, c := range []*sshClient{relayed, &own} { // the key reaches the space's leaf
		poll(b, "ssh through "+c.env["KNOT_SERVER"], func() (bool, string) {
			code, out, errs := c.run("ssh", "knot.dev", "--", "echo", "up")
			return code == 0 && out == "up\n", out + errs
		})
	}
	direct := localSSHD(b, relayed)

	b.Run("RoundTrip", func(b *testing.B) {
		for range b.N {
			rp50, rp99 := roundTrips(b, relayed, 2000, "knot.dev")
			kp50, kp99 := roundTrips(b, &own, 2000, "knot.dev")
			dp50, dp99 := roundTrips(b, relayed, 2000, append(direct, "127.0.0.1")...)
			b.ReportMetric(float64(rp50.Microseconds()), "relayed-p50-µs")
			b.ReportMetric(float64(rp99.Microseconds()), "relayed-p99-µs")
			b.ReportMetric(float64(kp50.Microseconds()), "knot-p50-µs")
			b.ReportMetric(float64(kp99.Microseconds()), "knot-p99-µs")
			b.ReportMetric(float64(dp50.Microseconds()), "sshd-p50-µs")
			b.ReportMetric(float64(dp99.Microseconds()), "sshd-p99-µs")
		}
	})
}
