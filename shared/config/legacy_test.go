package config_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/config"
)

// warningsOf returns the warnings of c as "key @ source".
func warningsOf(c *config.Config) []string {
	var out []string
	for _, w := range c.Warnings {
		out = append(out, w.Key+" @ "+w.Source.String())
	}
	return out
}

// The output of the predecessor's knot scaffold --server (v0.17) loads as it
// is, with nothing to warn about: knot uses the same names.
func TestPredecessorScaffoldLoads(t *testing.T) {
	file, _ := filepath.Abs("testdata/predecessor-server.yaml")
	c := mustLoad(t, config.Options{File: file})
	if len(c.Warnings) != 1 || c.Warnings[0].Key != "server.terminal.webgl" || !strings.Contains(c.Warnings[0].Message, "no effect") {
		t.Errorf("warnings %v, want one: server.terminal.webgl has no effect", warningsOf(c))
	}
	s := c.Server
	if s.Listen != "127.0.0.1:3000" || s.ListenAgent != "0.0.0.0:3010" || s.AgentEndpoint != "srv+knot-server-agent.service.consul" ||
		s.BadgerDB.Path != "./badgerdb/" || c.Storage() != config.StoreBadger || c.Log.Level != "info" {
		t.Errorf("scaffold loads as %+v", s)
	}
}

// Every key the predecessor's knot server read loads: knot's keys take
// effect, and each key knot does not have gives exactly one warning that
// names it and its line.
func TestPredecessorConfigLoadsWithAWarningPerIgnoredKey(t *testing.T) {
	file, _ := filepath.Abs("testdata/predecessor-full.yaml")
	c := mustLoad(t, config.Options{File: file})
	want := []string{}
	for _, w := range []struct {
		key  string
		line string
	}{
		{"server.listen_tunnel", "9"}, {"server.tunnel_domain", "10"}, {"server.timezone", "13"},
		{"server.enable_proxy", "15"}, {"server.terminal.webgl", "17"}, {"server.download_path", "18"}, {"server.html_path", "19"},
		{"server.template_path", "20"}, {"server.agent_path", "21"}, {"server.disable_space_create", "24"},
		{"server.ui.hide_support_links", "29"}, {"server.ui.hide_api_tokens", "30"},
		{"server.dns.enabled", "36"}, {"server.dns.listen", "37"}, {"server.dns.domain", "38"}, {"server.dns.ttl", "39"},
		{"server.tls.agent_use_tls", "44"},
		{"server.mysql.connection_max_idle", "52"}, {"server.mysql.connection_max_open", "53"}, {"server.mysql.connection_max_lifetime", "54"},
		{"server.redis.master_name", "64"}, {"server.redis.key_prefix", "65"},
		{"tls_skip_verify", "72"}, {"resolver.domains", "79"},
	} {
		want = append(want, w.key+" @ "+file+":"+w.line)
	}
	if got := warningsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range c.Warnings {
		if !strings.HasPrefix(w.Message, w.Key+" is the predecessor's and has no effect: ") || len(w.Message) < len(w.Key)+50 {
			t.Errorf("warning of %s says %q", w.Key, w.Message)
		}
	}
	if w := c.Warnings[16]; !strings.Contains(w.Message, "no agent listener") || !strings.Contains(w.Message, "TLS") {
		t.Errorf("agent_use_tls: %q", w.Message)
	}

	s := c.Server
	if s.Listen != "127.0.0.1:3000" || s.ListenAgent != "0.0.0.0:3010" || s.WildcardDomain != "*.example.com" ||
		s.Location != "myservers" || s.AuditRetention != 30 || !s.EnableLeafAPITokens ||
		s.Encrypt == "" || c.Role() != config.RoleOrigin {
		t.Errorf("server keys did not take effect: %+v", s)
	}
	if !s.TOTP.Enabled || s.TOTP.Window != 2 || s.TOTP.Issuer != "Example" || s.TLS.UseTLS {
		t.Errorf("totp and tls: %+v %+v", s.TOTP, s.TLS)
	}
	if c.Storage() != config.StoreBadger || s.BadgerDB.Path != "./badgerdb/" {
		t.Errorf("storage %v at %q", c.Storage(), s.BadgerDB.Path)
	}
	if !reflect.DeepEqual(c.Resolver.Consul, []string{"127.0.0.1:8600"}) || !reflect.DeepEqual(c.Resolver.Nameservers, []string{"127.0.0.1:53"}) {
		t.Errorf("resolver %+v", c.Resolver)
	}
	// Keys with no effect change nothing: tls_skip_verify is not the
	// client's.
	if c.Client.TLSSkipVerify {
		t.Error("tls_skip_verify turned on client.tls_skip_verify")
	}
}

