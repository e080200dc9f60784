// Package srv resolves knot's "srv+" addresses: DNS SRV names that stand for
// a host and a port. They appear in KNOT_AGENT_ENDPOINT ("srv+name"), in
// origin_server ("srv+https://name/path") and in the MySQL and Redis hosts.
//
// A Resolver sends names ending in ".consul" to the Consul DNS servers and
// other names to the nameservers; when no server applies it uses the system
// resolver. The name is queried as given: no "_service._proto." labels are
// added, so the Consul idiom "srv+knot-server-agent.service.consul" works.
//
// DNS answers come from outside and are checked before use. A response must
// answer the question that was asked; records must belong to the name asked
// (or to an alias the answer gives for it); targets must be host names and
// ports must not be 0; addresses must not be unspecified or multicast.
// Records that fail are dropped and logged, and a lookup fails when none
// remain. A truncated UDP answer is asked again over TCP. Servers are tried
// in order: a timeout, SERVFAIL, REFUSED or bad answer moves on to the next
// server, while NXDOMAIN or an empty answer ends the lookup.
//
// Records are put in RFC 2782 order on every lookup: by priority, then by a
// weighted random choice within each priority. Answers from configured
// servers are cached for the smallest TTL among the records used (TTL 0
// means no caching; TTLs are capped at MaxTTL). The system resolver does not
// report TTLs, so its answers are not cached. Failures are never cached, nor
// are answers in which some target had no address.
package srv

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Prefix marks a host or URL that is to be resolved through SRV records.
const Prefix = "srv+"

// MaxTTL caps how long an answer is cached, whatever TTL the server gave.
const MaxTTL = time.Hour

// DefaultTimeout bounds one query to one server when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options configure a Resolver. The zero value uses the system resolver.
type Options struct {
	// Consul lists the Consul DNS servers for names ending in ".consul", each
	// "host" or "host:port" (port 53 when omitted). Empty: such names are
	// treated like any other name.
	Consul []string
	// Nameservers lists the DNS servers for all other names, in the same
	// form. Empty: the system resolver answers them.
	Nameservers []string
	// Timeout bounds one query to one server (and the TCP retry after a
	// truncated answer gets its own). Zero means DefaultTimeout.
	Timeout time.Duration
	// Now tells the time for the cache. Nil means time.Now.
	Now func() time.Time
	// Rand makes the weighted choice among records of equal priority. Nil
	// means a randomly seeded source. The Resolver uses it under its lock.
	Rand *rand.Rand
	// Logger receives dropped records and failing servers at Warn level.
	// Nil means slog.Default().
	Logger *slog.Logger
}

// Target is one endpoint of an SRV answer: one address of the record's
// target host, with the record's port.
type Target struct {
	Host     string         // the SRV target host name, lower case, without the final dot
	Addr     netip.AddrPort // an address of Host with the record's port
	Priority uint16
	Weight   uint16
}

// String returns the endpoint as "host:port", with IPv6 addresses in
// brackets ("10.0.0.5:8080", "[fd00::5]:8080").
func (t Target) String() string { return t.Addr.String() }

// Resolver looks up SRV names. It is safe for concurrent use.
type Resolver struct {
	consul      []string
	nameservers []string
	timeout     time.Duration
	now         func() time.Time
	log         *slog.Logger
	system      *net.Resolver // the system resolver; replaced only by tests

	mu    sync.Mutex
	rand  *rand.Rand           // guarded by mu
	cache map[string]cacheItem // guarded by mu; keyed by lower-case FQDN
}

// record is one usable SRV record with the addresses of its target.
type record struct {
	target                 string
	port, priority, weight uint16
	addrs                  []netip.Addr
}

type cacheItem struct {
	records []record
	expires time.Time
}

