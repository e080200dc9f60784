package srv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared"
)

// udpSize is the EDNS0 buffer size offered over UDP (the DNS flag day 2020
// value); larger answers come back truncated and are asked again over TCP.
const udpSize = 1232

// lookupServers resolves fqdn through the configured servers and returns its
// usable records with their addresses, and how long they may be cached.
func (r *Resolver) lookupServers(ctx context.Context, servers []string, fqdn string) ([]record, time.Duration, error) {
	msg, server, err := r.query(ctx, servers, fqdn, mdns.TypeSRV)
	if err != nil {
		return nil, 0, err
	}
	recs, ttl, rejected, declined := srvRecords(msg, fqdn)
	for _, why := range rejected {
		r.log.Warn("srv: record dropped", "name", display(fqdn), "server", server, "reason", why)
	}
	if len(recs) == 0 {
		if declined {
			return nil, 0, shared.Errorf(shared.ENOTFOUND, "srv: lookup SRV %s: %s answered that the service is not available (target \".\")", display(fqdn), server)
		}
		return nil, 0, shared.Errorf(shared.ENOTFOUND, "srv: lookup SRV %s: %s answered no usable records: %s", display(fqdn), server, strings.Join(rejected, "; "))
	}

	// Resolve each target once, from the additional section when it has
	// the addresses, else by asking for A and AAAA.
	type resolved struct {
		addrs []netip.Addr
		ttl   uint32
		err   error
	}
	done := map[string]resolved{}
	var out []record
	var failures []string
	unavailable := false
	for _, rec := range recs {
		res, ok := done[rec.target]
		if !ok {
			if addrs, attl := addrRecords(msg.Extra, rec.target); len(addrs) > 0 {
				res = resolved{addrs: addrs, ttl: attl}
			} else {
				res.addrs, res.ttl, res.err = r.queryAddrs(ctx, servers, rec.target)
			}
			done[rec.target] = res
			if res.err != nil {
				failures = append(failures, res.err.Error())
				unavailable = unavailable || shared.ErrorCode(res.err) == shared.EUNAVAILABLE
				r.log.Warn("srv: target dropped", "name", display(fqdn), "target", display(rec.target), "err", res.err)
			}
		}
		if res.err != nil {
			continue
		}
		rec.addrs = res.addrs
		ttl = min(ttl, res.ttl)
		out = append(out, rec)
	}
	if len(out) == 0 {
		code := shared.ENOTFOUND
		if unavailable {
			code = shared.EUNAVAILABLE
		}
		return nil, 0, shared.Errorf(code, "srv: lookup SRV %s: no target has an address: %s", display(fqdn), strings.Join(failures, "; "))
	}
	if len(failures) > 0 {
		ttl = 0 // a partial answer is not cached, so the missing targets are asked again
	}
	return out, time.Duration(ttl) * time.Second, nil
}

// queryAddrs asks for the A and AAAA records of host and returns the
// addresses, IPv4 first, and their smallest TTL.
func (r *Resolver) queryAddrs(ctx context.Context, servers []string, host string) ([]netip.Addr, uint32, error) {
	var addrs []netip.Addr
	ttl := uint32(1<<32 - 1)
	var errs []string
	code := shared.ENOTFOUND
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		msg, _, err := r.query(ctx, servers, host, qtype)
		if err != nil {
			if shared.ErrorCode(err) == shared.EUNAVAILABLE {
				code = shared.EUNAVAILABLE
			}
			errs = append(errs, strings.TrimPrefix(shared.ErrorMessage(err), "srv: "))
			continue
		}
		a, attl := addrRecords(msg.Answer, host)
		addrs = append(addrs, a...)
		ttl = min(ttl, attl)
	}
	if len(addrs) == 0 {
		if len(errs) == 0 {
			errs = append(errs, "no usable A or AAAA records for "+display(host))
		}
		return nil, 0, shared.Errorf(code, "%s", strings.Join(errs, "; "))
	}
	return addrs, ttl, nil
}

