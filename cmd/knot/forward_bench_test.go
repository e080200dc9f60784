package main_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// echoed sends size bytes through the TCP address addr to an echo server
// behind it while reading them back, as two goroutines (the shape of
// bulk traffic both ways), and returns how long it took.
func echoed(b *testing.B, addr string, size int) time.Duration {
	b.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := bytes.Repeat([]byte("knot"), 32<<10) // 128 KiB
	start := time.Now()
	read := make(chan error, 1)
	go func() {
		n, err := io.CopyBuffer(io.Discard, io.LimitReader(c, int64(size)), make([]byte, len(buf)))
		if err == nil && n != int64(size) {
			err = io.ErrUnexpectedEOF
		}
		read <- err
	}()
	for sent := 0; sent < size; sent += len(buf) {
		if _, err := c.Write(buf[:min(len(buf), size-sent)]); err != nil {
			b.Fatalf("write to %s: %v", addr, err)
		}
	}
	if err := <-read; err != nil {
		b.Fatalf("read back from %s: %v", addr, err)
	}
	return time.Since(start)
}

// BenchmarkForwardPortProcesses measures a forwarded port as it is
// deployed: the knot binary as three processes, `knot forward port`, a
// standalone server and the agent of a manual space, moving bulk data
// both ways to an echo server on loopback. The same transfer goes over
// plain loopback TCP, and through OpenSSH's own port forwarding (`ssh -L`
// to a local sshd, with its default cipher and with AES-128-GCM, the
// cipher knot's agent link negotiates): the standard client's cost of one
// encrypted hop on the same machine. Each op moves 64 MiB each way by
// every path in turn; the ratios are plain loopback's time over the path's.
//
//	KNOT_REQUIRE_ENGINES=1 go test -run '^$' -bench ForwardPortProcesses -benchtime 5x ./cmd/knot
func BenchmarkForwardPortProcesses(b *testing.B) {
	const size = 64 << 20
	s, token, tmplID := manualServer(b, "--listen", "127.0.0.1:0", "--location", "bench")
	id := startManualSpace(b, s, token, tmplID, "dev")
	waitRunningAt(b, s, token, id, "bench")

	echo := serveLoopback(b, func(c net.Conn) { io.CopyBuffer(c, c, make([]byte, 128<<10)) })
	forwarded := startForward(b, clientEnv(b, "KNOT_SERVER", s.base, "KNOT_TOKEN", token), portOf(echo))

	// OpenSSH's forwarding of the same port, through its own sshd.
	home := b.TempDir()
	c := &sshClient{t: b, home: home, key: filepath.Join(home, "id_ed25519"), config: filepath.Join(home, "config")}
	keygen(b, c.key)
	if err := os.WriteFile(c.config, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	direct := localSSHD(b, c)
	sshL := func(cipher ...string) string {
		local := "127.0.0.1:" + loopbackPort(b)
		c.start("ssh", append(append(append([]string{}, direct...), cipher...), "-N", "-L", local+":"+echo, "127.0.0.1")...)
		poll(b, "ssh -L to listen on "+local, func() (bool, string) {
			conn, err := net.Dial("tcp", local)
			if err != nil {
				return false, err.Error()
			}
			conn.Close()
			return true, ""
		})
		return local
	}
	sshDefault, sshAES := sshL(), sshL("-c", "aes128-gcm@openssh.com")

	paths := []struct{ name, addr string }{{"loopback", echo}, {"knot", forwarded}, {"ssh", sshDefault}, {"ssh-aes", sshAES}}
	for _, p := range paths {
		echoed(b, p.addr, 1<<20) // every connection is up and warm
	}
	took := make([]time.Duration, len(paths))
	b.ResetTimer()
	for range b.N {
		for i, p := range paths {
			took[i] += echoed(b, p.addr, size)
		}
	}
	b.StopTimer()
	for i, p := range paths {
		b.ReportMetric(float64(size*b.N)/1e6/took[i].Seconds(), p.name+"-MB/s")
		if i > 0 {
			b.ReportMetric(took[0].Seconds()/took[i].Seconds(), p.name+"-ratio")
		}
	}
}
