package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/config"
)

var update = flag.Bool("update", false, "rewrite keys.md from the key table")

// envOf returns an Env function over m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func fixedHostname() (string, error) { return "build-7.example.com", nil }

// load calls config.Load with a fixed host name and no real environment.
func load(t *testing.T, opts config.Options) (*config.Config, error) {
	t.Helper()
	if opts.Env == nil {
		opts.Env = envOf(nil)
	}
	if opts.Hostname == nil {
		opts.Hostname = fixedHostname
	}
	if opts.File == "" {
		t.Chdir(t.TempDir()) // no ./knot.yaml
	}
	return config.Load(opts)
}

// writeFile writes a knot.yaml into a temporary directory and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "knot.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, opts config.Options) *config.Config {
	t.Helper()
	c, err := load(t, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func keyByPath(t *testing.T, path string) config.Key {
	t.Helper()
	for _, k := range config.Keys() {
		if k.Path == path {
			return k
		}
	}
	t.Fatalf("no key %s", path)
	return config.Key{}
}

// nest returns the YAML that sets path to the YAML value v.
func nest(path, v string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i == len(parts)-1 {
			b.WriteString(" " + v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestLoadWithNothingGivesDefaults(t *testing.T) {
	c := mustLoad(t, config.Options{})
	want := &config.Config{
		Server: config.Server{
			Listen:      "127.0.0.1:3000",
			ListenAgent: "127.0.0.1:3010",
			URL:         "http://127.0.0.1:3000",
			TOTP:        config.TOTP{Window: 1, Issuer: "Knot"},
			Location:    "build-7",
			MySQL:       config.MySQL{Host: "localhost", Port: 3306, User: "root", Database: "knot"},
			BadgerDB:    config.BadgerDB{Path: "./data/badger", MinFree: "256MiB"},
			Redis:       config.Redis{Hosts: []string{"localhost:6379"}},
			Nomad:       config.Nomad{Addr: "http://127.0.0.1:4646"},

			AuditRetention: 90,
			SessionMaxAge:  "168h0m0s",
		},
		Log: config.Log{Level: "info"},
	}
	want.Server.LeafForgetAfter = "24h0m0s"
	want.Agent.TerminalKeep = "10m0s"
	want.Agent.SyslogPort, want.Agent.APIPort = 514, 12201
	want.Agent.UpdateAuthorizedKeys = true
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.Role() != config.RoleStandalone {
		t.Errorf("Role() = %s, want standalone", c.Role())
	}
	if c.Storage() != config.StoreBadger {
		t.Errorf("Storage() = %s, want badger", c.Storage())
	}
	if got := c.Server.AgentEndpointOrListen(); got != "127.0.0.1:3010" {
		t.Errorf("AgentEndpointOrListen() = %q, want listen_agent", got)
	}
}

// sample is a valid value for a key, as YAML and as text, and what it
// loads as.
type sample struct {
	yaml, text string
	want       any
	env        map[string]string // other variables the value needs
	get        func(*config.Config) any
}

// originEnv makes a leaf of an https origin, for the keys that need one.
var originEnv = map[string]string{"KNOT_SHARED_TOKEN": "s3cret", "KNOT_ORIGIN_SERVER": "https://origin.example.com"}

var samples = map[string]sample{
	"server.listen":                 {"http://0.0.0.0:8080/", "http://0.0.0.0:8080/", "0.0.0.0:8080", nil, func(c *config.Config) any { return c.Server.Listen }},
	"server.listen_agent":           {"'[::1]:4000'", "[::1]:4000", "[::1]:4000", nil, func(c *config.Config) any { return c.Server.ListenAgent }},
	"server.agent_endpoint":         {"srv+agents.service.consul", "srv+agents.service.consul", "srv+agents.service.consul", nil, func(c *config.Config) any { return c.Server.AgentEndpoint }},
	"server.url":                    {"https://knot.example.com/", "https://knot.example.com/", "https://knot.example.com", nil, func(c *config.Config) any { return c.Server.URL }},
	"server.wildcard_domain":        {"'*.spaces.example.com'", "*.spaces.example.com", "*.spaces.example.com", nil, func(c *config.Config) any { return c.Server.WildcardDomain }},
	"server.disable_proxy":          {"true", "true", true, nil, func(c *config.Config) any { return c.Server.DisableProxy }},
	"server.encrypt":                {"VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF", "VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF", "VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF", nil, func(c *config.Config) any { return c.Server.Encrypt }},
	"server.totp.enabled":           {"true", "true", true, nil, func(c *config.Config) any { return c.Server.TOTP.Enabled }},
	"server.totp.window":            {"2", "2", 2, nil, func(c *config.Config) any { return c.Server.TOTP.Window }},
	"server.totp.issuer":            {"Knot at Example", "Knot at Example", "Knot at Example", nil, func(c *config.Config) any { return c.Server.TOTP.Issuer }},
	"server.audit_retention":        {"30", "30", 30, nil, func(c *config.Config) any { return c.Server.AuditRetention }},
	"server.session_max_age":        {"12h30m", "12h30m", "12h30m0s", nil, func(c *config.Config) any { return c.Server.SessionMaxAge }},
	"server.location":               {"eu-west_2", "eu-west_2", "eu-west_2", nil, func(c *config.Config) any { return c.Server.Location }},
	"server.shared_token":           {"s3cret", "s3cret", "s3cret", nil, func(c *config.Config) any { return c.Server.SharedToken }},
	"server.enable_leaf_api_tokens": {"true", "1", true, nil, func(c *config.Config) any { return c.Server.EnableLeafAPITokens }},
	"server.leaf_forget_after":      {"90m", "90m", "1h30m0s", nil, func(c *config.Config) any { return c.Server.LeafForgetAfter }},
	"server.metrics_token":          {"m3trics", "m3trics", "m3trics", nil, func(c *config.Config) any { return c.Server.MetricsToken }},
	"server.origin_server":          {"srv+https://knot-origin.service.consul", "srv+https://knot-origin.service.consul", "srv+https://knot-origin.service.consul", map[string]string{"KNOT_SHARED_TOKEN": "s3cret"}, func(c *config.Config) any { return c.Server.OriginServer }},
	"server.tls.cert_file":          {"/etc/knot/cert.pem", "/etc/knot/cert.pem", "/etc/knot/cert.pem", map[string]string{"KNOT_KEY_FILE": "/etc/knot/key.pem"}, func(c *config.Config) any { return c.Server.TLS.CertFile }},
	"server.tls.key_file":           {"/etc/knot/key.pem", "/etc/knot/key.pem", "/etc/knot/key.pem", map[string]string{"KNOT_CERT_FILE": "/etc/knot/cert.pem"}, func(c *config.Config) any { return c.Server.TLS.KeyFile }},
	"server.tls.use_tls":            {"true", "1", true, nil, func(c *config.Config) any { return c.Server.TLS.UseTLS }},
	"server.tls.origin_ca_file":     {"/etc/knot/ca.pem", "/etc/knot/ca.pem", "/etc/knot/ca.pem", originEnv, func(c *config.Config) any { return c.Server.TLS.OriginCAFile }},
	"server.tls.origin_fingerprint": {strings.Repeat("ab", 32), strings.Repeat("AB:", 31) + "ab", strings.Repeat("AB:", 31) + "AB", originEnv, func(c *config.Config) any { return c.Server.TLS.OriginFingerprint }},
	"server.mysql.enabled":          {"true", "true", true, nil, func(c *config.Config) any { return c.Server.MySQL.Enabled }},
	"server.mysql.host":             {"srv+mysql.service.consul", "srv+mysql.service.consul", "srv+mysql.service.consul", nil, func(c *config.Config) any { return c.Server.MySQL.Host }},
	"server.mysql.port":             {"3307", "3307", 3307, nil, func(c *config.Config) any { return c.Server.MySQL.Port }},
	"server.mysql.user":             {"knot", "knot", "knot", nil, func(c *config.Config) any { return c.Server.MySQL.User }},
	"server.mysql.password":         {"'p:w #1'", "p:w #1", "p:w #1", nil, func(c *config.Config) any { return c.Server.MySQL.Password }},
	"server.mysql.database":         {"knot_prod", "knot_prod", "knot_prod", nil, func(c *config.Config) any { return c.Server.MySQL.Database }},
	"server.badgerdb.enabled":       {"true", "true", true, nil, func(c *config.Config) any { return c.Server.BadgerDB.Enabled }},
	"server.badgerdb.path":          {"/var/lib/knot", "/var/lib/knot", "/var/lib/knot", nil, func(c *config.Config) any { return c.Server.BadgerDB.Path }},
	"server.badgerdb.min_free":      {"1GiB", "1GiB", "1GiB", nil, func(c *config.Config) any { return c.Server.BadgerDB.MinFree }},
	"server.redis.enabled":          {"true", "true", true, nil, func(c *config.Config) any { return c.Server.Redis.Enabled }},
	"server.redis.hosts":            {"[10.0.0.5:6380, srv+redis.service.consul]", "10.0.0.5:6380, srv+redis.service.consul", []string{"10.0.0.5:6380", "srv+redis.service.consul"}, nil, func(c *config.Config) any { return c.Server.Redis.Hosts }},
	"server.redis.password":         {"pw", "pw", "pw", nil, func(c *config.Config) any { return c.Server.Redis.Password }},
	"server.redis.db":               {"3", "3", 3, nil, func(c *config.Config) any { return c.Server.Redis.DB }},
	"server.memorydb.enabled":       {"true", "true", true, nil, func(c *config.Config) any { return c.Server.MemoryDB.Enabled }},
	"server.nomad.addr":             {"https://nomad.example.com:4646", "https://nomad.example.com:4646", "https://nomad.example.com:4646", nil, func(c *config.Config) any { return c.Server.Nomad.Addr }},
	"server.nomad.token":            {"tok", "tok", "tok", nil, func(c *config.Config) any { return c.Server.Nomad.Token }},
	"server.docker.host":            {"unix:///run/docker.sock", "unix:///run/docker.sock", "unix:///run/docker.sock", nil, func(c *config.Config) any { return c.Server.Docker.Host }},
	"server.podman.host":            {"tcp://127.0.0.1:8888", "tcp://127.0.0.1:8888", "tcp://127.0.0.1:8888", nil, func(c *config.Config) any { return c.Server.Podman.Host }},
	"resolver.consul":               {"[127.0.0.1, '10.0.0.2:8700']", "127.0.0.1,10.0.0.2:8700", []string{"127.0.0.1:8600", "10.0.0.2:8700"}, nil, func(c *config.Config) any { return c.Resolver.Consul }},
	"resolver.nameservers":          {"[1.1.1.1, '[::1]:5353', '::1']", "1.1.1.1,[::1]:5353,::1", []string{"1.1.1.1:53", "[::1]:5353", "[::1]:53"}, nil, func(c *config.Config) any { return c.Resolver.Nameservers }},
	"log.level":                     {"DEBUG", "DEBUG", "debug", nil, func(c *config.Config) any { return c.Log.Level }},
	"client.server":                 {"https://knot.example.com:8443", "https://knot.example.com:8443", "https://knot.example.com:8443", nil, func(c *config.Config) any { return c.Client.Server }},
	"client.token":                  {"tok", "tok", "tok", nil, func(c *config.Config) any { return c.Client.Token }},
	"client.tls_skip_verify":        {"true", "true", true, nil, func(c *config.Config) any { return c.Client.TLSSkipVerify }},
	"client.tls_ca_file":            {"ca.pem", "ca.pem", "ca.pem", nil, func(c *config.Config) any { return c.Client.TLSCAFile }},
	"client.tls_fingerprint":        {strings.Repeat("0f", 32), strings.Repeat("0F", 32), strings.Repeat("0F:", 31) + "0F", nil, func(c *config.Config) any { return c.Client.TLSFingerprint }},
	"agent.endpoint":                {"knot-leaf:3010", "knot-leaf:3010", "knot-leaf:3010", nil, func(c *config.Config) any { return c.Agent.Endpoint }},
	"agent.space_id":                {"0198c1d2-space", "0198c1d2-space", "0198c1d2-space", nil, func(c *config.Config) any { return c.Agent.SpaceID }},
	"agent.token":                   {"tok", "tok", "tok", nil, func(c *config.Config) any { return c.Agent.Token }},
	"agent.fingerprint":             {strings.Repeat("0f", 32), strings.Repeat("0F", 32), strings.Repeat("0F:", 31) + "0F", nil, func(c *config.Config) any { return c.Agent.Fingerprint }},
	"agent.terminal_keep":           {"30m", "30m", "30m0s", nil, func(c *config.Config) any { return c.Agent.TerminalKeep }},
	"agent.nameservers":             {"[127.0.0.53]", "127.0.0.53", []string{"127.0.0.53:53"}, nil, func(c *config.Config) any { return c.Agent.Nameservers }},
	"agent.syslog_port":             {"1514", "1514", 1514, nil, func(c *config.Config) any { return c.Agent.SyslogPort }},
	"agent.syslog_socket":           {"/dev/log", "/dev/log", "/dev/log", nil, func(c *config.Config) any { return c.Agent.SyslogSocket }},
	"agent.log_file":                {"/proc/1/fd/2", "/proc/1/fd/2", "/proc/1/fd/2", nil, func(c *config.Config) any { return c.Agent.LogFile }},
	"agent.api_port":                {"12202", "12202", 12202, nil, func(c *config.Config) any { return c.Agent.APIPort }},
	"agent.port.ssh":                {"22", "22", 22, nil, func(c *config.Config) any { return c.Agent.SSHPort }},
	"agent.update_authorized_keys":  {"false", "false", false, nil, func(c *config.Config) any { return c.Agent.UpdateAuthorizedKeys }},
}

func TestEveryKeyLoadsFromEverySource(t *testing.T) {
	for _, k := range config.Keys() {
		s, ok := samples[k.Path]
		if !ok {
			t.Errorf("key %s has no sample in this test", k.Path)
			continue
		}
		env := map[string]string{}
		for n, v := range s.env {
			env[n] = v
		}
		t.Run(k.Path+"/file", func(t *testing.T) {
			c := mustLoad(t, config.Options{File: writeFile(t, nest(k.Path, s.yaml)), Env: envOf(env)})
			if got := s.get(c); !reflect.DeepEqual(got, s.want) {
				t.Errorf("got %#v, want %#v", got, s.want)
			}
		})
		t.Run(k.Path+"/env", func(t *testing.T) {
			e := map[string]string{k.Env: s.text}
			for n, v := range env {
				e[n] = v
			}
			c := mustLoad(t, config.Options{Env: envOf(e)})
			if got := s.get(c); !reflect.DeepEqual(got, s.want) {
				t.Errorf("%s=%q: got %#v, want %#v", k.Env, s.text, got, s.want)
			}
		})
		t.Run(k.Path+"/flag", func(t *testing.T) {
			c := mustLoad(t, config.Options{Env: envOf(env), Flags: map[string]string{k.Flag: s.text}})
			if got := s.get(c); !reflect.DeepEqual(got, s.want) {
				t.Errorf("--%s=%q: got %#v, want %#v", k.Flag, s.text, got, s.want)
			}
		})
	}
	for p := range samples {
		found := false
		for _, k := range config.Keys() {
			found = found || k.Path == p
		}
		if !found {
			t.Errorf("sample for %s, which is not a key", p)
		}
	}
}

func TestFlagBeatsEnvBeatsFileBeatsDefault(t *testing.T) {
	file := writeFile(t, "server:\n  listen: 127.0.0.1:1001\n")
	env := map[string]string{"KNOT_LISTEN": "127.0.0.1:1002"}
	flags := map[string]string{"listen": "127.0.0.1:1003"}
	tests := []struct {
		name  string
		opts  config.Options
		want  string
		where config.SourceKind
	}{
		{"DefaultAlone", config.Options{}, "127.0.0.1:3000", config.SourceDefault},
		{"FileOverDefault", config.Options{File: file}, "127.0.0.1:1001", config.SourceFile},
		{"EnvOverFile", config.Options{File: file, Env: envOf(env)}, "127.0.0.1:1002", config.SourceEnv},
		{"FlagOverEnv", config.Options{File: file, Env: envOf(env), Flags: flags}, "127.0.0.1:1003", config.SourceFlag},
		{"FlagOverFile", config.Options{File: file, Flags: flags}, "127.0.0.1:1003", config.SourceFlag},
		{"EmptyEnvIsUnset", config.Options{File: file, Env: envOf(map[string]string{"KNOT_LISTEN": ""})}, "127.0.0.1:1001", config.SourceFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.opts)
			if c.Server.Listen != tt.want {
				t.Errorf("listen = %q, want %q", c.Server.Listen, tt.want)
			}
		})
	}
}

func TestConfigFileIsFound(t *testing.T) {
	const text = "server:\n  location: from-file\n"
	t.Run("NamedByOption", func(t *testing.T) {
		p := writeFile(t, text)
		c := mustLoad(t, config.Options{File: p})
		if c.Server.Location != "from-file" || c.File != p {
			t.Errorf("location %q file %q", c.Server.Location, c.File)
		}
	})
	t.Run("NamedByKNOT_CONFIG", func(t *testing.T) {
		p := writeFile(t, text)
		c := mustLoad(t, config.Options{Env: envOf(map[string]string{"KNOT_CONFIG": p})})
		if c.Server.Location != "from-file" || c.File != p {
			t.Errorf("location %q file %q", c.Server.Location, c.File)
		}
	})
	t.Run("OptionBeatsKNOT_CONFIG", func(t *testing.T) {
		p := writeFile(t, text)
		other := writeFile(t, "server:\n  location: other\n")
		c := mustLoad(t, config.Options{File: p, Env: envOf(map[string]string{"KNOT_CONFIG": other})})
		if c.Server.Location != "from-file" {
			t.Errorf("location %q", c.Server.Location)
		}
	})
	t.Run("KnotYamlInWorkingDirectory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "knot.yaml"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		c, err := config.Load(config.Options{Env: envOf(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if c.Server.Location != "from-file" || c.File != "knot.yaml" {
			t.Errorf("location %q file %q", c.Server.Location, c.File)
		}
	})
	t.Run("NoFileAnywhereMeansDefaults", func(t *testing.T) {
		c := mustLoad(t, config.Options{})
		if c.File != "" || c.Server.Location != "build-7" {
			t.Errorf("file %q location %q", c.File, c.Server.Location)
		}
	})
}