// query asks the servers in turn for the qtype records of name and returns
// the first answer that has some. Timeouts, transport errors, bad answers,
// SERVFAIL and other refusals move on to the next server; NXDOMAIN and an
// answer without such records end the lookup with ENOTFOUND.
func (r *Resolver) query(ctx context.Context, servers []string, name string, qtype uint16) (*mdns.Msg, string, error) {
	what := fmt.Sprintf("%s %s", mdns.TypeToString[qtype], display(name))
	var attempts []string
	notFound := false
	for _, server := range servers {
		msg, err := r.exchange(ctx, server, name, qtype)
		if err := stopped(ctx); err != nil {
			return nil, "", shared.Wrap(shared.EUNAVAILABLE, err, "srv: lookup %s: stopped", what)
		}
		if err != nil {
			attempts = append(attempts, fmt.Sprintf("%s: %v", server, err))
			r.log.Warn("srv: server failed", "query", what, "server", server, "err", err)
			continue
		}
		if msg.Rcode == mdns.RcodeNameError {
			attempts = append(attempts, server+" answered NXDOMAIN")
			notFound = true
			break
		}
		if msg.Rcode != mdns.RcodeSuccess {
			rcode := mdns.RcodeToString[msg.Rcode]
			if rcode == "" {
				rcode = fmt.Sprintf("rcode %d", msg.Rcode)
			}
			attempts = append(attempts, server+" answered "+rcode)
			r.log.Warn("srv: server failed", "query", what, "server", server, "rcode", rcode)
			continue
		}
		for _, rr := range msg.Answer {
			if rr.Header().Rrtype == qtype {
				return msg, server, nil
			}
		}
		attempts = append(attempts, server+" answered no records")
		notFound = true
		break
	}
	code := shared.EUNAVAILABLE
	if notFound {
		code = shared.ENOTFOUND
	}
	return nil, "", shared.Errorf(code, "srv: lookup %s: %s", what, strings.Join(attempts, "; "))
}

// stopped returns why ctx has ended, or nil. A deadline counts as passed
// as soon as the clock says so, before ctx's own timer has fired.
func stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// exchange sends one question to one server over UDP, and again over TCP
// when the UDP answer is truncated, and checks that the response answers
// that question.
func (r *Resolver) exchange(ctx context.Context, server, name string, qtype uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(udpSize, false)
	msg, err := r.exchangeOver(ctx, "udp", server, q)
	if err == nil && msg.Truncated {
		r.log.Debug("srv: truncated answer, asking over TCP", "name", display(name), "server", server)
		msg, err = r.exchangeOver(ctx, "tcp", server, q)
		if err == nil && msg.Truncated {
			err = errors.New("truncated answer over TCP")
		}
	}
	if err != nil {
		return nil, err
	}
	if !msg.Response || msg.Opcode != mdns.OpcodeQuery || len(msg.Question) != 1 {
		return nil, errors.New("not a response to a query")
	}
	if got := msg.Question[0]; got.Qtype != qtype || got.Qclass != mdns.ClassINET || !strings.EqualFold(got.Name, name) {
		return nil, fmt.Errorf("answered a different question (%.100q %s)", got.Name, mdns.TypeToString[got.Qtype])
	}
	return msg, nil
}

// exchangeOver does one round trip over network ("udp" or "tcp"), bounded
// by the resolver's timeout and stopped when ctx ends.
func (r *Resolver) exchangeOver(ctx context.Context, network, server string, q *mdns.Msg) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &mdns.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(ctx, server)
	if err == nil {
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		var msg *mdns.Msg
		msg, _, err = c.ExchangeWithConnContext(ctx, q, conn)
		if err == nil {
			return msg, nil
		}
	}
	var nerr net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout() {
		return nil, fmt.Errorf("no answer within %s over %s", r.timeout, strings.ToUpper(network))
	}
	return nil, fmt.Errorf("%s: %w", strings.ToUpper(network), err)
}

// srvRecords takes the usable SRV records for fqdn from an answer, with
// their smallest TTL. rejected says why other SRV records were dropped;
// declined is true when the answer holds the "service not available"
// record (target ".").
func srvRecords(msg *mdns.Msg, fqdn string) (recs []record, ttl uint32, rejected []string, declined bool) {
	owners := aliases(msg.Answer, fqdn)
	ttl = 1<<32 - 1
	for _, rr := range msg.Answer {
		s, ok := rr.(*mdns.SRV)
		if !ok {
			continue
		}
		switch owner := strings.ToLower(s.Hdr.Name); {
		case !owners[owner]:
			rejected = append(rejected, fmt.Sprintf("record of %.100q, not of %s", s.Hdr.Name, display(fqdn)))
		case s.Hdr.Class != mdns.ClassINET:
			rejected = append(rejected, fmt.Sprintf("record of class %d", s.Hdr.Class))
		case s.Target == ".":
			declined = true
		case s.Port == 0:
			rejected = append(rejected, fmt.Sprintf("port 0 for target %.100q", s.Target))
		default:
			target, ok := recordHost(s.Target)
			if !ok {
				rejected = append(rejected, fmt.Sprintf("target %.100q is not a host name", s.Target))
				continue
			}
			recs = append(recs, record{target: target, port: s.Port, priority: s.Priority, weight: s.Weight})
			ttl = min(ttl, s.Hdr.Ttl)
		}
	}
	return recs, ttl, rejected, declined
}

