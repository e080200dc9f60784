package srv_test

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/srv"
)

// zone is the common test data: three records of different priorities, one
// target with IPv4 and IPv6 addresses.
var zone = []string{
	"_knot._tcp.knot.test. 60 IN SRV 20 5 8002 b.knot.test.",
	"_knot._tcp.knot.test. 60 IN SRV 10 5 8001 a.knot.test.",
	"_knot._tcp.knot.test. 60 IN SRV 30 5 8003 c.knot.test.",
	"a.knot.test. 60 IN A 127.0.0.1",
	"a.knot.test. 60 IN AAAA ::1",
	"b.knot.test. 60 IN A 127.0.0.2",
	"c.knot.test. 60 IN A 127.0.0.3",
}

func TestLookupSRVOrdersByPriorityAndResolvesTargets(t *testing.T) {
	for _, additional := range []bool{false, true} {
		name := "AddressesQueried"
		if additional {
			name = "AddressesFromAdditionalSection"
		}
		t.Run(name, func(t *testing.T) {
			s := startDNS(t, zone...)
			s.SetAdditional(additional)
			for seed := range uint64(5) {
				r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}, Rand: rand.New(rand.NewPCG(seed, seed))})
				got, err := r.LookupSRV(testContext(t), "_knot._tcp.knot.test")
				if err != nil {
					t.Fatal(err)
				}
				want := []string{"127.0.0.1:8001", "[::1]:8001", "127.0.0.2:8002", "127.0.0.3:8003"}
				if !slices.Equal(endpoints(got), want) {
					t.Fatalf("seed %d: endpoints %v, want %v", seed, endpoints(got), want)
				}
				if got[0].Host != "a.knot.test" || got[0].Priority != 10 || got[0].Weight != 5 {
					t.Errorf("first target %+v, want a.knot.test priority 10 weight 5", got[0])
				}
			}
			queried := s.Asked("a.knot.test", "A", "") + s.Asked("a.knot.test", "AAAA", "")
			if additional && queried != 0 {
				t.Errorf("asked for addresses %d times although the additional section had them", queried)
			}
			if !additional && queried == 0 {
				t.Error("never asked for the addresses of a.knot.test")
			}
		})
	}
}

func TestLookupSRVChoosesByWeight(t *testing.T) {
	s := startDNS(t,
		// The weight-0 record comes last in the answer; RFC 2782 puts it
		// first before drawing.
		"_w._tcp.knot.test. 60 IN SRV 10 10 8010 ten.knot.test.",
		"_w._tcp.knot.test. 60 IN SRV 10 30 8030 thirty.knot.test.",
		"_w._tcp.knot.test. 60 IN SRV 10 0 8000 zero.knot.test.",
		"zero.knot.test. 60 IN A 127.0.0.10",
		"ten.knot.test. 60 IN A 127.0.0.11",
		"thirty.knot.test. 60 IN A 127.0.0.12",
	)
	// The clock stands still, so every lookup after the first is served
	// from the cache and only the order is drawn again.
	r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}, Now: newClock().Now, Rand: rand.New(rand.NewPCG(7, 11))})
	const draws = 4100
	first := map[string]int{}
	zeroLast := 0
	for range draws {
		got, err := r.LookupSRV(testContext(t), "_w._tcp.knot.test")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("got %d targets, want 3", len(got))
		}
		first[got[0].Host]++
		if got[2].Host == "zero.knot.test" {
			zeroLast++
		}
	}
	// RFC 2782 draws from 0 to the weight sum (40) inclusive, so the first
	// pick goes to weights 0, 10, 30 with odds 1/41, 10/41, 30/41; bounds are
	// about five standard deviations.
	for host, want := range map[string][2]int{
		"zero.knot.test":   {50, 150},
		"ten.knot.test":    {860, 1140},
		"thirty.knot.test": {2860, 3140},
	} {
		if n := first[host]; n < want[0] || n > want[1] {
			t.Errorf("%s first %d times in %d, want %d to %d", host, n, draws, want[0], want[1])
		}
	}
	// The weight-0 record ends last with odds 10/41*30/31 + 30/41*10/11 ≈ 0.90.
	if zeroLast < draws*86/100 || zeroLast > draws*94/100 {
		t.Errorf("weight 0 record last %d times in %d, want about 90%%", zeroLast, draws)
	}
	if n := s.Asked("_w._tcp.knot.test", "SRV", ""); n != 1 {
		t.Errorf("server asked %d times for the SRV records, want 1 (cached)", n)
	}
}