// A name that was never the predecessor's is still an error, also in the
// predecessor's sections.
func TestUnknownKeysThatWereNotThePredecessorsStayErrors(t *testing.T) {
	for _, tt := range []struct{ file, key, line, problem string }{
		{"server:\n  enable_proxies: true\n", "server.enable_proxies", "2", "unknown key"},
		{"server:\n  ui:\n    colour: blue\n", "server.ui.colour", "3", "unknown key"},
		{"server:\n  dns:\n    enabled: true\n    forwarders: 1\n", "server.dns.forwarders", "4", "unknown key"},
		{"server:\n  ui: true\n", "server.ui", "2", "must be a section"},
		{"tls_skip_verify: true\ntls_verify: true\n", "tls_verify", "2", "unknown key"},
	} {
		file := writeFile(t, tt.file)
		_, err := load(t, config.Options{File: file})
		var es config.Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Key != tt.key || es[0].Source.String() != file+":"+tt.line || !strings.Contains(es[0].Problem, tt.problem) {
			t.Errorf("%q: error %v, want %s at line %s: %s", tt.file, err, tt.key, tt.line, tt.problem)
		}
	}
	_, err := load(t, config.Options{Flags: map[string]string{"enable-proxies": "true"}})
	if err == nil || !strings.Contains(err.Error(), "flag --enable-proxies: unknown flag") {
		t.Errorf("unknown flag: %v", err)
	}
}