func TestRoleFollowsTokenAndOrigin(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want config.Role
	}{
		{"NeitherIsStandalone", nil, config.RoleStandalone},
		{"SharedTokenIsOrigin", map[string]string{"KNOT_SHARED_TOKEN": "x"}, config.RoleOrigin},
		{"BothIsLeaf", map[string]string{"KNOT_SHARED_TOKEN": "x", "KNOT_ORIGIN_SERVER": "https://origin.example.com"}, config.RoleLeaf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, config.Options{Env: envOf(tt.env)}).Role(); got != tt.want {
				t.Errorf("Role() = %s, want %s", got, tt.want)
			}
		})
	}
}

// A leaf on a user's API token serves that user's restricted location, and
// only a leaf may.
func TestLeafMayServeARestrictedLocation(t *testing.T) {
	c := mustLoad(t, config.Options{Env: envOf(map[string]string{"KNOT_SHARED_TOKEN": "api-token", "KNOT_ORIGIN_SERVER": "https://origin.example.com", "KNOT_LOCATION": "user:ann"})})
	if c.Server.Location != "user:ann" || c.Role() != config.RoleLeaf {
		t.Fatalf("location %q role %s", c.Server.Location, c.Role())
	}
}

func TestStorageIsTheEnabledDriver(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want config.StoreKind
	}{
		{"NoneIsBadger", "", config.StoreBadger},
		{"Badger", "KNOT_BADGERDB_ENABLED", config.StoreBadger},
		{"Memory", "KNOT_MEMORYDB_ENABLED", config.StoreMemory},
		{"MySQL", "KNOT_MYSQL_ENABLED", config.StoreMySQL},
		{"Redis", "KNOT_REDIS_ENABLED", config.StoreRedis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, config.Options{Env: envOf(map[string]string{tt.env: "true"})})
			if got := c.Storage(); got != tt.want {
				t.Errorf("Storage() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLogLevelMapsToSlog(t *testing.T) {
	for _, l := range []string{"debug", "info", "warn", "error"} {
		c := mustLoad(t, config.Options{Env: envOf(map[string]string{"KNOT_LOG_LEVEL": l})})
		if got := strings.ToLower(c.Log.SlogLevel().String()); got != l {
			t.Errorf("level %s maps to %s", l, got)
		}
	}
}

func TestBadValueIsRefusedNamingKeyAndSource(t *testing.T) {
	tests := []struct {
		name    string
		file    string // knot.yaml contents, "" for none
		env     map[string]string
		flags   map[string]string
		key     string
		source  string // "FILE:n" is the file at line n
		problem string
	}{
		{name: "ListenWithoutPort", file: "server:\n  listen: localhost\n", key: "server.listen", source: "FILE:2", problem: "must be host:port"},
		{name: "ListenHTTPS", file: "server:\n  listen: https://0.0.0.0:3000\n", key: "server.listen", source: "FILE:2", problem: "server.tls.* turns TLS on"},
		{name: "ListenBadPort", file: "server:\n  listen: 127.0.0.1:99999\n", key: "server.listen", source: "FILE:2", problem: "invalid port"},
		{name: "ListenEmpty", file: "server:\n  listen: ''\n", key: "server.listen", source: "FILE:2", problem: "must not be empty"},
		{name: "ListenAsList", file: "server:\n  listen:\n    - a\n", key: "server.listen", source: "FILE:3", problem: "must be a single value, not a list"},
		{name: "BoolAsWord", file: "server:\n  disable_proxy: yes\n", key: "server.disable_proxy", source: "FILE:2", problem: `must be true or false, not "yes"`},
		{name: "BoolQuoted", file: "server:\n  disable_proxy: 'true'\n", key: "server.disable_proxy", source: "FILE:2", problem: "must be true or false"},
		{name: "SizeWithAnUnknownUnit", file: "server:\n  badgerdb:\n    min_free: 3 bananas\n", key: "server.badgerdb.min_free", source: "FILE:3", problem: "must be a whole number of bytes"},
		{name: "PortAsWord", file: "server:\n  mysql:\n    port: three\n", key: "server.mysql.port", source: "FILE:3", problem: "must be a whole number"},
		{name: "PortOutOfRange", file: "server:\n  mysql:\n    port: 70000\n", key: "server.mysql.port", source: "FILE:3", problem: "between 1 and 65535"},
		{name: "TOTPWindowOutOfRange", file: "server:\n  totp:\n    window: 11\n", key: "server.totp.window", source: "FILE:3", problem: "between 0 and 10"},
		{name: "MySQLHostWithPort", file: "server:\n  mysql:\n    host: db:3306\n", key: "server.mysql.host", source: "FILE:3", problem: "port is a key of its own"},
		{name: "ListAsScalar", file: "resolver:\n  nameservers: 1.1.1.1\n", key: "resolver.nameservers", source: "FILE:2", problem: "must be a list"},
		{name: "ListBadItem", file: "resolver:\n  nameservers: [1.1.1.1, 'no such host!']\n", key: "resolver.nameservers", source: "FILE:2", problem: `item 2 "no such host!"`},
		{name: "ListNestedItem", file: "server:\n  redis:\n    hosts: [[a]]\n", key: "server.redis.hosts", source: "FILE:3", problem: "every item must be a single value"},
		{name: "SectionAsScalar", file: "server: 5\n", key: "server", source: "FILE:1", problem: "must be a section of keys"},
		{name: "SubsectionAsList", file: "server:\n  mysql: [1]\n", key: "server.mysql", source: "FILE:2", problem: "must be a section of keys, not a list"},
		{name: "UnknownKey", file: "server:\n  lisen: 1\n", key: "server.lisen", source: "FILE:2", problem: "unknown key"},
		{name: "UnknownKeyAtTopSuggestsServer", file: "listen: 127.0.0.1:3000\n", key: "listen", source: "FILE:1", problem: "did you mean server.listen?"},
		{name: "MisspeltKeySuggestsNearest", file: "server:\n  mysql:\n    pasword: x\n", key: "server.mysql.pasword", source: "FILE:3", problem: "did you mean server.mysql.password?"},
		{name: "QuotedNumberSaysWithoutQuotes", file: "server:\n  redis:\n    db: '2'\n", key: "server.redis.db", source: "FILE:3", problem: `must be a whole number without quotes, not "2"`},
		{name: "UnknownSection", file: "database:\n  host: x\n", key: "database", source: "FILE:1", problem: "unknown key"},
		{name: "KeySetTwice", file: "server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n", key: "server.listen", source: "FILE:3", problem: "set twice (first on line 2)"},
		{name: "SectionSetTwice", file: "log:\n  level: info\nlog:\n  level: debug\n", key: "log", source: "FILE:3", problem: "set twice"},
		{name: "URLWithoutScheme", file: "server:\n  url: knot.example.com\n", key: "server.url", source: "FILE:2", problem: "must be an http:// or https:// URL"},
		{name: "URLWithPath", file: "server:\n  url: https://knot.example.com/app\n", key: "server.url", source: "FILE:2", problem: "without a path"},
		{name: "OriginFTP", file: "server:\n  shared_token: x\n  origin_server: ftp://o\n", key: "server.origin_server", source: "FILE:3", problem: "srv+http(s)://name"},
		{name: "OriginSRVWithPort", file: "server:\n  shared_token: x\n  origin_server: srv+https://o.consul:443\n", key: "server.origin_server", source: "FILE:3", problem: "without a port"},
		{name: "OriginWithoutSharedToken", file: "server:\n  origin_server: https://origin.example.com\n", key: "server.origin_server", source: "FILE:2", problem: "server.shared_token is not"},
		{name: "AgentEndpointSRVWithPort", file: "server:\n  agent_endpoint: srv+agents.consul:3010\n", key: "server.agent_endpoint", source: "FILE:2", problem: "without a port"},
		{name: "WildcardNotADomain", file: "server:\n  wildcard_domain: '*'\n", key: "server.wildcard_domain", source: "FILE:2", problem: "must be a domain"},
		{name: "EncryptTooShort", file: "server:\n  encrypt: abcde\n", key: "server.encrypt", source: "FILE:2", problem: "must be 32 characters, not 5"},
		{name: "ForgetAfterNotADuration", file: "server:\n  leaf_forget_after: a day\n", key: "server.leaf_forget_after", source: "FILE:2", problem: "must be a duration from 1m"},
		{name: "ForgetAfterZero", file: "server:\n  leaf_forget_after: 0s\n", key: "server.leaf_forget_after", source: "FILE:2", problem: "must be a duration from 1m"},
		{name: "LocationWithSpace", file: "server:\n  location: my place\n", key: "server.location", source: "FILE:2", problem: "letters, digits"},
		{name: "RestrictedLocationOfAnOrigin", file: "server:\n  shared_token: x\n  location: user:ann\n", key: "server.location", source: "FILE:3", problem: "is a restricted location"},
		{name: "RestrictedLocationOfABadUsername", file: "server:\n  shared_token: x\n  origin_server: https://o\n  location: user:9\n", key: "server.location", source: "FILE:4", problem: "not a valid username"},
		{name: "SessionMaxAgeNotADuration", file: "server:\n  session_max_age: 7d\n", key: "server.session_max_age", source: "FILE:2", problem: "must be a duration"},
		{name: "AuditRetentionNegative", file: "server:\n  audit_retention: -1\n", key: "server.audit_retention", source: "FILE:2", problem: "0"},
		{name: "LevelUnknown", file: "log:\n  level: loud\n", key: "log.level", source: "FILE:2", problem: "one of debug, info, warn, error"},
		{name: "DockerHostPlainPath", file: "server:\n  docker:\n    host: /var/run/docker.sock\n", key: "server.docker.host", source: "FILE:3", problem: "unix:///path"},
		{name: "TwoStores", file: "server:\n  mysql:\n    enabled: true\n  redis:\n    enabled: true\n", key: "server.redis.enabled", source: "FILE:5", problem: "server.mysql.enabled (FILE:3)"},
		{name: "TwoStoresFromFileAndEnv", file: "server:\n  memorydb:\n    enabled: true\n", env: map[string]string{"KNOT_BADGERDB_ENABLED": "true"}, key: "server.memorydb.enabled", source: "FILE:3", problem: "server.badgerdb.enabled (env KNOT_BADGERDB_ENABLED)"},
		{name: "RedisWithoutHosts", file: "server:\n  redis:\n    enabled: true\n    hosts: []\n", key: "server.redis.hosts", source: "FILE:4", problem: "is empty"},
		{name: "EnvBadInt", env: map[string]string{"KNOT_MYSQL_PORT": "abc"}, key: "server.mysql.port", source: "env KNOT_MYSQL_PORT", problem: "must be a whole number"},
		{name: "EnvBadBool", env: map[string]string{"KNOT_DISABLE_PROXY": "maybe"}, key: "server.disable_proxy", source: "env KNOT_DISABLE_PROXY", problem: "must be true or false"},
		{name: "EnvBadList", env: map[string]string{"KNOT_RESOLVER_CONSUL": "1.2.3.4,bad host"}, key: "resolver.consul", source: "env KNOT_RESOLVER_CONSUL", problem: "item 2"},
		{name: "EnvBadLevel", env: map[string]string{"KNOT_LOG_LEVEL": "trace"}, key: "log.level", source: "env KNOT_LOG_LEVEL", problem: "one of debug"},
		{name: "FlagBadListen", flags: map[string]string{"listen": "nowhere"}, key: "server.listen", source: "flag --listen", problem: "must be host:port"},
		{name: "FlagEmptyRequired", flags: map[string]string{"location": ""}, key: "server.location", source: "flag --location", problem: "must not be empty"},
		{name: "FlagBadEncrypt", flags: map[string]string{"encrypt": "short"}, key: "server.encrypt", source: "flag --encrypt", problem: "must be 32 characters"},
		{name: "FlagUnknown", flags: map[string]string{"no-such-flag": "1"}, key: "", source: "flag --no-such-flag", problem: "unknown flag"},
		{name: "NotYAML", file: "server:\n  listen: [\n", key: "", source: "FILE:2", problem: "not valid YAML"},
		{name: "TabIndent", file: "server:\n\tlisten: x\n", key: "", source: "FILE:2", problem: "not valid YAML"},
		{name: "TwoDocuments", file: "log:\n  level: info\n---\nlog:\n  level: debug\n", key: "", source: "FILE:3", problem: "more than one YAML document"},
		{name: "RootIsList", file: "- server\n", key: "", source: "FILE:1", problem: "must be a mapping of sections"},
		{name: "CertFileWithoutKey", file: "server:\n  tls:\n    cert_file: cert.pem\n", key: "server.tls.cert_file", source: "FILE:3", problem: "server.tls.key_file is not"},
		{name: "KeyFileWithoutCert", flags: map[string]string{"key-file": "key.pem"}, key: "server.tls.key_file", source: "flag --key-file", problem: "server.tls.cert_file is not"},
		{name: "FingerprintTooShort", file: "server:\n  tls:\n    origin_fingerprint: 'AB:CD'\n", key: "server.tls.origin_fingerprint", source: "FILE:3", problem: "must be a SHA-256 fingerprint"},
		{name: "FingerprintNotHex", env: map[string]string{"KNOT_TLS_FINGERPRINT": strings.Repeat("zz", 32)}, key: "client.tls_fingerprint", source: "env KNOT_TLS_FINGERPRINT", problem: "must be a SHA-256 fingerprint"},
		{name: "SkipVerifyWithFingerprint", file: "client:\n  tls_skip_verify: true\n", flags: map[string]string{"tls-fingerprint": strings.Repeat("ab", 32)}, key: "client.tls_skip_verify", source: "FILE:2", problem: "client.tls_fingerprint (flag --tls-fingerprint) is set"},
		{name: "OriginPinWithoutOrigin", flags: map[string]string{"tls-origin-fingerprint": strings.Repeat("ab", 32)}, key: "server.tls.origin_fingerprint", source: "flag --tls-origin-fingerprint", problem: "server.origin_server is not"},
		{name: "OriginCAOverHTTP", file: "server:\n  shared_token: t\n  origin_server: http://origin.example.com\n  tls:\n    origin_ca_file: ca.pem\n", key: "server.tls.origin_ca_file", source: "FILE:5", problem: "is not https://"},
		{name: "MergeKeyIsUnknown", file: "base: &b\n  level: info\nlog:\n  <<: *b\n", key: "base", source: "FILE:1", problem: "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := config.Options{Env: envOf(tt.env), Flags: tt.flags}
			source := tt.source
			if tt.file != "" {
				opts.File = writeFile(t, tt.file)
				source = strings.ReplaceAll(source, "FILE", opts.File)
			}
			problem := strings.ReplaceAll(tt.problem, "FILE", opts.File)
			c, err := load(t, opts)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", c)
			}
			if c != nil {
				t.Errorf("got a config with the error")
			}
			var es config.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not config.Errors: %v", err, err)
			}
			for _, e := range es {
				if e.Key == tt.key && e.Source.String() == source && strings.Contains(e.Problem, problem) {
					msg := err.Error()
					if !strings.Contains(msg, source) || !strings.Contains(msg, tt.key) {
						t.Errorf("message %q does not name %s and %s", msg, tt.key, source)
					}
					if got := config.FromFlag(err); got != (strings.HasPrefix(source, "flag ") && tt.key != "") {
						t.Errorf("FromFlag = %v for %s", got, source)
					}
					return
				}
			}
			t.Errorf("no error with key %q, source %q, problem ~%q in:\n%v", tt.key, source, problem, err)
		})
	}
}

