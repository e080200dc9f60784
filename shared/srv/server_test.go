package srv_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared/srv"
)

// dnsServer is a real DNS server on a loopback port (UDP and TCP) that
// answers from a list of records and counts the questions it gets.
type dnsServer struct {
	Addr string

	mu         sync.Mutex
	records    []mdns.RR
	asked      map[string]int                                // guarded by mu; "NAME TYPE NET" → count
	additional bool                                          // guarded by mu
	handle     func(w mdns.ResponseWriter, q *mdns.Msg) bool // guarded by mu
}

// SetAdditional makes the server put the A and AAAA records of SRV targets
// in the additional section of SRV answers.
func (s *dnsServer) SetAdditional(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.additional = on
}

// SetHandle lets h answer questions first; h returns false to leave a
// question to the records.
func (s *dnsServer) SetHandle(h func(w mdns.ResponseWriter, q *mdns.Msg) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handle = h
}

// startDNS starts a server for records given in zone-file syntax and stops
// it when the test ends.
func startDNS(t *testing.T, records ...string) *dnsServer {
	t.Helper()
	s := &dnsServer{asked: map[string]int{}}
	for _, z := range records {
		s.records = append(s.records, mustRR(t, z))
	}
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; l == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if attempt == 10 {
				t.Fatalf("no loopback port free for UDP and TCP: %v", err)
			}
		}
	}
	s.Addr = pc.LocalAddr().String()
	for _, srvr := range []*mdns.Server{{PacketConn: pc, Handler: s}, {Listener: l, Handler: s}} {
		started := make(chan struct{})
		srvr.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); srvr.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { srvr.Shutdown(); <-done })
	}
	return s
}

func mustRR(t *testing.T, z string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(z)
	if err != nil || rr == nil {
		t.Fatalf("bad test record %q: %v", z, err)
	}
	return rr
}

func (s *dnsServer) ServeDNS(w mdns.ResponseWriter, q *mdns.Msg) {
	s.mu.Lock()
	if len(q.Question) == 1 {
		qq := q.Question[0]
		s.asked[strings.ToLower(qq.Name)+" "+mdns.TypeToString[qq.Qtype]+" "+w.LocalAddr().Network()]++
	}
	handle, additional := s.handle, s.additional
	s.mu.Unlock()
	if handle != nil && handle(w, q) {
		return
	}
	m := new(mdns.Msg)
	m.SetReply(q)
	qq := q.Question[0]
	known := false
	for _, rr := range s.records {
		if !strings.EqualFold(rr.Header().Name, qq.Name) {
			continue
		}
		known = true
		if rr.Header().Rrtype == qq.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	if !known {
		m.Rcode = mdns.RcodeNameError
	}
	if additional {
		for _, a := range m.Answer {
			if srvRR, ok := a.(*mdns.SRV); ok {
				m.Extra = append(m.Extra, s.addrs(srvRR.Target)...)
			}
		}
	}
	w.WriteMsg(m)
}

func (s *dnsServer) addrs(name string) []mdns.RR {
	var out []mdns.RR
	for _, rr := range s.records {
		if t := rr.Header().Rrtype; strings.EqualFold(rr.Header().Name, name) && (t == mdns.TypeA || t == mdns.TypeAAAA) {
			out = append(out, rr)
		}
	}
	return out
}

// Asked returns how often the server was asked for name and qtype ("SRV",
// "A", "AAAA") over network ("udp", "tcp", or "" for both).
func (s *dnsServer) Asked(name, qtype, network string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, nw := range []string{"udp", "tcp"} {
		if network == "" || network == nw {
			n += s.asked[strings.ToLower(mdns.Fqdn(name))+" "+qtype+" "+nw]
		}
	}
	return n
}

// AskedAny returns how many questions the server got in all.
func (s *dnsServer) AskedAny() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.asked {
		n += c
	}
	return n
}

// reply answers q with rcode and records.
func reply(w mdns.ResponseWriter, q *mdns.Msg, rcode int, answer ...mdns.RR) {
	m := new(mdns.Msg)
	m.SetRcode(q, rcode)
	m.Answer = answer
	w.WriteMsg(m)
}

// silentServer returns a loopback UDP address that takes questions and
// never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustResolver returns a quiet Resolver with a seeded random source and a
// 2 s timeout unless opts say otherwise.
func mustResolver(t *testing.T, opts srv.Options) *srv.Resolver {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	r, err := srv.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// endpoints lists targets as host:port strings.
func endpoints(ts []srv.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
