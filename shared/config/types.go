package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
)

// ValueKind is the shape of a key's value.
type ValueKind int

// The shapes of values.
const (
	ValueString ValueKind = iota
	ValueBool
	ValueInt
	ValueList // a YAML sequence; comma-separated in env and flags
)

func (k ValueKind) String() string {
	switch k {
	case ValueBool:
		return "bool"
	case ValueInt:
		return "int"
	case ValueList:
		return "list"
	}
	return "string"
}

// valueType describes what a key accepts.
type valueType struct {
	kind ValueKind
	// name is shown in the reference, such as "host:port".
	name string
	// check validates and normalises a non-empty string or one list item;
	// nil accepts anything.
	check func(string) (string, error)
	// min and max bound a ValueInt.
	min, max int
}

// parse turns text from the environment, a flag or a default into a value:
// a string, bool, int or []string.
func (t *valueType) parse(text string) (any, error) {
	switch t.kind {
	case ValueBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, errors.New("must be true or false")
		}
		return b, nil
	case ValueInt:
		return t.parseInt(text)
	case ValueList:
		var items []string
		for _, it := range strings.Split(text, ",") {
			it = strings.TrimSpace(it)
			if it == "" {
				continue
			}
			items = append(items, it)
		}
		return t.parseItems(items)
	}
	return t.parseString(text)
}

func (t *valueType) parseString(s string) (any, error) {
	if s == "" || t.check == nil {
		return s, nil
	}
	return t.check(s)
}

func (t *valueType) parseInt(s string) (any, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("must be a whole number")
	}
	if n < t.min || n > t.max {
		return nil, fmt.Errorf("must be between %d and %d", t.min, t.max)
	}
	return n, nil
}

func (t *valueType) parseItems(items []string) (any, error) {
	out := make([]string, 0, len(items))
	for i, it := range items {
		if it == "" {
			return nil, fmt.Errorf("item %d is empty", i+1)
		}
		if t.check != nil {
			v, err := t.check(it)
			if err != nil {
				return nil, fmt.Errorf("item %d %q: %v", i+1, it, err)
			}
			it = v
		}
		out = append(out, it)
	}
	return out, nil
}

var (
	tString = &valueType{kind: ValueString, name: "string"}
	tBool   = &valueType{kind: ValueBool, name: "bool"}
	tPort   = &valueType{kind: ValueInt, name: "port", min: 1, max: 65535}
	// tPortOrOff is a port, or 0 for none.
	tPortOrOff = &valueType{kind: ValueInt, name: "port", min: 0, max: 65535}
	tDBNum     = &valueType{kind: ValueInt, name: "int", min: 0, max: 1 << 20}
	// tTOTPWindow bounds the TOTP window: each step more lets one more
	// code in for as long.
	tTOTPWindow = &valueType{kind: ValueInt, name: "steps", min: 0, max: 10}
	tDays       = &valueType{kind: ValueInt, name: "days", min: 0, max: 36500}

	tListen     = &valueType{kind: ValueString, name: "host:port", check: checkListen}
	tEndpoint   = &valueType{kind: ValueString, name: "host:port or srv+name", check: checkEndpoint}
	tURL        = &valueType{kind: ValueString, name: "URL", check: checkHTTPURL}
	tOriginURL  = &valueType{kind: ValueString, name: "URL or srv+URL", check: checkOriginURL}
	tWildcard   = &valueType{kind: ValueString, name: "domain", check: checkWildcard}
	tEncrypt    = &valueType{kind: ValueString, name: "32 characters", check: checkEncrypt}
	tLocation   = &valueType{kind: ValueString, name: "name", check: checkLocation}
	tHostOrSRV  = &valueType{kind: ValueString, name: "host or srv+name", check: checkHostOrSRV}
	tDBName     = &valueType{kind: ValueString, name: "name", check: checkDBName}
	tPath       = &valueType{kind: ValueString, name: "path"}
	tEngineHost = &valueType{kind: ValueString, name: "unix:///path or tcp://host:port", check: checkEngineHost}
	tLevel      = &valueType{kind: ValueString, name: "debug|info|warn|error", check: checkLevel}
	tDuration   = &valueType{kind: ValueString, name: "duration", check: checkDuration}
	tRedisHosts = &valueType{kind: ValueList, name: "list of host:port or srv+name", check: checkEndpoint}
	tConsul     = &valueType{kind: ValueList, name: "list of host[:port]", check: portDefault("8600")}
	tNameserver = &valueType{kind: ValueList, name: "list of host[:port]", check: portDefault("53")}
)

var labelRe = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// validHost reports whether h is an IP address or a DNS name.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// splitHostPort splits host:port and checks both; the host may be empty
// only when emptyHost is set.
func splitHostPort(s string, emptyHost bool, minPort int) (string, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", errors.New("must be host:port")
	}
	if host == "" && !emptyHost {
		return "", "", errors.New("has no host (want host:port)")
	}
	if host != "" && !validHost(host) {
		return "", "", fmt.Errorf("has an invalid host %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		return "", "", fmt.Errorf("has an invalid port %q (want %d to 65535)", port, minPort)
	}
	return host, strconv.Itoa(n), nil
}

// checkListen accepts host:port, :port and http://host:port[/], and returns
// host:port. Port 0 picks a free port.
func checkListen(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "http://"); ok {
		s = strings.TrimSuffix(rest, "/")
	} else if strings.Contains(s, "://") {
		return "", errors.New("must be host:port or http://host:port (server.tls.* turns TLS on)")
	}
	host, port, err := splitHostPort(s, true, 0)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// checkSRVName accepts srv+name and returns it unchanged.