func TestLookupSRVKeepsAnswerOrderWhenAllWeightsAreZero(t *testing.T) {
	s := startDNS(t,
		"_z._tcp.knot.test. 60 IN SRV 10 0 8002 b.knot.test.",
		"_z._tcp.knot.test. 60 IN SRV 10 0 8001 a.knot.test.",
		"_z._tcp.knot.test. 60 IN SRV 5 0 8003 c.knot.test.",
		"a.knot.test. 60 IN A 127.0.0.1",
		"b.knot.test. 60 IN A 127.0.0.2",
		"c.knot.test. 60 IN A 127.0.0.3",
	)
	r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}, Now: newClock().Now})
	for range 20 {
		got, err := r.LookupSRV(testContext(t), "_z._tcp.knot.test")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"127.0.0.3:8003", "127.0.0.2:8002", "127.0.0.1:8001"}; !slices.Equal(endpoints(got), want) {
			t.Fatalf("endpoints %v, want %v", endpoints(got), want)
		}
	}
}

func TestLookupSRVCachesForTheSmallestTTL(t *testing.T) {
	for _, tt := range []struct {
		name         string
		srvTTL, aTTL int
		cachedFor    time.Duration // 0: not cached
	}{
		{name: "SRVTTLIsSmallest", srvTTL: 60, aTTL: 120, cachedFor: 60 * time.Second},
		{name: "AddressTTLIsSmallest", srvTTL: 300, aTTL: 30, cachedFor: 30 * time.Second},
		{name: "ZeroTTLIsNotCached", srvTTL: 0, aTTL: 60},
		{name: "HugeTTLIsCappedAtMaxTTL", srvTTL: 1 << 30, aTTL: 1 << 30, cachedFor: srv.MaxTTL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startDNS(t,
				"_c._tcp.knot.test. "+strconv.Itoa(tt.srvTTL)+" IN SRV 10 5 8000 a.knot.test.",
				"a.knot.test. "+strconv.Itoa(tt.aTTL)+" IN A 127.0.0.1",
			)
			clk := newClock()
			r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}, Now: clk.Now})
			lookup := func(wantAsked int, when string) {
				t.Helper()
				got, err := r.LookupSRV(testContext(t), "_c._tcp.knot.test")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0].String() != "127.0.0.1:8000" {
					t.Fatalf("%s: got %v", when, endpoints(got))
				}
				if n := s.Asked("_c._tcp.knot.test", "SRV", ""); n != wantAsked {
					t.Errorf("%s: server asked %d times for SRV, want %d", when, n, wantAsked)
				}
				if n := s.Asked("a.knot.test", "A", ""); n != wantAsked {
					t.Errorf("%s: server asked %d times for A, want %d", when, n, wantAsked)
				}
			}
			lookup(1, "first lookup")
			if tt.cachedFor == 0 {
				lookup(2, "second lookup at once")
				return
			}
			clk.Advance(tt.cachedFor - time.Second)
			lookup(1, "a second before the TTL ends")
			clk.Advance(time.Second)
			lookup(2, "when the TTL ends")
			lookup(2, "again within the new TTL")
		})
	}
}

