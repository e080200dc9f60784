package leaf_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
)

// echoServer listens on loopback and echoes each connection until its
// input ends, then closes it.
func echoServer(t testing.TB) (port int, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

func TestDialPortReachesAPortCountsBytesAndIsBounded(t *testing.T) {
	b := newAgentBed(t)
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "the link", func() bool { return b.agents.Status("s1").Connected })
	port, stop := echoServer(t)
	defer stop()
	ctx := context.Background()

	c, err := b.agents.DialPort(ctx, "s1", port)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := strings.Repeat("knot", 50_000)
	go func() { io.WriteString(c, msg); c.CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != msg {
		t.Fatalf("echo through the port: %d bytes, %v; want %d", len(got), err, len(msg))
	}
	if in, out := c.Bytes(); in != int64(len(msg)) || out != int64(len(msg)) {
		t.Fatalf("Bytes() = %d, %d; want %d both ways", in, out, len(msg))
	}
	c.Close()

	// Refusals, with their reasons.
	if _, err := b.agents.DialPort(ctx, "nope", port); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("a space without an agent: %v", err)
	}
	if _, err := b.agents.DialPort(ctx, "s1", 0); shared.ErrorCode(err) != shared.EINVALID {
		t.Fatalf("port 0: %v", err)
	}
	closedPort, stopClosed := echoServer(t)
	stopClosed()
	if _, err := b.agents.DialPort(ctx, "s1", closedPort); shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), "nothing answers on port") {
		t.Fatalf("a port where nothing listens: %v", err)
	}

	// At most MaxPortConns at once; closing one makes room.
	var open []*leaf.PortConn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range leaf.MaxPortConns {
		c, err := b.agents.DialPort(ctx, "s1", port)
		if err != nil {
			t.Fatalf("connection %d: %v", len(open)+1, err)
		}
		open = append(open, c)
	}
	if _, err := b.agents.DialPort(ctx, "s1", port); shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), "forwarded connections open") {
		t.Fatalf("one over the bound: %v", err)
	}
	// The agent's slot is free once the program in the space closed too.
	open[0].Close()
	waitFor(t, "room after closing one", func() bool {
		c, err = b.agents.DialPort(ctx, "s1", port)
		if err == nil {
			open[0] = c
		}
		return err == nil
	})
}

// BenchmarkPortThroughput sends 8 MiB to an echo server and reads it back,
// over plain loopback TCP and through a port of a space (the agent link:
// TLS and yamux between leaf and agent, and the agent's TCP connection in
// the space), and reports both rates and their ratio, and the ratio of the
// CPU time each took.
func BenchmarkPortThroughput(b *testing.B) {
	bed := newAgentBed(b)
	tok := bed.space("s1")
	bed.run("s1", tok)
	deadline := time.Now().Add(10 * time.Second)
	for !bed.agents.Status("s1").Connected {
		if time.Now().After(deadline) {
			b.Fatal("the agent did not link")
		}
		time.Sleep(10 * time.Millisecond)
	}
	port, stop := echoServer(b)
	defer stop()
	const size = 8 << 20
	chunk := make([]byte, 256<<10)
	transfer := func(b *testing.B, c interface {
		io.ReadWriter
		CloseWrite() error
	}) {
		done := make(chan error, 1)
		go func() {
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					done <- err
					return
				}
			}
			done <- c.CloseWrite()
		}()
		n, err := io.Copy(io.Discard, c)
		if err != nil || n != size {
			b.Fatalf("read back %d bytes, %v", n, err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	// The three alternate, so that all see the same load on the machine.
	// The CPU time each costs (the whole process: client, echo server and,
	// when forwarded, leaf and agent) does not depend on that load. The
	// relayed path is the floor of the forwarded one: as many sockets
	// each way (client, relay, echo server), and a relay that copies the
	// bytes through user space as the agent must, but no TLS and no yamux.
	relay := testenv.StartRelay(b, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	var plain, relayed, forwarded testenv.Timing
	for b.Loop() {
		plain.Add(func() {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				b.Fatal(err)
			}
			transfer(b, c.(*net.TCPConn))
			c.Close()
		})
		relayed.Add(func() {
			c, err := net.Dial("tcp", relay)
			if err != nil {
				b.Fatal(err)
			}
			transfer(b, c.(*net.TCPConn))
			c.Close()
		})
		forwarded.Add(func() {
			pc, err := bed.agents.DialPort(context.Background(), "s1", port)
			if err != nil {
				b.Fatal(err)
			}
			transfer(b, pc)
			pc.Close()
		})
	}
	plain.Report(b, size, relayed, forwarded)
}