func TestSecretValuesAreNotQuotedInErrors(t *testing.T) {
	secret := "do-not-print-me"
	tests := []struct {
		name string
		opts config.Options
	}{
		{"EncryptInFile", config.Options{File: writeFile(t, "server:\n  encrypt: "+secret+"\n")}},
		{"EncryptInEnv", config.Options{Env: envOf(map[string]string{"KNOT_ENCRYPT": secret})}},
		{"PasswordAsList", config.Options{File: writeFile(t, "server:\n  mysql:\n    password: ["+secret+"]\n")}},
		{"TokenAsBoolShape", config.Options{File: writeFile(t, "server:\n  shared_token:\n    x: "+secret+"\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.opts)
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestMissingNamedFileIsAnError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	for _, tt := range []struct {
		name   string
		opts   config.Options
		source string
	}{
		{"ByOption", config.Options{File: missing}, "flag --config"},
		{"ByEnv", config.Options{Env: envOf(map[string]string{"KNOT_CONFIG": missing})}, "env KNOT_CONFIG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.source) || !strings.Contains(err.Error(), "nope.yaml") {
				t.Errorf("error %v, want one naming %s and the file", err, tt.source)
			}
		})
	}
}

func TestEmptyAndCommentOnlyFilesGiveDefaults(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "---\n", "~\n", "server:\nlog:\n", "server:\n  listen:\n"} {
		c := mustLoad(t, config.Options{File: writeFile(t, text)})
		if c.Server.Listen != "127.0.0.1:3000" {
			t.Errorf("%q: listen %q", text, c.Server.Listen)
		}
	}
}

func TestAliasesResolve(t *testing.T) {
	c := mustLoad(t, config.Options{File: writeFile(t, "server:\n  listen: &l 127.0.0.1:4000\n  url: http://127.0.0.1:4000\nclient:\n  token: *l\n")})
	if c.Client.Token != "127.0.0.1:4000" {
		t.Errorf("token %q", c.Client.Token)
	}
}

// envExceptions are the keys whose variables do not follow the rule:
// KNOT_AGENT_ENDPOINT is agent.endpoint's, the client and agent take the
// short names that spaces and shells are given, and the TLS keys of the web
// listener keep the predecessor's flags (--cert-file, --key-file,
// --use-tls, and the client's --tls-skip-verify).
var envExceptions = map[string]string{
	"server.agent_endpoint":  "KNOT_SERVER_AGENT_ENDPOINT",
	"server.tls.cert_file":   "KNOT_CERT_FILE",
	"server.tls.key_file":    "KNOT_KEY_FILE",
	"server.tls.use_tls":     "KNOT_USE_TLS",
	"client.server":          "KNOT_SERVER",
	"client.token":           "KNOT_TOKEN",
	"client.tls_skip_verify": "KNOT_TLS_SKIP_VERIFY",
	"client.tls_ca_file":     "KNOT_TLS_CA_FILE",
	"client.tls_fingerprint": "KNOT_TLS_FINGERPRINT",
	"agent.space_id":         "KNOT_SPACE_ID",
	// The predecessor's images route rsyslog to $KNOT_SYSLOG_PORT.
	"agent.syslog_port": "KNOT_SYSLOG_PORT",
	"agent.api_port":    "KNOT_LOGS_PORT",
	// The predecessor's templates set these for the image's own sshd.
	"agent.port.ssh":               "KNOT_SSH_PORT",
	"agent.update_authorized_keys": "KNOT_UPDATE_AUTHORIZED_KEYS",
}

func TestNamesAreUniqueAndDerived(t *testing.T) {
	envs, flags := map[string]string{}, map[string]string{}
	for _, k := range config.Keys() {
		if p, dup := envs[k.Env]; dup {
			t.Errorf("%s and %s share %s", p, k.Path, k.Env)
		}
		if p, dup := flags[k.Flag]; dup {
			t.Errorf("%s and %s share --%s", p, k.Path, k.Flag)
		}
		envs[k.Env], flags[k.Flag] = k.Path, k.Path
		if want := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k.Env, "KNOT_")), "_", "-"); k.Flag != want {
			t.Errorf("%s: flag %s, want %s", k.Path, k.Flag, want)
		}
		if exception, ok := envExceptions[k.Path]; ok {
			if k.Env != exception {
				t.Errorf("%s: env %s, want %s", k.Path, k.Env, exception)
			}
			continue
		}
		want := "KNOT_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(k.Path, "server."), ".", "_"))
		if k.Env != want {
			t.Errorf("%s: env %s, want %s", k.Path, k.Env, want)
		}
		if k.Doc == "" {
			t.Errorf("%s has no description", k.Path)
		}
	}
	if envs["KNOT_AGENT_ENDPOINT"] != "agent.endpoint" || envs["KNOT_SERVER_AGENT_ENDPOINT"] != "server.agent_endpoint" {
		t.Errorf("agent endpoint variables: %v %v", envs["KNOT_AGENT_ENDPOINT"], envs["KNOT_SERVER_AGENT_ENDPOINT"])
	}
}

