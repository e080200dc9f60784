package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// BenchmarkForwardedPortThroughput sends 8 MiB to an echo server and reads
// it back, alternately over plain loopback TCP and through the whole path
// of knot forward port: a websocket to the server, the agent link, and the
// agent's connection to the port. It reports both rates and their ratio,
// and the ratio of the CPU time (of the whole process) each took.
func BenchmarkForwardedPortThroughput(b *testing.B) {
	var st storage.Store
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: b.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	agents, err := leaf.NewAgents(leaf.AgentsOptions{
		Space: func(ctx context.Context, id string) (*shared.Space, error) {
			return storage.Get[shared.Space](ctx, st, id)
		},
		Location: "home", TLS: cert.Config, Version: "test", Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, func(o *web.TestOptions) { o.Agents = agents })
	st = e.store
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { agents.Serve(ctx, ln) })

	owner, token := e.user("alice")
	sp := e.space(owner, e.template("byo"), "dev")
	agentToken := crypt.NewToken()
	sp.AgentTokenHash = crypt.HashToken(agentToken)
	if err := e.store.Put(context.Background(), sp); err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(agent.Options{Endpoint: ln.Addr().String(), SpaceID: sp.ID, Token: agentToken, Fingerprint: cert.Fingerprint, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { a.Run(ctx) })
	for deadline := time.Now().Add(10 * time.Second); !agents.Status(sp.ID).Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the agent did not link")
		}
	}
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()

	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	wg.Go(func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	port := strconv.Itoa(echo.Addr().(*net.TCPAddr).Port)
	cl, err := client.New(client.Config{Address: srv.URL, Token: token})
	if err != nil {
		b.Fatal(err)
	}

	const size = 8 << 20
	chunk := make([]byte, client.MaxPortMessage) // as knot forward port sends
	loopback := func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for sent := 0; sent < size; sent += len(chunk) {
				c.Write(chunk)
			}
			c.(*net.TCPConn).CloseWrite()
		}()
		if n, err := io.Copy(io.Discard, c); n != size || err != nil {
			b.Fatalf("loopback: %d bytes back, %v", n, err)
		}
		c.Close()
	}
	// The floor: as many sockets each way as the forwarded path (client,
	// server, agent, echo server), through two relays that copy the bytes
	// through user space, with no websocket, TLS or yamux.
	relay := testenv.StartRelay(b, testenv.StartRelay(b, "127.0.0.1:"+port))
	var plain, relayed, forwarded testenv.Timing
	for b.Loop() {
		plain.Add(func() { loopback("127.0.0.1:" + port) })
		relayed.Add(func() { loopback(relay) })
		forwarded.Add(func() {
			ws, err := cl.Spaces().ForwardPort(ctx, sp.ID, echo.Addr().(*net.TCPAddr).Port) // as knot forward port dials
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for sent := 0; sent < size; sent += len(chunk) {
					ws.Write(ctx, websocket.MessageBinary, chunk)
				}
				ws.Write(ctx, websocket.MessageText, []byte(`{"type":"eof"}`))
			}()
			n, buf := 0, make([]byte, client.MaxPortMessage)
			for { // as knot forward port reads: each message into one buffer
				typ, r, err := ws.Reader(ctx)
				if err != nil {
					b.Fatalf("forwarded: %v after %d bytes", err, n)
				}
				if typ == websocket.MessageText {
					io.Copy(io.Discard, r)
					break
				}
				m, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
				if err != nil {
					b.Fatalf("forwarded: %v after %d bytes", err, n)
				}
				n += int(m)
			}
			if n != size {
				b.Fatalf("forwarded: %d bytes back", n)
			}
			ws.Close(websocket.StatusNormalClosure, "")
		})
	}
	plain.Report(b, size, relayed, forwarded)
}

// cpuTime is the CPU time the test process has used.
var cpuTime = testenv.CPUTime