func TestConsulNamesGoToConsulServers(t *testing.T) {
	consul := startDNS(t,
		"web.service.consul. 0 IN SRV 1 1 7001 node.consul.",
		"node.consul. 0 IN A 127.0.0.1",
		"web.knot.test. 0 IN SRV 1 1 7002 node.knot.test.",
		"node.knot.test. 0 IN A 127.0.0.1",
	)
	dns := startDNS(t,
		"web.service.consul. 0 IN SRV 1 1 8001 node.consul.",
		"node.consul. 0 IN A 127.0.0.1",
		"web.knot.test. 0 IN SRV 1 1 8002 node.knot.test.",
		"node.knot.test. 0 IN A 127.0.0.1",
	)
	for _, tt := range []struct {
		name              string
		opts              srv.Options
		lookup, want      string
		wantAsked, silent *dnsServer
	}{
		{name: "ConsulNameToConsul", opts: srv.Options{Consul: []string{consul.Addr}, Nameservers: []string{dns.Addr}},
			lookup: "web.service.consul", want: "127.0.0.1:7001", wantAsked: consul, silent: dns},
		{name: "OtherNameToNameservers", opts: srv.Options{Consul: []string{consul.Addr}, Nameservers: []string{dns.Addr}},
			lookup: "web.knot.test", want: "127.0.0.1:8002", wantAsked: dns, silent: consul},
		{name: "ConsulNameToNameserversWithoutConsul", opts: srv.Options{Nameservers: []string{dns.Addr}},
			lookup: "WEB.Service.Consul.", want: "127.0.0.1:8001", wantAsked: dns, silent: consul},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.silent.AskedAny()
			got, err := mustResolver(t, tt.opts).Resolve(testContext(t), "srv+"+tt.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Resolve = %q, want %q", got, tt.want)
			}
			if tt.wantAsked.Asked(tt.lookup, "SRV", "") == 0 {
				t.Error("the expected server was not asked")
			}
			if n := tt.silent.AskedAny() - before; n != 0 {
				t.Errorf("the other server was asked %d questions", n)
			}
		})
	}

	t.Run("SystemResolverWhenNoServerApplies", func(t *testing.T) {
		for _, tt := range []struct {
			opts srv.Options
			name string
		}{
			{srv.Options{}, "web.service.consul"},
			{srv.Options{}, "web.knot.test"},
			{srv.Options{Consul: []string{consul.Addr}}, "web.knot.test"},
		} {
			if got := srv.ServersForTest(mustResolver(t, tt.opts), tt.name); got != nil {
				t.Errorf("servers for %s with %+v = %v, want the system resolver", tt.name, tt.opts, got)
			}
		}
	})
}

func TestLookupSRVErrorsSayWhoAnsweredWhat(t *testing.T) {
	servfail := func(w mdns.ResponseWriter, q *mdns.Msg) bool { reply(w, q, mdns.RcodeServerFailure); return true }
	refused := func(w mdns.ResponseWriter, q *mdns.Msg) bool { reply(w, q, mdns.RcodeRefused); return true }
	for _, tt := range []struct {
		name          string
		first, second func(w mdns.ResponseWriter, q *mdns.Msg) bool
		records       []string
		lookup        string
		wantCode      string
		wantIn        []string // substrings of the message; "$1", "$2" stand for the servers
		secondAsked   bool
	}{
		{name: "NXDOMAINIsFinal", lookup: "_missing._tcp.knot.test", records: zone,
			wantCode: shared.ENOTFOUND, wantIn: []string{"lookup SRV _missing._tcp.knot.test", "$1 answered NXDOMAIN"}},
		{name: "EmptyAnswerIsFinal", lookup: "a.knot.test", records: zone,
			wantCode: shared.ENOTFOUND, wantIn: []string{"lookup SRV a.knot.test", "$1 answered no records"}},
		{name: "SERVFAILEverywhere", lookup: "_knot._tcp.knot.test", first: servfail, second: servfail,
			wantCode: shared.EUNAVAILABLE, wantIn: []string{"$1 answered SERVFAIL", "$2 answered SERVFAIL"}, secondAsked: true},
		{name: "REFUSEDThenNXDOMAIN", lookup: "_missing._tcp.knot.test", first: refused, records: zone,
			wantCode: shared.ENOTFOUND, wantIn: []string{"$1 answered REFUSED", "$2 answered NXDOMAIN"}, secondAsked: true},
		{name: "ServiceNotAvailable", lookup: "_off._tcp.knot.test", records: []string{"_off._tcp.knot.test. 60 IN SRV 0 0 0 ."},
			wantCode: shared.ENOTFOUND, wantIn: []string{"service is not available"}},
		{name: "TargetWithoutAddress", lookup: "_lost._tcp.knot.test", records: []string{"_lost._tcp.knot.test. 60 IN SRV 0 0 80 gone.knot.test."},
			wantCode: shared.ENOTFOUND, wantIn: []string{"no target has an address", "lookup A gone.knot.test: $1 answered NXDOMAIN"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s1, s2 := startDNS(t, tt.records...), startDNS(t, tt.records...)
			s1.SetHandle(tt.first)
			s2.SetHandle(tt.second)
			r := mustResolver(t, srv.Options{Nameservers: []string{s1.Addr, s2.Addr}})
			_, err := r.LookupSRV(testContext(t), tt.lookup)
			if code := shared.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error %v has code %q, want %q", err, code, tt.wantCode)
			}
			for _, w := range tt.wantIn {
				w = strings.NewReplacer("$1", s1.Addr, "$2", s2.Addr).Replace(w)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if asked := s2.AskedAny() > 0; asked != tt.secondAsked {
				t.Errorf("second server asked: %v, want %v", asked, tt.secondAsked)
			}
		})
	}
}