func TestReferenceIsUpToDate(t *testing.T) {
	got := config.Reference()
	for _, k := range config.Keys() {
		if !strings.Contains(got, "`"+k.Path+"` | `"+k.Env+"` | `--"+k.Flag+"`") {
			t.Errorf("reference lacks the row of %s", k.Path)
		}
	}
	if *update {
		if err := os.WriteFile("keys.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile("keys.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != got {
		t.Errorf("keys.md differs from the key table; run go test ./shared/config -run TestReference -update")
	}
}

var commentedKeyRe = regexp.MustCompile(`^(\s*)# ([a-z_]+:( .*)?|  - .*)$`)

func TestScaffoldsLoad(t *testing.T) {
	for _, what := range []string{"server", "agent", "client"} {
		t.Run(what, func(t *testing.T) {
			text, err := config.Scaffold(what)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse("knot.yaml", []byte(text))
			if err != nil {
				t.Fatalf("scaffold does not load: %v\n%s", err, text)
			}
			if what == "server" && (c.Server.Listen != "127.0.0.1:3000" || c.Role() != config.RoleStandalone || c.Storage() != config.StoreBadger) {
				t.Errorf("server scaffold loads as %+v", c.Server)
			}
			// Uncommenting every commented key must load too: the examples
			// are valid values.
			var lines []string
			for _, line := range strings.Split(text, "\n") {
				if m := commentedKeyRe.FindStringSubmatch(line); m != nil {
					line = m[1] + m[2]
				}
				lines = append(lines, line)
			}
			full := strings.Join(lines, "\n")
			c, err = load(t, config.Options{File: writeFile(t, full), Env: envOf(map[string]string{"KNOT_SHARED_TOKEN": "s3cret"})})
			if err != nil {
				t.Fatalf("uncommented scaffold does not load: %v\n%s", err, full)
			}
			if what == "server" && (c.Server.OriginServer == "" || c.Server.Location != "myservers" || len(c.Resolver.Nameservers) != 1 || c.Server.Docker.Host == "") {
				t.Errorf("uncommented keys did not load: %+v %+v", c.Server, c.Resolver)
			}
		})
	}
	if _, err := config.Scaffold("nomad"); err == nil {
		t.Error("Scaffold(nomad) gave no error")
	}
}

func TestScaffoldListsEveryKeyOfItsSections(t *testing.T) {
	server, _ := config.Scaffold("server")
	agent, _ := config.Scaffold("agent")
	client, _ := config.Scaffold("client")
	for _, k := range config.Keys() {
		text := server
		switch {
		case strings.HasPrefix(k.Path, "agent."):
			text = agent
		case strings.HasPrefix(k.Path, "client."):
			text = client
		}
		name := k.Path[strings.LastIndexByte(k.Path, '.')+1:]
		if !regexp.MustCompile(`(?m)^\s*(# )?` + name + `:`).MatchString(text) {
			t.Errorf("scaffold lacks %s", k.Path)
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, what := range []string{"server", "agent", "client"} {
		s, _ := config.Scaffold(what)
		f.Add([]byte(s))
	}
	for _, s := range []string{
		"", "~", "server: 5", "server:\n  listen: [\n", "a: &a [*a]", "server:\n  mysql:\n    port: 0x10\n",
		"log: &l\n  level: info\nclient: *l\n", "- - -", "{server: {redis: {hosts: [a:1, 'srv+x']}}}",
		"server:\n  listen: ''\n  url: 'http://[::1]:80'\n", "---\n---\n", "server: !!binary aGVsbG8=",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c, err)
		}
		if err != nil {
			var es config.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not a non-empty config.Errors", err, err)
			}
			for _, e := range es {
				if e.Problem == "" || e.Source.Kind != config.SourceFile && e.Source.Kind != config.SourceDefault {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		// What loaded is normalised: given again as flags, it loads unchanged.
		flags := map[string]string{
			"listen": c.Server.Listen, "listen-agent": c.Server.ListenAgent, "url": c.Server.URL,
			"location": c.Server.Location, "log-level": c.Log.Level,
			"resolver-nameservers": strings.Join(c.Resolver.Nameservers, ","),
		}
		again, err := config.Load(config.Options{Env: envOf(map[string]string{"KNOT_CONFIG": os.DevNull}), Flags: flags})
		if err != nil {
			t.Fatalf("loaded values do not load again: %v", err)
		}
		if again.Server.Listen != c.Server.Listen || again.Server.URL != c.Server.URL || again.Log.Level != c.Log.Level ||
			!reflect.DeepEqual(again.Resolver.Nameservers, c.Resolver.Nameservers) && len(c.Resolver.Nameservers) > 0 {
			t.Fatalf("normalised values change when loaded again: %+v then %+v", c, again)
		}
	})
}
