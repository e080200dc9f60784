package srv

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// validHost reports whether s (without the final dot) is a DNS host name as
// knot accepts it: 1 to 253 characters in labels of 1 to 63 letters, digits,
// '-' and '_', no label starting or ending with '-'. Underscores allow the
// "_service._proto." form of SRV names.
func validHost(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// normalizeName checks a name given by the caller and returns it as a
// lower-case FQDN (with the final dot).
func normalizeName(s string) (string, error) {
	if s == "" {
		return "", shared.Errorf(shared.EINVALID, "srv: empty name; write srv+name")
	}
	name := strings.TrimSuffix(s, ".")
	if !validHost(name) {
		return "", shared.Errorf(shared.EINVALID, "srv: %.100q is not a DNS name (labels of 1 to 63 letters, digits, '-' or '_', 253 characters in all)", s)
	}
	return strings.ToLower(name) + ".", nil
}

// recordHost checks a host name taken from a DNS answer and returns it as a
// lower-case FQDN; ok is false when it is not a host name.
func recordHost(s string) (string, bool) {
	name := strings.TrimSuffix(s, ".")
	if !validHost(name) {
		return "", false
	}
	return strings.ToLower(name) + ".", true
}

// parseServers checks a list of DNS server addresses ("host", "host:port",
// "[v6]:port" or a bare IPv6 address) and returns them as host:port, port 53
// when none is given. what names the list in errors.
func parseServers(what string, list []string) ([]string, error) {
	var out []string
	for i, s := range list {
		bad := func(why string) error {
			return shared.Errorf(shared.EINVALID, "srv: %s %d (%.100q): %s", what, i+1, s, why)
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil && a.Zone() == "" {
				host, port = a.String(), "53"
			} else if !strings.ContainsAny(s, ":[]") {
				host, port = s, "53"
			} else {
				return nil, bad("want host or host:port")
			}
		}
		if host == "" {
			return nil, bad("no host")
		}
		if _, aerr := netip.ParseAddr(host); aerr != nil && !validHost(strings.TrimSuffix(host, ".")) {
			return nil, bad("host is neither an IP address nor a DNS name")
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return nil, bad("port must be a number from 1 to 65535")
		}
		out = append(out, net.JoinHostPort(host, strconv.FormatUint(p, 10)))
	}
	return out, nil
}

// splitURL parses the part of a "srv+" URL after the prefix and returns the
// URL and the SRV name in its host.
func splitURL(rest string) (*url.URL, string, error) {
	u, err := url.Parse(rest)
	if err != nil {
		return nil, "", shared.Errorf(shared.EINVALID, "srv: %.100q is not a URL: %v", Prefix+rest, errReason(err))
	}
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return nil, "", shared.Errorf(shared.EINVALID, "srv: %.100q needs a scheme and a host, as in srv+https://name/path", Prefix+rest)
	}
	if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		return nil, "", shared.Errorf(shared.EINVALID, "srv: %.100q carries a port; the SRV record supplies it", Prefix+u.Redacted())
	}
	name, err := normalizeName(u.Hostname())
	if err != nil {
		return nil, "", err
	}
	return u, name, nil
}

// errReason returns the reason inside a *url.Error without the URL, which
// the caller quotes itself.
func errReason(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
