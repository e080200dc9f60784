package srv

import (
	"net"

	mdns "github.com/miekg/dns"
)

// SetSystemResolverForTest makes r use nr where it would use the system
// resolver, so tests can point it at a loopback server.
func SetSystemResolverForTest(r *Resolver, nr *net.Resolver) { r.system = nr }

// ServersForTest returns the servers r asks about name; nil means the
// system resolver.
func ServersForTest(r *Resolver, name string) []string {
	fqdn, err := normalizeName(name)
	if err != nil {
		panic(err)
	}
	return r.serversFor(fqdn)
}

// NormalizeNameForTest, SplitURLForTest and SRVRecordsForTest expose the
// parsers to the fuzz tests.
var (
	NormalizeNameForTest = normalizeName
	ValidHostForTest     = validHost
)

func SplitURLForTest(rest string) (host, name string, err error) {
	u, name, err := splitURL(rest)
	if err != nil {
		return "", "", err
	}
	return u.Host, name, nil
}

// SRVRecordsForTest returns the targets ("host." names) and ports that
// srvRecords and addrRecords accept from msg for fqdn.
func SRVRecordsForTest(msg *mdns.Msg, fqdn string) (targets []string, ports []uint16, addrs int) {
	recs, _, _, _ := srvRecords(msg, fqdn)
	for _, r := range recs {
		targets = append(targets, r.target)
		ports = append(ports, r.port)
		a, _ := addrRecords(msg.Extra, r.target)
		addrs += len(a)
	}
	return targets, ports, addrs
}
