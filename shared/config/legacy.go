package config

import (
	"fmt"
	"sort"
	"strings"
)

// legacyKey is a name of knot's predecessor (paularlott/knot v0.17) that
// knot accepts, so that the predecessor's knot.yaml, environment and flags
// start knot. It is one of two kinds:
//
//   - an alias (use set): the name sets knot's key use, which has the same
//     meaning; the value goes through that key's checks. In the file, every
//     key of the predecessor that knot honours has knot's name, so an alias
//     only renames the variable or the flag.
//   - a key with no effect (use empty): the value is accepted and ignored,
//     and why says why and what to use instead.
//
// Either way a name that differs from knot's gives one Warning. Names that
// were never the predecessor's stay unknown, and so errors.
type legacyKey struct {
	// path is the predecessor's key in knot.yaml; for an alias it is the
	// knot key it sets.
	path string
	// env and flag are the predecessor's variable and flag, "" when knot
	// uses the same name (or the predecessor had none, or knot gives the
	// name to another key).
	env, flag string
	// kind is the shape of a no-effect key's value; a ValueBool flag takes
	// no value on the command line.
	kind ValueKind
	// use is the knot key of an alias; "" for a key with no effect.
	use string
	// why says, for a key with no effect, why it has none.
	why string
}

// legacyKeys is the table of the predecessor's names: its server keys and
// variables (command/server.go of v0.17), the keys knot scaffold --server
// printed, and the agent's variables of older images.
var legacyKeys = []legacyKey{
	// Honoured under the predecessor's variable or flag.
	{path: "server.totp.enabled", env: "KNOT_ENABLE_TOTP", flag: "enable-totp", use: "server.totp.enabled"},
	{path: "resolver.nameservers", env: "KNOT_NAMESERVERS", flag: "nameserver", use: "resolver.nameservers"},
	{path: "log.level", env: "KNOT_LOGLEVEL", use: "log.level"},
	{path: "agent.space_id", env: "KNOT_SPACEID", use: "agent.space_id"},
	{path: "agent.endpoint", flag: "endpoint", use: "agent.endpoint"},
	{path: "agent.nameservers", flag: "nameservers", use: "agent.nameservers"},
	{path: "agent.api_port", flag: "api-port", use: "agent.api_port"},

	// Accepted with no effect.
	{path: "server.terminal.webgl", env: "KNOT_WEBGL", kind: ValueBool,
		why: "knot's web terminal draws with xterm.js's DOM renderer, which needs no GPU, so there is no WebGL renderer to turn on or off"},
	{path: "server.enable_proxy", kind: ValueBool,
		why: "knot serves the web ports of spaces and forwarded ports unless server.disable_proxy is true: set that to turn them off"},
	{path: "server.listen_tunnel", kind: ValueString,
		why: "knot has no tunnel server"},
	{path: "server.tunnel_domain", kind: ValueString,
		why: "knot has no tunnel server"},
	{path: "server.timezone", kind: ValueString,
		why: "knot has no server time zone; each user sets a time zone in their profile"},
	{path: "server.download_path", kind: ValueString,
		why: "knot serves no download directory"},
	{path: "server.html_path", kind: ValueString,
		why: "knot's web interface is built into the binary and is not read from a directory"},
	{path: "server.template_path", kind: ValueString,
		why: "knot's web interface is built into the binary and is not read from a directory"},
	{path: "server.agent_path", kind: ValueString,
		why: "knot serves no agent files for download"},
	{path: "server.disable_space_create", kind: ValueBool,
		why: "knot has no switch that stops space creation; the Use Spaces and Manage Spaces permissions of a user's roles allow it"},
	{path: "server.ui.hide_support_links", env: "KNOT_HIDE_SUPPORT_LINKS", kind: ValueBool,
		why: "knot's web interface has no support links"},
	{path: "server.ui.hide_api_tokens", env: "KNOT_HIDE_API_TOKENS", kind: ValueBool,
		why: "knot's web interface has no such option"},
	{path: "server.dns.enabled", env: "KNOT_ENABLE_DNS", flag: "enable-dns", kind: ValueBool,
		why: "knot has no DNS server"},
	{path: "server.dns.listen", kind: ValueString,
		why: "knot has no DNS server, and its agent runs no DNS proxy"},
	{path: "server.dns.domain", kind: ValueString, why: "knot has no DNS server"},
	{path: "server.dns.ttl", kind: ValueInt, why: "knot has no DNS server"},
	{path: "server.tls.agent_use_tls", env: "KNOT_AGENT_USE_TLS", kind: ValueBool,
		why: "knot has no agent listener yet (server.listen_agent is not served); agents will always connect to it over TLS"},
	{path: "tls_skip_verify", kind: ValueBool,
		why: "knot verifies certificates; a client skips that with client.tls_skip_verify (better: client.tls_ca_file or client.tls_fingerprint), and a leaf trusts its origin through server.tls.origin_ca_file or server.tls.origin_fingerprint"},
	{path: "server.mysql.connection_max_idle", kind: ValueInt,
		why: "knot keeps at most 10 idle MySQL connections"},
	{path: "server.mysql.connection_max_open", kind: ValueInt,
		why: "knot opens at most 100 MySQL connections"},
	{path: "server.mysql.connection_max_lifetime", kind: ValueString,
		why: "knot closes MySQL connections after 5 minutes"},
	{path: "server.redis.master_name", kind: ValueString,
		why: "knot connects to server.redis.hosts directly, not through Redis Sentinel"},
	{path: "server.redis.key_prefix", kind: ValueString,
		why: "knot keeps its keys under its own prefix {knot}: in server.redis.db"},
	{path: "resolver.domains", kind: ValueList,
		why: "knot has no nameservers per domain; resolver.consul answers *.consul names and resolver.nameservers every other"},

	// The agent's, for features knot's agent does not have (its names
	// under agent., and dns.; KNOT_USER was read by the images' start
	// script). Only knot agent warns about their variables.
	{path: "agent.port.code_server", env: "KNOT_CODE_SERVER_PORT", flag: "code-server-port", kind: ValueInt,
		why: "knot does not proxy code-server; a container template's ports publish its port on the host that runs the space (docs/templates.md)"},
	{path: "agent.port.tcp_port", env: "KNOT_TCP_PORT", flag: "tcp-port", kind: ValueList,
		why: "knot forward port reaches any port of a space through the server; nothing needs listing (docs/getting-into-a-space.md)"},
	{path: "agent.port.http_port", env: "KNOT_HTTP_PORT", flag: "http-port", kind: ValueList,
		why: "knot serves the web ports of a space from the http_ports of its template, not from the agent (docs/templates.md)"},
	{path: "agent.port.https_port", env: "KNOT_HTTPS_PORT", flag: "https-port", kind: ValueList,
		why: "knot does not proxy web ports (server.wildcard_domain); a container template's ports publish them on the host that runs the space (docs/templates.md)"},
	{path: "agent.port.vnc_http", env: "KNOT_VNC_HTTP_PORT", flag: "vnc-http-port", kind: ValueInt,
		why: "knot does not proxy VNC; a container template's ports publish the VNC port on the host that runs the space (docs/templates.md)"},
	{path: "agent.service_password", env: "KNOT_SERVICE_PASSWORD", flag: "service-password", kind: ValueString,
		why: "knot proxies no web services of a space, so none is given this password"},
	{path: "agent.vscode_tunnel", env: "KNOT_VSCODE_TUNNEL", flag: "vscode-tunnel", kind: ValueString,
		why: "knot's agent does not watch a VS Code tunnel; start code tunnel in the space yourself (knot space shell)"},
	{path: "agent.advertise_addr", env: "KNOT_ADVERTISE_ADDR", flag: "advertise-addr", kind: ValueString,
		why: "knot's agent advertises no address: it dials the leaf at agent.endpoint, and everything reaches it over that link"},
	{path: "agent.user", env: "KNOT_USER", kind: ValueString,
		why: "knot runs the agent as whoever starts it: a container space's process user (the image's USER), or the owner of a manual space"},
	// The predecessor's agent served a listener of its own, with these
	// flags; their variables are knot's names of the server's keys, so
	// they are the predecessor's only on knot agent (Options.LegacyFlags).
	{path: "agent.use_tls", env: "KNOT_USE_TLS", flag: "use-tls", kind: ValueBool,
		why: "knot's agent serves no listener, so there is nothing to serve over TLS; it always dials its leaf at agent.endpoint over TLS, verified by agent.fingerprint"},
	{path: "agent.cert_file", env: "KNOT_CERT_FILE", flag: "cert-file", kind: ValueString,
		why: "knot's agent serves no listener, so it has no certificate; it dials its leaf over TLS and verifies the leaf by agent.fingerprint"},
	{path: "agent.key_file", env: "KNOT_KEY_FILE", flag: "key-file", kind: ValueString,
		why: "knot's agent serves no listener, so it has no private key; it dials its leaf over TLS and verifies the leaf by agent.fingerprint"},
	{path: "agent.tls_skip_verify", flag: "tls-skip-verify", kind: ValueBool,
		why: "knot's agent verifies the leaf by agent.fingerprint and never skips verification"},
	{path: "dns.listen", kind: ValueString,
		why: "knot's agent runs no DNS proxy; agent.nameservers names the DNS servers for its own srv+ lookups"},
	{path: "dns.refresh_max_age", env: "KNOT_MAX_AGE", flag: "dns-refresh-max-age", kind: ValueInt,
		why: "knot's agent runs no DNS proxy; agent.nameservers names the DNS servers for its own srv+ lookups"},
}