// The predecessor's variables set knot's keys through their checks, with a
// warning that names knot's variable; those of keys knot does not have
// warn and change nothing.
func TestPredecessorVariables(t *testing.T) {
	c := mustLoad(t, config.Options{Env: envOf(map[string]string{
		"KNOT_LOGLEVEL":      "debug",
		"KNOT_ENABLE_TOTP":   "true",
		"KNOT_ENCRYPT":       "8gMcKDtYpTPaQz4wv2NdxS6J7eRfUb3A",
		"KNOT_WEBGL":         "false",
		"KNOT_NAMESERVERS":   "127.0.0.1",
		"KNOT_SPACEID":       "0196a3c2-space",
		"KNOT_AGENT_USE_TLS": "false",
		"KNOT_ENABLE_PROXY":  "true",
	})})
	if c.Log.Level != "debug" || !c.Server.TOTP.Enabled ||
		!reflect.DeepEqual(c.Resolver.Nameservers, []string{"127.0.0.1:53"}) || c.Agent.SpaceID != "0196a3c2-space" {
		t.Errorf("variables did not take effect: log %q totp %v ns %v space %q",
			c.Log.Level, c.Server.TOTP.Enabled, c.Resolver.Nameservers, c.Agent.SpaceID)
	}
	want := map[string]string{
		"env KNOT_WEBGL":         "KNOT_WEBGL is the predecessor's and has no effect: knot's web terminal draws with xterm.js's DOM renderer, which needs no GPU, so there is no WebGL renderer to turn on or off",
		"env KNOT_ENABLE_TOTP":   "KNOT_ENABLE_TOTP is the predecessor's name; use KNOT_TOTP_ENABLED (server.totp.enabled)",
		"env KNOT_NAMESERVERS":   "KNOT_NAMESERVERS is the predecessor's name; use KNOT_RESOLVER_NAMESERVERS (resolver.nameservers)",
		"env KNOT_LOGLEVEL":      "KNOT_LOGLEVEL is the predecessor's name; use KNOT_LOG_LEVEL (log.level)",
		"env KNOT_SPACEID":       "KNOT_SPACEID is the predecessor's name; use KNOT_SPACE_ID (agent.space_id)",
		"env KNOT_ENABLE_PROXY":  "KNOT_ENABLE_PROXY is the predecessor's and has no effect: ",
		"env KNOT_AGENT_USE_TLS": "KNOT_AGENT_USE_TLS is the predecessor's and has no effect: knot has no agent listener yet",
	}
	if len(c.Warnings) != len(want) {
		t.Errorf("warnings %v, want %d", warningsOf(c), len(want))
	}
	for _, w := range c.Warnings {
		if m, ok := want[w.Source.String()]; !ok || !strings.HasPrefix(w.Message, m) {
			t.Errorf("warning %s: %q, want %q", w.Source, w.Message, m)
		}
	}

	// The value goes through the key's checks, and the error names the
	// predecessor's variable.
	_, err := load(t, config.Options{Env: envOf(map[string]string{"KNOT_LOGLEVEL": "loud"})})
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Key != "log.level" || es[0].Source.String() != "env KNOT_LOGLEVEL" {
		t.Errorf("bad KNOT_LOGLEVEL: %v", err)
	}

	// knot's own variable wins over the predecessor's.
	c = mustLoad(t, config.Options{Env: envOf(map[string]string{"KNOT_LOGLEVEL": "debug", "KNOT_LOG_LEVEL": "error"})})
	if c.Log.Level != "error" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, "is ignored: KNOT_LOG_LEVEL is set too") {
		t.Errorf("level %q, warnings %+v", c.Log.Level, c.Warnings)
	}
}

// The predecessor's flags for knot's keys set them; those for keys knot does
// not have warn.
func TestPredecessorFlags(t *testing.T) {
	c := mustLoad(t, config.Options{Flags: map[string]string{
		"enable-totp":   "true",
		"encrypt":       "8gMcKDtYpTPaQz4wv2NdxS6J7eRfUb3A",
		"agent-use-tls": "true",
		"nameserver":    "127.0.0.1,127.0.0.2:5353",
	}})
	if !c.Server.TOTP.Enabled || !reflect.DeepEqual(c.Resolver.Nameservers, []string{"127.0.0.1:53", "127.0.0.2:5353"}) {
		t.Errorf("flags did not take effect: %+v %+v", c.Server.TOTP, c.Resolver)
	}
	want := []string{"server.tls.agent_use_tls @ flag --agent-use-tls", "server.totp.enabled @ flag --enable-totp", "resolver.nameservers @ flag --nameserver"}
	if got := warningsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %v, want %v", got, want)
	}
	if m := c.Warnings[1].Message; m != "--enable-totp is the predecessor's name; use --totp-enabled (server.totp.enabled)" {
		t.Errorf("message %q", m)
	}
	_, err := load(t, config.Options{Flags: map[string]string{"enable-totp": "maybe"}})
	if err == nil || !config.FromFlag(err) || !strings.Contains(err.Error(), "flag --enable-totp: server.totp.enabled") {
		t.Errorf("bad --enable-totp: %v", err)
	}
}

