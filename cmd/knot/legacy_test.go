package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// knot server starts with a knot.yaml of its predecessor, given with the
// predecessor's flags, and logs one WARN line for each name it ignores or
// that has a knot name to use instead.
func TestServerStartsWithThePredecessorsConfigAndWarnsOnce(t *testing.T) {
	data, err := os.ReadFile("../../shared/config/testdata/predecessor-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "knot.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := runKnotServer(t, dir, "--config", file, "--listen", "127.0.0.1:0", "--enable-totp", "--agent-use-tls")
	s.call("GET", "/health", "", nil, 200, nil)
	s.stop()

	type warning struct{ key, source string }
	var want []warning
	for _, w := range []struct{ key, line string }{
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
		want = append(want, warning{w.key, file + ":" + w.line})
	}
	want = append(want, warning{"server.tls.agent_use_tls", strconv.Quote("flag --agent-use-tls")},
		warning{"server.totp.enabled", strconv.Quote("flag --enable-totp")})

	var warns []string
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "the predecessor's") {
			warns = append(warns, line)
		}
	}
	if len(warns) != len(want) {
		t.Errorf("%d WARN lines about the predecessor's names, want %d:\n%s", len(warns), len(want), s.log)
	}
	for _, w := range want {
		n := 0
		for _, line := range warns {
			if strings.Contains(line, " key="+w.key+" source="+w.source) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d WARN lines for %s at %s, want 1", n, w.key, w.source)
		}
	}
	if !strings.Contains(s.log.String(), `msg="--enable-totp is the predecessor's name; use --totp-enabled (server.totp.enabled)"`) {
		t.Errorf("no warning names --totp-enabled:\n%s", s.log)
	}
}