func TestServerFailureMovesToTheNextServer(t *testing.T) {
	bad := startDNS(t)
	bad.SetHandle(func(w mdns.ResponseWriter, q *mdns.Msg) bool { reply(w, q, mdns.RcodeServerFailure); return true })
	good := startDNS(t, zone...)
	r := mustResolver(t, srv.Options{Nameservers: []string{bad.Addr, good.Addr}})
	got, err := r.Resolve(testContext(t), "srv+_knot._tcp.knot.test")
	if err != nil || got != "127.0.0.1:8001" {
		t.Fatalf("Resolve = %q, %v; want 127.0.0.1:8001", got, err)
	}
}

func TestTruncatedAnswerIsAskedAgainOverTCP(t *testing.T) {
	s := startDNS(t, zone...)
	s.SetHandle(func(w mdns.ResponseWriter, q *mdns.Msg) bool {
		if w.LocalAddr().Network() != "udp" || q.Question[0].Qtype != mdns.TypeSRV {
			return false
		}
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Truncated = true
		w.WriteMsg(m)
		return true
	})
	r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}})
	got, err := r.LookupSRV(testContext(t), "_knot._tcp.knot.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].String() != "127.0.0.1:8001" {
		t.Errorf("got %v", endpoints(got))
	}
	if udp, tcp := s.Asked("_knot._tcp.knot.test", "SRV", "udp"), s.Asked("_knot._tcp.knot.test", "SRV", "tcp"); udp != 1 || tcp != 1 {
		t.Errorf("asked %d times over UDP and %d over TCP, want 1 and 1", udp, tcp)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	t.Run("AloneFailsWithinTheTimeout", func(t *testing.T) {
		silent := silentServer(t)
		r := mustResolver(t, srv.Options{Nameservers: []string{silent}, Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := r.LookupSRV(testContext(t), "_knot._tcp.knot.test")
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("lookup took %s with a 200ms timeout", elapsed)
		}
		if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), silent+": no answer within 200ms over UDP") {
			t.Errorf("error %v, want EUNAVAILABLE saying %s gave no answer within 200ms", err, silent)
		}
	})
	t.Run("NextServerAnswers", func(t *testing.T) {
		good := startDNS(t, zone...)
		r := mustResolver(t, srv.Options{Nameservers: []string{silentServer(t), good.Addr}, Timeout: 200 * time.Millisecond})
		got, err := r.Resolve(testContext(t), "srv+_knot._tcp.knot.test")
		if err != nil || got != "127.0.0.1:8001" {
			t.Errorf("Resolve = %q, %v; want 127.0.0.1:8001", got, err)
		}
	})
	t.Run("CancelledContextStopsTheLookup", func(t *testing.T) {
		r := mustResolver(t, srv.Options{Nameservers: []string{silentServer(t)}, Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := r.LookupSRV(ctx, "_knot._tcp.knot.test")
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("lookup took %s after its context ended", elapsed)
		}
		if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), "stopped") {
			t.Errorf("error %v, want EUNAVAILABLE saying the lookup stopped", err)
		}
	})
}