func checkSRVName(s string) (string, error) {
	name := strings.TrimPrefix(s, "srv+")
	if strings.Contains(name, ":") || !validHost(name) || net.ParseIP(name) != nil {
		return "", errors.New("must be srv+ followed by a DNS name, without a port (the SRV record gives it)")
	}
	return s, nil
}

// checkEndpoint accepts host:port or srv+name.
func checkEndpoint(s string) (string, error) {
	if strings.HasPrefix(s, "srv+") {
		return checkSRVName(s)
	}
	host, port, err := splitHostPort(s, false, 1)
	if err != nil {
		return "", fmt.Errorf("%v, or srv+name", err)
	}
	return net.JoinHostPort(host, port), nil
}

// checkHostOrSRV accepts a host name, an IP address or srv+name.
func checkHostOrSRV(s string) (string, error) {
	if strings.HasPrefix(s, "srv+") {
		return checkSRVName(s)
	}
	if !validHost(s) {
		return "", errors.New("must be a host name, an IP address or srv+name (the port is a key of its own)")
	}
	return s, nil
}

// checkHTTPURL accepts http(s)://host[:port][/] and returns it without the
// trailing slash.
func checkHTTPURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("must be an http:// or https:// URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || (u.Path != "" && u.Path != "/") {
		return "", errors.New("must be scheme://host[:port], without a path, query or user")
	}
	host := u.Hostname()
	if !validHost(host) {
		return "", fmt.Errorf("has an invalid host %q", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("has an invalid port %q", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("has an empty port")
	}
	return u.Scheme + "://" + u.Host, nil
}

// checkOriginURL accepts an http(s) URL or srv+http(s)://name.
func checkOriginURL(s string) (string, error) {
	rest, srv := strings.CutPrefix(s, "srv+")
	v, err := checkHTTPURL(rest)
	if err != nil {
		return "", errors.New("must be http(s)://host[:port] or srv+http(s)://name")
	}
	if srv {
		u, _ := url.Parse(v)
		if u.Port() != "" || net.ParseIP(u.Hostname()) != nil {
			return "", errors.New("a srv+ URL names a DNS name without a port (the SRV record gives it)")
		}
		return "srv+" + v, nil
	}
	return v, nil
}

// checkWildcard accepts a domain, optionally starting with "*.".
func checkWildcard(s string) (string, error) {
	d := strings.TrimPrefix(s, "*.")
	if !validHost(d) || net.ParseIP(d) != nil || !strings.Contains(strings.TrimSuffix(d, "."), ".") {
		return "", errors.New("must be a domain such as *.example.com")
	}
	return s, nil
}

// checkEncrypt accepts a 32-byte key. The value is never quoted back.
func checkEncrypt(s string) (string, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("must be 32 characters, not %d (make one with knot genkey)", len(s))
	}
	return s, nil
}

var locationRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// checkLocation accepts a trusted location, or a restricted one ("user:"
// and a username): the location of a leaf on that user's API token.
func checkLocation(s string) (string, error) {
	if owner, ok := shared.LocationOwner(s); ok {
		if !shared.ValidName(owner) {
			return "", fmt.Errorf("names the restricted location of %q, which is not a valid username", owner)
		}
		return s, nil
	}
	if !locationRe.MatchString(s) {
		return "", errors.New("must start with a letter or digit and hold up to 64 letters, digits, dashes or underscores (or be user: and a username, on a leaf on that user's API token)")
	}
	return s, nil
}

var dbNameRe = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,64}$`)

func checkDBName(s string) (string, error) {
	if !dbNameRe.MatchString(s) {
		return "", errors.New("must be 1 to 64 letters, digits, dashes, underscores or dollar signs")
	}
	return s, nil
}

// checkEngineHost accepts unix:///path, tcp://host:port, http(s)://host:port
// and ssh://... container engine addresses.
func checkEngineHost(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("must be unix:///path or tcp://host:port")
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" || u.Host != "" {
			return "", errors.New("must be unix:///absolute/path (three slashes)")
		}
	case "tcp", "http", "https":
		if _, _, err := splitHostPort(u.Host, false, 1); err != nil {
			return "", fmt.Errorf("must be %s://host:port: %v", u.Scheme, err)
		}
	case "ssh":
		if u.Host == "" {
			return "", errors.New("must be ssh://[user@]host[:port][/path]")
		}
	default:
		return "", errors.New("must be unix:///path or tcp://host:port")
	}
	return s, nil
}

func checkLevel(s string) (string, error) {
	switch l := strings.ToLower(s); l {
	case "debug", "info", "warn", "error":
		return l, nil
	}
	return "", errors.New("must be one of debug, info, warn, error")
}

// portDefault returns a check that accepts host or host:port and adds port
// when there is none.
func portDefault(port string) func(string) (string, error) {
	return func(s string) (string, error) {
		if h, p, err := net.SplitHostPort(s); err == nil {
			host, p, err := splitHostPort(net.JoinHostPort(h, p), false, 1)
			if err != nil {
				return "", err
			}
			return net.JoinHostPort(host, p), nil
		}
		h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if !validHost(h) {
			return "", errors.New("must be host or host:port")
		}
		return net.JoinHostPort(h, port), nil
	}
}

// maxDuration bounds a duration key.
const maxDuration = 10 * 365 * 24 * time.Hour

// checkDuration accepts a Go duration from a minute to ten years, such as
// 24h or 12h30m, and normalises it (24h0m0s).
func checkDuration(s string) (string, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < time.Minute || d > maxDuration {
		return "", errors.New("must be a duration from 1m to 87600h, such as 24h or 12h30m")
	}
	return d.String(), nil
}