// The table of the predecessor's names agrees with knot's: an alias names
// a knot key of the same path, a key with no effect is not knot's and says
// why, and no name is one of knot's, except that a name of the
// predecessor's agent may be knot's name of a key knot agent does not read.
func TestPredecessorNamesDoNotClash(t *testing.T) {
	envs, flags, paths := map[string]bool{}, map[string]bool{}, map[string]bool{}
	knotEnv, knotFlag := map[string]string{}, map[string]string{}
	for _, k := range config.Keys() {
		envs[k.Env], flags[k.Flag], paths[k.Path] = true, true, true
		knotEnv[k.Env], knotFlag[k.Flag] = k.Path, k.Path
	}
	agentOnly := func(lk config.LegacyKey, knotPath string) bool {
		return lk.Use == "" && strings.HasPrefix(lk.Path, "agent.") && knotPath != "" &&
			!strings.HasPrefix(knotPath, "agent.") && !strings.HasPrefix(knotPath, "log.")
	}
	ref := config.Reference()
	for _, lk := range config.LegacyKeys() {
		if lk.Use != "" && (lk.Use != lk.Path || !paths[lk.Use] || lk.Why != "") {
			t.Errorf("%s: alias of %q", lk.Path, lk.Use)
		}
		if lk.Use == "" && (paths[lk.Path] || lk.Why == "") {
			t.Errorf("%s: no effect, but knot has it or no reason is given", lk.Path)
		}
		if lk.Env != "" && ((envs[lk.Env] && !agentOnly(lk, knotEnv[lk.Env])) || !strings.HasPrefix(lk.Env, "KNOT_")) {
			t.Errorf("%s: variable %s", lk.Path, lk.Env)
		}
		if lk.Flag != "" && flags[lk.Flag] && !agentOnly(lk, knotFlag[lk.Flag]) {
			t.Errorf("%s: flag --%s is knot's", lk.Path, lk.Flag)
		}
		if lk.Env != "" {
			envs[lk.Env] = true
		}
		if lk.Flag != "" {
			flags[lk.Flag] = true
		}
		if !strings.Contains(ref, "| `"+lk.Path+"` |") {
			t.Errorf("reference lacks %s", lk.Path)
		}
	}
}

// The predecessor's agent variables and flags for features knot's agent
// does not have are accepted, each with one warning that names it and says
// what knot does instead, and they set nothing.
func TestPredecessorAgentNamesWarnOnce(t *testing.T) {
	names := []struct{ key, env, flag, value, says string }{
		{"agent.port.code_server", "KNOT_CODE_SERVER_PORT", "code-server-port", "49374", "ports publish"},
		{"agent.port.tcp_port", "KNOT_TCP_PORT", "tcp-port", "8080=App,9000", "knot forward port"},
		{"agent.port.http_port", "KNOT_HTTP_PORT", "http-port", "80=Site", "http_ports of its template"},
		{"agent.port.https_port", "KNOT_HTTPS_PORT", "https-port", "443", "ports publish"},
		{"agent.port.vnc_http", "KNOT_VNC_HTTP_PORT", "vnc-http-port", "5680", "ports publish"},
		{"agent.service_password", "KNOT_SERVICE_PASSWORD", "service-password", "s3cret", "no web services"},
		{"agent.vscode_tunnel", "KNOT_VSCODE_TUNNEL", "vscode-tunnel", "vscodetunnel", "code tunnel"},
		{"agent.advertise_addr", "KNOT_ADVERTISE_ADDR", "advertise-addr", "10.0.0.2", "agent.endpoint"},
		{"agent.user", "KNOT_USER", "", "alice", "whoever starts it"},
		{"dns.refresh_max_age", "KNOT_MAX_AGE", "dns-refresh-max-age", "180", "no DNS proxy"},
		{"server.dns.listen", "KNOT_DNS_LISTEN", "dns-listen", ":53", "no DNS proxy"},
	}
	env, flags := map[string]string{}, map[string]string{}
	for _, n := range names {
		env[n.env] = n.value
		if n.flag != "" {
			flags[n.flag] = n.value
		}
	}
	for _, opts := range []config.Options{{Env: envOf(env)}, {Env: envOf(nil), Flags: flags}} {
		c := mustLoad(t, opts)
		for _, n := range names {
			name, src := n.env, "env "+n.env
			if opts.Flags != nil {
				if n.flag == "" {
					continue
				}
				name, src = "--"+n.flag, "flag --"+n.flag
			}
			var got []config.Warning
			for _, w := range c.Warnings {
				if w.Source.String() == src {
					got = append(got, w)
				}
			}
			if len(got) != 1 || got[0].Key != n.key || got[0].ForAgent() != (n.key != "server.dns.listen") ||
				!strings.HasPrefix(got[0].Message, name+" is the predecessor's and has no effect: knot") ||
				!strings.Contains(got[0].Message, n.says) {
				t.Errorf("%s: warnings %+v, want one for %s saying %q", src, got, n.key, n.says)
			}
		}
		if c.Agent.Endpoint != "" || c.Agent.SpaceID != "" || len(c.Agent.Nameservers) != 0 {
			t.Errorf("agent names changed the agent's keys: %+v", c.Agent)
		}
	}

	// In the file, too, under the predecessor's agent sections.
	file := writeFile(t, "agent:\n  port:\n    vnc_http: 5680\n  syslog_port: 514\ndns:\n  refresh_max_age: 180\n")
	c := mustLoad(t, config.Options{File: file})
	want := []string{"agent.port.vnc_http @ " + file + ":3", "dns.refresh_max_age @ " + file + ":6"}
	if got := warningsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("file warnings %v, want %v", got, want)
	}
}