func TestMalformedAnswersAreNotUsed(t *testing.T) {
	const name = "_knot._tcp.knot.test."
	srvRR := func(port uint16, target string) *mdns.SRV {
		return &mdns.SRV{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: 60}, Priority: 10, Weight: 1, Port: port, Target: target}
	}
	answer := func(rrs ...mdns.RR) func(w mdns.ResponseWriter, q *mdns.Msg) bool {
		return func(w mdns.ResponseWriter, q *mdns.Msg) bool {
			if q.Question[0].Qtype != mdns.TypeSRV {
				return false
			}
			reply(w, q, mdns.RcodeSuccess, rrs...)
			return true
		}
	}
	for _, tt := range []struct {
		name     string
		handle   func(w mdns.ResponseWriter, q *mdns.Msg) bool
		want     []string // endpoints, when the lookup succeeds
		wantCode string
		wantIn   string
	}{
		{name: "PortZeroDropped", handle: answer(srvRR(0, "a.knot.test."), srvRR(8002, "b.knot.test.")),
			want: []string{"127.0.0.2:8002"}},
		{name: "OnlyPortZero", handle: answer(srvRR(0, "a.knot.test.")),
			wantCode: shared.ENOTFOUND, wantIn: "no usable records: port 0"},
		{name: "TargetNotAHostName", handle: answer(srvRR(80, "exa mple.knot.test."), srvRR(8003, "c.knot.test.")),
			want: []string{"127.0.0.3:8003"}},
		{name: "OnlyBadTarget", handle: answer(srvRR(80, "-bad.knot.test.")),
			wantCode: shared.ENOTFOUND, wantIn: `target "-bad.knot.test." is not a host name`},
		{name: "RecordOfAnotherName", handle: answer(&mdns.SRV{Hdr: mdns.RR_Header{Name: "evil.knot.test.", Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: 60}, Port: 80, Target: "a.knot.test."}),
			wantCode: shared.ENOTFOUND, wantIn: `record of "evil.knot.test.", not of _knot._tcp.knot.test`},
		{name: "AliasFollowed", handle: answer(
			&mdns.CNAME{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 60}, Target: "_alias._tcp.knot.test."},
			&mdns.SRV{Hdr: mdns.RR_Header{Name: "_alias._tcp.knot.test.", Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: 60}, Port: 9000, Target: "b.knot.test."}),
			want: []string{"127.0.0.2:9000"}},
		{name: "AnswerToAnotherQuestion", handle: func(w mdns.ResponseWriter, q *mdns.Msg) bool {
			m := new(mdns.Msg)
			m.SetReply(q)
			m.Question[0].Name = "other.knot.test."
			m.Answer = []mdns.RR{srvRR(80, "a.knot.test.")}
			w.WriteMsg(m)
			return true
		}, wantCode: shared.EUNAVAILABLE, wantIn: `answered a different question ("other.knot.test." SRV)`},
		{name: "NotAResponse", handle: func(w mdns.ResponseWriter, q *mdns.Msg) bool {
			m := q.Copy()
			m.Answer = []mdns.RR{srvRR(80, "a.knot.test.")}
			w.WriteMsg(m)
			return true
		}, wantCode: shared.EUNAVAILABLE, wantIn: "not a response to a query"},
		{name: "Garbage", handle: func(w mdns.ResponseWriter, q *mdns.Msg) bool {
			b, _ := q.Pack()
			w.Write(append(b[:2], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff, 0xff))
			return true
		}, wantCode: shared.EUNAVAILABLE, wantIn: "UDP: "},
		{name: "AdditionalRecordsOfOtherHostsIgnored", handle: func(w mdns.ResponseWriter, q *mdns.Msg) bool {
			if q.Question[0].Qtype != mdns.TypeSRV {
				return false
			}
			m := new(mdns.Msg)
			m.SetReply(q)
			m.Answer = []mdns.RR{srvRR(80, "a.knot.test.")}
			m.Extra = []mdns.RR{
				&mdns.A{Hdr: mdns.RR_Header{Name: "evil.knot.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(127, 6, 6, 6)},
				&mdns.A{Hdr: mdns.RR_Header{Name: "a.knot.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4zero},
			}
			w.WriteMsg(m)
			return true
		}, want: []string{"127.0.0.1:80", "[::1]:80"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startDNS(t, zone...)
			s.SetHandle(tt.handle)
			r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}, Timeout: 500 * time.Millisecond})
			got, err := r.LookupSRV(testContext(t), name)
			if tt.wantCode != "" {
				if shared.ErrorCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantIn) {
					t.Fatalf("got %v, %v; want %s error saying %q", endpoints(got), err, tt.wantCode, tt.wantIn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(endpoints(got), tt.want) {
				t.Errorf("got %v, want %v", endpoints(got), tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	s := startDNS(t, append(zone,
		"_v6._tcp.knot.test. 60 IN SRV 1 1 8443 six.knot.test.",
		"six.knot.test. 60 IN AAAA ::1",
	)...)
	r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}})
	for _, tt := range []struct {
		name, in, want, wantCode, wantIn string
	}{
		{name: "SRVNameToBestTarget", in: "srv+_knot._tcp.knot.test", want: "127.0.0.1:8001"},
		{name: "FinalDotAccepted", in: "srv+_knot._tcp.knot.test.", want: "127.0.0.1:8001"},
		{name: "IPv6InBrackets", in: "srv+_v6._tcp.knot.test", want: "[::1]:8443"},
		{name: "PlainHostUnchanged", in: "db.knot.test:3306", want: "db.knot.test:3306"},
		{name: "EmptyUnchanged", in: "", want: ""},
		{name: "EmptyNameRejected", in: "srv+", wantCode: shared.EINVALID, wantIn: "empty name"},
		{name: "BadNameRejected", in: "srv+bad name", wantCode: shared.EINVALID, wantIn: `"bad name" is not a DNS name`},
		{name: "PortRejected", in: "srv+db.knot.test:3306", wantCode: shared.EINVALID, wantIn: "carries a port"},
		{name: "UnknownNameNotFound", in: "srv+_nope._tcp.knot.test", wantCode: shared.ENOTFOUND, wantIn: "NXDOMAIN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(testContext(t), tt.in)
			if tt.wantCode != "" {
				if shared.ErrorCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantIn) {
					t.Fatalf("Resolve(%q) = %q, %v; want %s error saying %q", tt.in, got, err, tt.wantCode, tt.wantIn)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	s := startDNS(t, append(zone,
		"_v6._tcp.knot.test. 60 IN SRV 1 1 8443 six.knot.test.",
		"six.knot.test. 60 IN AAAA ::1",
	)...)
	r := mustResolver(t, srv.Options{Nameservers: []string{s.Addr}})
	for _, tt := range []struct {
		name, in, want, wantCode, wantIn string
	}{
		{name: "HostReplacedPathKept", in: "srv+https://_knot._tcp.knot.test/api/v1?x=1#top", want: "https://127.0.0.1:8001/api/v1?x=1#top"},
		{name: "NoPath", in: "srv+https://_knot._tcp.knot.test", want: "https://127.0.0.1:8001"},
		{name: "UserInfoKept", in: "srv+wss://u:p@_knot._tcp.knot.test/ws", want: "wss://u:p@127.0.0.1:8001/ws"},
		{name: "IPv6InBrackets", in: "srv+https://_v6._tcp.knot.test/", want: "https://[::1]:8443/"},
		{name: "PlainURLUnchanged", in: "https://origin.knot.test:8443/x", want: "https://origin.knot.test:8443/x"},
		{name: "PortRejected", in: "srv+https://_knot._tcp.knot.test:443/", wantCode: shared.EINVALID, wantIn: "carries a port"},
		{name: "NoSchemeRejected", in: "srv+_knot._tcp.knot.test/path", wantCode: shared.EINVALID, wantIn: "needs a scheme and a host"},
		{name: "NoHostRejected", in: "srv+https:///path", wantCode: shared.EINVALID, wantIn: "needs a scheme and a host"},
		{name: "UnparsableRejected", in: "srv+https://_knot._tcp.knot.test/%zz", wantCode: shared.EINVALID, wantIn: "is not a URL"},
		{name: "BadNameRejected", in: "srv+https://a..b/", wantCode: shared.EINVALID, wantIn: `"a..b" is not a DNS name`},
		{name: "UnknownNameNotFound", in: "srv+https://_nope._tcp.knot.test/", wantCode: shared.ENOTFOUND, wantIn: "NXDOMAIN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.ResolveURL(testContext(t), tt.in)
			if tt.wantCode != "" {
				if shared.ErrorCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantIn) {
					t.Fatalf("ResolveURL(%q) = %q, %v; want %s error saying %q", tt.in, got, err, tt.wantCode, tt.wantIn)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewChecksServerAddresses(t *testing.T) {
	for _, tt := range []struct {
		name, in, want, wantIn string
	}{
		{name: "IPv4GetsPort53", in: "127.0.0.1", want: "127.0.0.1:53"},
		{name: "IPv6GetsPort53", in: "::1", want: "[::1]:53"},
		{name: "IPv6WithPort", in: "[::1]:5353", want: "[::1]:5353"},
		{name: "HostWithPort", in: "consul.knot.test:8600", want: "consul.knot.test:8600"},
		{name: "BadPortRejected", in: "127.0.0.1:dns", wantIn: "port must be a number"},
		{name: "PortZeroRejected", in: "127.0.0.1:0", wantIn: "port must be a number"},
		{name: "PortTooBigRejected", in: "127.0.0.1:65536", wantIn: "port must be a number"},
		{name: "EmptyRejected", in: "", wantIn: "no host"},
		{name: "NoHostRejected", in: ":53", wantIn: "no host"},
		{name: "BrokenBracketRejected", in: "[::1", wantIn: "want host or host:port"},
		{name: "BadHostRejected", in: "a b:53", wantIn: "neither an IP address nor a DNS name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := srv.New(srv.Options{Consul: []string{"127.0.0.1"}, Nameservers: []string{tt.in}})
			if tt.wantIn != "" {
				if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), tt.wantIn) || !strings.Contains(err.Error(), "nameserver 1") {
					t.Fatalf("New(%q) error %v, want EINVALID naming nameserver 1 and saying %q", tt.in, err, tt.wantIn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.ServersForTest(r, "web.knot.test"); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("servers %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestSystemResolverIsUsedWithoutServers(t *testing.T) {
	s := startDNS(t, zone...)
	r := mustResolver(t, srv.Options{Now: newClock().Now})
	srv.SetSystemResolverForTest(r, &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}})
	for range 2 {
		got, err := r.LookupSRV(testContext(t), "_knot._tcp.knot.test")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"127.0.0.1:8001", "[::1]:8001", "127.0.0.2:8002", "127.0.0.3:8003"}
		if !slices.Equal(endpoints(got), want) {
			t.Fatalf("endpoints %v, want %v", endpoints(got), want)
		}
	}
	if n := s.Asked("_knot._tcp.knot.test", "SRV", ""); n != 2 {
		t.Errorf("SRV asked %d times for two lookups, want 2 (the system resolver gives no TTL, so no caching)", n)
	}
	_, err := r.LookupSRV(testContext(t), "_nope._tcp.knot.test")
	if shared.ErrorCode(err) != shared.ENOTFOUND || !strings.Contains(err.Error(), "_nope._tcp.knot.test: system resolver: not found") {
		t.Errorf("error %v, want ENOTFOUND from the system resolver", err)
	}
}
