package main_test

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// localSSHD runs OpenSSH's sshd on a loopback port as the baseline of
// BenchmarkSSH, letting in the key of c, and returns c's options to reach
// it. Without sshd (Debian's openssh-server) the benchmark is skipped.
func localSSHD(b *testing.B, c *sshClient) []string {
	b.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			testenv.Missing(b, "sshd (openssh-server), the baseline", err)
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		b.Skipf("sshd needs /run/sshd: %v", err)
	}
	dir := b.TempDir()
	hostKey := filepath.Join(dir, "host")
	keygen(b, hostKey)
	pub, err := os.ReadFile(c.key + ".pub")
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := loopbackPort(b)
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("ListenAddress 127.0.0.1\nPort %s\nHostKey %s\nAuthorizedKeysFile %s\nPidFile none\n"+
		"UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n",
		port, hostKey, filepath.Join(dir, "authorized_keys"))), 0o600)
	c.startCmd(exec.Command(sshd, "-D", "-e", "-f", cfg))
	hostPub, _ := os.ReadFile(hostKey + ".pub")
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, append([]byte("[127.0.0.1]:"+port+" "), hostPub...), 0o600)
	opts := []string{"-o", "UserKnownHostsFile=" + known, "-p", port}
	poll(b, "sshd to answer", func() (bool, string) {
		code, _, errs := c.run("ssh", append(opts, "127.0.0.1", "true")...)
		return code == 0, errs
	})
	return opts
}

// roundTrips runs cat through ssh with args and times n one-byte round
// trips; it returns the 50th and 99th percentiles.
func roundTrips(b *testing.B, c *sshClient, n int, args ...string) (time.Duration, time.Duration) {
	b.Helper()
	base := []string{"-F", c.config, "-i", c.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-T"}
	cmd := exec.Command("ssh", append(append(base, args...), "cat")...)
	cmd.Env = c.environ()
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { in.Close(); cmd.Wait() }()
	out := bufio.NewReader(outPipe)
	rtt := func() time.Duration {
		start := time.Now()
		if _, err := in.Write([]byte{'x'}); err != nil {
			b.Fatal(err)
		}
		if _, err := out.ReadByte(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 20 { // the connection is up and warm
		rtt()
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = rtt()
	}
	slices.Sort(ds)
	return ds[n/2], ds[n*99/100]
}

// BenchmarkSSH compares SSH through knot (OpenSSH's ssh and scp, knot
// forward ssh, the server, the agent link and the agent's SSH server in a
// busybox space with host networking) with OpenSSH's own sshd on loopback:
// the round trip of one byte through cat, and scp of 100 MiB each way.
//
//	KNOT_REQUIRE_ENGINES=1 go test -run '^$' -bench SSH -benchtime 1x ./cmd/knot
func BenchmarkSSH(b *testing.B) {
	sp := startSSHSpace(b)
	c := sp.c
	c.t = b
	direct := localSSHD(b, c)

	b.Run("RoundTrip", func(b *testing.B) {
		for range b.N {
			kp50, kp99 := roundTrips(b, c, 2000, "knot.dev")
			dp50, dp99 := roundTrips(b, c, 2000, append(direct, "127.0.0.1")...)
			b.ReportMetric(float64(kp50.Microseconds()), "knot-p50-µs")
			b.ReportMetric(float64(kp99.Microseconds()), "knot-p99-µs")
			b.ReportMetric(float64(dp50.Microseconds()), "sshd-p50-µs")
			b.ReportMetric(float64(dp99.Microseconds()), "sshd-p99-µs")
			b.ReportMetric(float64((kp50 - dp50).Microseconds()), "added-p50-µs")
			b.ReportMetric(float64((kp99 - dp99).Microseconds()), "added-p99-µs")
		}
	})

	b.Run("Scp100MiB", func(b *testing.B) {
		dir := b.TempDir()
		src := filepath.Join(dir, "src")
		f, err := os.Create(src)
		if err != nil {
			b.Fatal(err)
		}
		io.CopyN(f, rand.Reader, 100<<20)
		f.Close()
		timed := func(args ...string) time.Duration {
			start := time.Now()
			c.must("scp", args...)
			return time.Since(start)
		}
		for range b.N {
			kUp := timed(src, "knot.dev:/tmp/bench")
			kDown := timed("knot.dev:/tmp/bench", filepath.Join(dir, "k"))
			dUp := timed(append(slices.Clone(direct[:2]), "-P", direct[3], src, "127.0.0.1:"+filepath.Join(dir, "d"))...)
			dDown := timed(append(slices.Clone(direct[:2]), "-P", direct[3], "127.0.0.1:"+filepath.Join(dir, "d"), filepath.Join(dir, "d2"))...)
			mbps := func(d time.Duration) float64 { return 100 * float64(1<<20) / 1e6 / d.Seconds() }
			b.ReportMetric(mbps(kUp), "knot-up-MB/s")
			b.ReportMetric(mbps(kDown), "knot-down-MB/s")
			b.ReportMetric(mbps(dUp), "sshd-up-MB/s")
			b.ReportMetric(mbps(dDown), "sshd-down-MB/s")
			b.ReportMetric(dUp.Seconds()/kUp.Seconds(), "up-ratio")
			b.ReportMetric(dDown.Seconds()/kDown.Seconds(), "down-ratio")
		}
	})
}