// The predecessor's agent flags for its own listener's TLS are knot's
// names of other keys: declared as the predecessor's (knot agent), each
// warns once and sets nothing; as knot's flags, they set knot's keys. Their
// variables set knot's keys and warn for the agent only.
func TestPredecessorAgentTLSNames(t *testing.T) {
	legacy := map[string]string{"use-tls": "true", "cert-file": "/etc/agent/cert.pem", "key-file": "/etc/agent/key.pem", "tls-skip-verify": "true"}
	c := mustLoad(t, config.Options{Env: envOf(nil), LegacyFlags: legacy})
	want := []string{
		"agent.cert_file @ flag --cert-file", "agent.key_file @ flag --key-file",
		"agent.tls_skip_verify @ flag --tls-skip-verify", "agent.use_tls @ flag --use-tls",
	}
	if got := warningsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %v, want %v", got, want)
	}
	for _, w := range c.Warnings {
		if !w.ForAgent() || !strings.Contains(w.Message, "is the predecessor's and has no effect: knot's agent") ||
			!strings.Contains(w.Message, "agent.fingerprint") {
			t.Errorf("warning %s: %q", w.Source, w.Message)
		}
	}
	if c.Server.TLS.Enabled() || c.Server.TLS.KeyFile != "" || c.Client.TLSSkipVerify {
		t.Errorf("the agent's names changed knot's keys: %+v, skip verify %v", c.Server.TLS, c.Client.TLSSkipVerify)
	}

	c = mustLoad(t, config.Options{Env: envOf(nil), Flags: map[string]string{"use-tls": "true", "tls-skip-verify": "true"}})
	if !c.Server.TLS.UseTLS || !c.Client.TLSSkipVerify || len(c.Warnings) != 0 {
		t.Errorf("knot's flags: tls %+v, skip verify %v, warnings %v", c.Server.TLS, c.Client.TLSSkipVerify, warningsOf(c))
	}

	c = mustLoad(t, config.Options{Env: envOf(map[string]string{"KNOT_USE_TLS": "true"})})
	if !c.Server.TLS.UseTLS || len(c.Warnings) != 1 || c.Warnings[0].Key != "agent.use_tls" || !c.Warnings[0].ForAgent() ||
		!strings.HasPrefix(c.Warnings[0].Message, "KNOT_USE_TLS is the predecessor's and has no effect: knot's agent serves no listener") {
		t.Errorf("KNOT_USE_TLS: use_tls %v, warnings %+v", c.Server.TLS.UseTLS, c.Warnings)
	}
}