// ForAgent reports whether w is about a name that only the predecessor's
// agent read (its key is under agent. or dns.).
func (w Warning) ForAgent() bool {
	return strings.HasPrefix(w.Key, "agent.") || strings.HasPrefix(w.Key, "dns.")
}

// envName returns the predecessor's variable of a key with no effect: its
// flag in upper snake case, or KNOT_ and the path without "server.".
func (lk *legacyKey) envName() string {
	if lk.env != "" || lk.use != "" || !strings.HasPrefix(lk.path, "server.") {
		return lk.env
	}
	return "KNOT_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(strings.TrimPrefix(lk.path, "server.")))
}

// flagName returns the predecessor's flag of a key with no effect, made from
// its variable like knot's.
func (lk *legacyKey) flagName() string {
	if lk.flag != "" || lk.use != "" {
		return lk.flag
	}
	n, ok := strings.CutPrefix(lk.envName(), "KNOT_")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

func init() {
	// A key of the predecessor's whose name knot gives to nothing has the
	// predecessor's variable and flag too.
	for i := range legacyKeys {
		lk := &legacyKeys[i]
		lk.env, lk.flag = lk.envName(), lk.flagName()
	}
}

func findLegacy(path string) *legacyKey {
	for i := range legacyKeys {
		if legacyKeys[i].use == "" && legacyKeys[i].path == path {
			return &legacyKeys[i]
		}
	}
	return nil
}

// isLegacySection reports whether path is a section of the predecessor's
// that knot does not have, such as server.dns.
func isLegacySection(path string) bool {
	for i := range legacyKeys {
		if legacyKeys[i].use == "" && strings.HasPrefix(legacyKeys[i].path, path+".") {
			return true
		}
	}
	return false
}

// Warning is a name of the predecessor's that Load accepted: where it was
// given and what to use instead, or why it has no effect.
type Warning struct {
	// Key is the key the name is for, such as "server.enable_proxy".
	Key    string
	Source Source
	// Message says what was given and what to use instead, or why it has
	// no effect.
	Message string
}

func (w Warning) String() string {
	return w.Source.String() + ": " + w.Message
}

func (l *loader) warn(keyPath string, src Source, format string, args ...any) {
	l.warns = append(l.warns, Warning{Key: keyPath, Source: src, Message: fmt.Sprintf(format, args...)})
}

// noEffect records a key of the predecessor's that knot ignores.
func (l *loader) noEffect(lk *legacyKey, name string, src Source) {
	l.warn(lk.path, src, "%s is the predecessor's and has no effect: %s", name, lk.why)
}

// readLegacyEnv reads the predecessor's variables, after knot's: an alias
// sets its key unless knot's own variable already did.
func (l *loader) readLegacyEnv() {
	for i := range legacyKeys {
		lk := &legacyKeys[i]
		if lk.env == "" {
			continue
		}
		text, ok := l.opts.Env(lk.env)
		if !ok || text == "" {
			continue
		}
		src := Source{Kind: SourceEnv, Name: lk.env}
		if lk.use == "" {
			l.noEffect(lk, lk.env, src)
			continue
		}
		k := findKey(lk.use)
		if _, set := l.env[k.path]; set {
			l.warn(k.path, src, "%s is the predecessor's name of %s and is ignored: %s is set too", lk.env, k.path, k.envName())
			continue
		}
		l.warn(k.path, src, "%s is the predecessor's name; use %s (%s)", lk.env, k.envName(), k.path)
		l.parseText(k, src, text, l.env)
	}
}

// legacyFlag reads a flag that is not knot's. It reports false when the
// predecessor had no such flag either.
func (l *loader) legacyFlag(name, text string) bool {
	for i := range legacyKeys {
		lk := &legacyKeys[i]
		if lk.flag != name {
			continue
		}
		src := Source{Kind: SourceFlag, Name: name}
		if lk.use == "" {
			l.noEffect(lk, "--"+name, src)
			return true
		}
		k := findKey(lk.use)
		if _, set := l.opts.Flags[k.flagName()]; set {
			l.warn(k.path, src, "--%s is the predecessor's name of %s and is ignored: --%s is given too", name, k.path, k.flagName())
			return true
		}
		l.warn(k.path, src, "--%s is the predecessor's name; use --%s (%s)", name, k.flagName(), k.path)
		l.parseText(k, src, text, l.flag)
		return true
	}
	return false
}

// sortedFlags returns the names of the flags given, in order.
func sortedFlags(flags map[string]string) []string {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LegacyKey describes a name of the predecessor's that knot accepts, for
// the command line and the reference.
type LegacyKey struct {
	// Path is the predecessor's key in knot.yaml.
	Path string
	// Env and Flag are the predecessor's variable and flag (without
	// dashes), "" when knot's are the same or there is none.
	Env, Flag string
	// Kind is the shape of the value.
	Kind ValueKind
	// Use is the knot key the name sets, "" when it has no effect.
	Use string
	// Why says why a key has no effect.
	Why string
}

// LegacyKeys returns the predecessor's names that knot accepts.
func LegacyKeys() []LegacyKey {
	out := make([]LegacyKey, 0, len(legacyKeys))
	for i := range legacyKeys {
		lk := &legacyKeys[i]
		kind := lk.kind
		if lk.use != "" {
			kind = findKey(lk.use).typ.kind
		}
		out = append(out, LegacyKey{Path: lk.path, Env: lk.env, Flag: lk.flag, Kind: kind, Use: lk.use, Why: lk.why})
	}
	return out
}

// writeLegacyReference appends the table of the predecessor's names to the
// reference.
func writeLegacyReference(b *strings.Builder) {
	b.WriteString("\n## Predecessor keys\n\n")
	b.WriteString("knot starts with a `knot.yaml`, variables and flags of its predecessor (paularlott/knot v0.17).\n")
	b.WriteString("Each name below is accepted with one WARN line at start-up: a name of the predecessor's for a key\n")
	b.WriteString("that knot has sets that key, through its checks, and the line names knot's name to use instead;\n")
	b.WriteString("a key that knot does not have is ignored, and the line says why. Any other unknown key is an error.\n")
	b.WriteString("The predecessor's agent TLS names (`agent.use_tls`, `agent.cert_file`, `agent.key_file`,\n")
	b.WriteString("`agent.tls_skip_verify`) share their variables and flags with knot's keys of other commands: they are\n")
	b.WriteString("the predecessor's, and warn, only on `knot agent`; elsewhere they are knot's.\n\n")
	b.WriteString("| Predecessor key | Variable | Flag | In knot |\n")
	b.WriteString("|---|---|---|---|\n")
	code := func(prefix, s string) string {
		if s == "" {
			return ""
		}
		return "`" + prefix + s + "`"
	}
	for _, lk := range LegacyKeys() {
		what := "no effect: " + lk.Why
		if lk.Use != "" {
			k := findKey(lk.Use)
			what = fmt.Sprintf("`%s` (`%s`, `--%s`)", k.path, k.envName(), k.flagName())
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", lk.Path, code("", lk.Env), code("--", lk.Flag), mdEscape.Replace(what))
	}
}