// addrRecords takes the usable addresses of host from rrs (A first, then
// AAAA), with their smallest TTL.
func addrRecords(rrs []mdns.RR, host string) ([]netip.Addr, uint32) {
	owners := aliases(rrs, host)
	ttl := uint32(1<<32 - 1)
	var v4, v6 []netip.Addr
	for _, rr := range rrs {
		h := rr.Header()
		if !owners[strings.ToLower(h.Name)] || h.Class != mdns.ClassINET {
			continue
		}
		var ip net.IP
		switch a := rr.(type) {
		case *mdns.A:
			ip = a.A.To4()
		case *mdns.AAAA:
			ip = a.AAAA.To16()
		default:
			continue
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok || addr.IsUnspecified() || addr.IsMulticast() {
			continue
		}
		if addr.Is4() {
			v4 = append(v4, addr)
		} else {
			v6 = append(v6, addr)
		}
		ttl = min(ttl, h.Ttl)
	}
	return append(v4, v6...), ttl
}

// aliases returns the names that stand for fqdn in rrs: fqdn itself and the
// targets of the CNAME chain that starts at it, all in lower case.
func aliases(rrs []mdns.RR, fqdn string) map[string]bool {
	names := map[string]bool{strings.ToLower(fqdn): true}
	for range rrs { // a chain is at most as long as the section
		grew := false
		for _, rr := range rrs {
			c, ok := rr.(*mdns.CNAME)
			if !ok || !names[strings.ToLower(c.Hdr.Name)] {
				continue
			}
			if t, ok := recordHost(c.Target); ok && !names[t] {
				names[t] = true
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	return names
}

// lookupSystem resolves fqdn with the system resolver, which reports no
// TTLs.
func (r *Resolver) lookupSystem(ctx context.Context, fqdn string) ([]record, error) {
	sctx, cancel := context.WithTimeout(ctx, r.timeout)
	_, srvs, err := r.system.LookupSRV(sctx, "", "", fqdn)
	cancel()
	if err != nil && len(srvs) == 0 {
		return nil, systemError("SRV "+display(fqdn), err)
	}
	if err != nil {
		r.log.Warn("srv: system resolver dropped records", "name", display(fqdn), "err", err)
	}
	var recs []record
	var failures []string
	declined := false
	for _, s := range srvs {
		if s.Target == "." {
			declined = true
			continue
		}
		target, ok := recordHost(s.Target)
		if !ok || s.Port == 0 {
			failures = append(failures, fmt.Sprintf("record %.100q port %d dropped", s.Target, s.Port))
			continue
		}
		actx, cancel := context.WithTimeout(ctx, r.timeout)
		ips, err := r.system.LookupIPAddr(actx, target)
		cancel()
		if err != nil {
			failures = append(failures, systemError("address of "+display(target), err).Message)
			continue
		}
		var v4, v6 []netip.Addr
		for _, ip := range ips {
			addr, ok := netip.AddrFromSlice(ip.IP)
			addr = addr.Unmap()
			switch {
			case !ok || addr.IsUnspecified() || addr.IsMulticast():
			case addr.Is4():
				v4 = append(v4, addr)
			default:
				v6 = append(v6, addr)
			}
		}
		if len(v4)+len(v6) == 0 {
			failures = append(failures, "no usable address for "+display(target))
			continue
		}
		recs = append(recs, record{target: target, port: s.Port, priority: s.Priority, weight: s.Weight, addrs: append(v4, v6...)})
	}
	if len(recs) == 0 {
		if declined && len(failures) == 0 {
			return nil, shared.Errorf(shared.ENOTFOUND, "srv: lookup SRV %s: system resolver answered that the service is not available (target \".\")", display(fqdn))
		}
		return nil, shared.Errorf(shared.ENOTFOUND, "srv: lookup SRV %s: system resolver: no usable target: %s", display(fqdn), strings.Join(failures, "; "))
	}
	for _, f := range failures {
		r.log.Warn("srv: target dropped", "name", display(fqdn), "reason", f)
	}
	return recs, nil
}

// systemError turns an error of the system resolver into ENOTFOUND or
// EUNAVAILABLE.
func systemError(what string, err error) *shared.Error {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return shared.Errorf(shared.ENOTFOUND, "srv: lookup %s: system resolver: not found", what)
	}
	return shared.Wrap(shared.EUNAVAILABLE, err, "srv: lookup %s: system resolver failed", what)
}

// display returns a name for messages, without the final dot.
func display(fqdn string) string { return strings.TrimSuffix(fqdn, ".") }