// New returns a Resolver. It returns EINVALID when a server address is not
// "host" or "host:port" with a port from 1 to 65535. New starts nothing.
func New(opts Options) (*Resolver, error) {
	consul, err := parseServers("consul server", opts.Consul)
	if err != nil {
		return nil, err
	}
	nameservers, err := parseServers("nameserver", opts.Nameservers)
	if err != nil {
		return nil, err
	}
	r := &Resolver{
		consul:      consul,
		nameservers: nameservers,
		timeout:     opts.Timeout,
		now:         opts.Now,
		log:         opts.Logger,
		system:      net.DefaultResolver,
		rand:        opts.Rand,
		cache:       map[string]cacheItem{},
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.rand == nil {
		r.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return r, nil
}

// LookupSRV returns the endpoints of the SRV records of name, best first:
// records in RFC 2782 order, and for each record the addresses of its
// target (IPv4 before IPv6). name is a DNS name, with or without the final
// dot and without the "srv+" prefix.
//
// It returns EINVALID for a name that is not a DNS name, ENOTFOUND when the
// name does not exist, has no SRV records, or its records are all unusable or
// say the service is not available (target "."), and EUNAVAILABLE when no
// server gave an answer. Messages name the lookup and what each server
// answered.
func (r *Resolver) LookupSRV(ctx context.Context, name string) ([]Target, error) {
	fqdn, err := normalizeName(name)
	if err != nil {
		return nil, err
	}
	if recs, ok := r.cached(fqdn); ok {
		return r.order(recs), nil
	}
	var (
		recs []record
		ttl  time.Duration
	)
	if servers := r.serversFor(fqdn); len(servers) > 0 {
		recs, ttl, err = r.lookupServers(ctx, servers, fqdn)
	} else {
		recs, err = r.lookupSystem(ctx, fqdn)
	}
	if err != nil {
		return nil, err
	}
	r.store(fqdn, recs, ttl)
	return r.order(recs), nil
}

// Resolve turns "srv+name" into the "host:port" of the best target of name.
// Any other string is returned unchanged. Errors are those of LookupSRV, and
// EINVALID when the name carries a port.
func (r *Resolver) Resolve(ctx context.Context, s string) (string, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s, nil
	}
	if strings.Contains(rest, ":") {
		return "", shared.Errorf(shared.EINVALID, "srv: %.100q carries a port or a scheme; write srv+name (the SRV record supplies the port)", s)
	}
	targets, err := r.LookupSRV(ctx, rest)
	if err != nil {
		return "", err
	}
	return targets[0].String(), nil
}

// ResolveURL turns "srv+scheme://name/path" into "scheme://host:port/path",
// where host:port is the best target of name; user info, path, query and
// fragment are kept. A URL without the prefix is returned unchanged (its
// validation is the caller's business). It returns EINVALID when a "srv+"
// URL does not parse, has no scheme or host, or carries a port, and the
// errors of LookupSRV.
func (r *Resolver) ResolveURL(ctx context.Context, s string) (string, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s, nil
	}
	u, name, err := splitURL(rest)
	if err != nil {
		return "", err
	}
	targets, err := r.LookupSRV(ctx, name)
	if err != nil {
		return "", err
	}
	u.Host = targets[0].String()
	return u.String(), nil
}

// serversFor returns the servers to ask about fqdn; nil means the system
// resolver.
func (r *Resolver) serversFor(fqdn string) []string {
	if len(r.consul) > 0 && (fqdn == "consul." || strings.HasSuffix(fqdn, ".consul.")) {
		return r.consul
	}
	return r.nameservers
}

func (r *Resolver) cached(fqdn string) ([]record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	item, ok := r.cache[fqdn]
	if !ok {
		return nil, false
	}
	if !r.now().Before(item.expires) {
		delete(r.cache, fqdn)
		return nil, false
	}
	return item.records, true
}

func (r *Resolver) store(fqdn string, recs []record, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	ttl = min(ttl, MaxTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache[fqdn] = cacheItem{records: recs, expires: r.now().Add(ttl)}
}

// order puts recs in RFC 2782 order and lists their endpoints.
func (r *Resolver) order(recs []record) []Target {
	r.mu.Lock()
	ordered := orderRecords(recs, r.rand.IntN)
	r.mu.Unlock()
	var out []Target
	for _, rec := range ordered {
		for _, a := range rec.addrs {
			out = append(out, Target{
				Host:     strings.TrimSuffix(rec.target, "."),
				Addr:     netip.AddrPortFrom(a, rec.port),
				Priority: rec.priority,
				Weight:   rec.weight,
			})
		}
	}
	return out
}
