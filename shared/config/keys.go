package config

import (
	"strings"
)

// key describes one configuration key. The table below is the only list of
// keys: file decoding, environment variables, flags, the reference and the
// scaffold files are all derived from it.
type key struct {
	path string
	typ  *valueType
	// def is the default as text (lists comma-separated); "" is the zero
	// value. defFunc, when set, computes it at load.
	def     string
	defFunc func(o *Options) string
	doc     string
	// required keys may not be set to an empty value.
	required bool
	// secret values are never quoted back in errors.
	secret bool
	// env overrides the derived variable name.
	env string
	// example is the value shown in scaffold files; "" shows def.
	example string
	// commented keys appear commented out in scaffold files.
	commented bool
	// field returns a pointer to the key's field: *string, *bool, *int or
	// *[]string, matching typ.kind.
	field func(c *Config) any
}

// sections lists every section, in order, with the comment scaffold files
// print above it.
var sections = []struct{ path, doc string }{
	{"server", "Server configuration (knot server, knot admin)"},
	{"server.terminal", "Web terminal"},
	{"server.totp", "Two-factor login with TOTP codes from an authenticator app"},
	{"server.tls", "TLS of the web listener, and how a leaf verifies its origin"},
	{"server.mysql", "MySQL storage"},
	{"server.badgerdb", "BadgerDB storage, the default when no other storage is enabled"},
	{"server.redis", "Redis storage"},
	{"server.memorydb", "In-memory storage: everything is lost when the server stops"},
	{"server.nomad", "Nomad, for templates that run as Nomad jobs"},
	{"server.docker", "Docker, for container templates"},
	{"server.podman", "Podman, for container templates"},
	{"resolver", "DNS servers for srv+ names; the system resolver when neither list is set"},
	{"log", "Logging"},
	{"client", "Client configuration (commands that talk to a knot server)"},
	{"agent", "Agent configuration (knot agent inside a space)"},
}

var keys = []key{
	// server
	{path: "server.listen", typ: tListen, def: "127.0.0.1:3000", required: true,
		doc:   "Address and port the web interface and API listen on: host:port (http://host:port is accepted).",
		field: func(c *Config) any { return &c.Server.Listen }},
	{path: "server.listen_agent", typ: tListen, def: "127.0.0.1:3010", required: true,
		doc:   "Address and port agents in spaces connect to.",
		field: func(c *Config) any { return &c.Server.ListenAgent }},
	{path: "server.agent_endpoint", typ: tEndpoint, env: "KNOT_SERVER_AGENT_ENDPOINT",
		doc:     "Address agents in spaces are given to reach this server: host:port, or srv+name for a DNS SRV lookup. Empty means server.listen_agent.",
		example: "srv+knot-server-agent.service.consul", commented: true,
		field: func(c *Config) any { return &c.Server.AgentEndpoint }},
	{path: "server.url", typ: tURL, def: "http://127.0.0.1:3000", required: true,
		doc:   "Public URL of this server, as browsers reach it.",
		field: func(c *Config) any { return &c.Server.URL }},
	{path: "server.wildcard_domain", typ: tWildcard,
		doc:     "Domain under which the web ports of spaces (their templates' http_ports) are served, as USER--SPACE--PORT.example.com for *.example.com; its names must reach this server. Empty serves them under /proxy/spaces/ only.",
		example: "*.example.com", commented: true,
		field: func(c *Config) any { return &c.Server.WildcardDomain }},
	{path: "server.disable_proxy", typ: tBool, def: "false",
		doc:   "Turn off forwarded ports (knot forward port) and the web ports of spaces (403): at this server, and for this server's spaces when another server relays them here.",
		field: func(c *Config) any { return &c.Server.DisableProxy }},
	{path: "server.encrypt", typ: tEncrypt, secret: true, commented: true,
		doc:   "Key that encrypts protected template variables and TOTP secrets: 32 characters, the same on every server (make one with knot genkey).",
		field: func(c *Config) any { return &c.Server.Encrypt }},
	{path: "server.totp.enabled", typ: tBool, def: "false",
		doc:   "Make every password login need a TOTP code; a user without a secret is given one at the next login at the origin. Needs server.encrypt, which seals the secrets; set it alike on every server.",
		field: func(c *Config) any { return &c.Server.TOTP.Enabled }},
	{path: "server.totp.window", typ: tTOTPWindow, def: "1",
		doc:   "How many 30-second steps before and after the current one a TOTP code may be from, for clocks that drift.",
		field: func(c *Config) any { return &c.Server.TOTP.Window }},
	{path: "server.totp.issuer", typ: tString, def: "Knot", required: true,
		doc:   "Name of this service in authenticator apps.",
		field: func(c *Config) any { return &c.Server.TOTP.Issuer }},
	{path: "server.audit_retention", typ: tDays, def: "90",
		doc:   "Days audit log events are kept; older ones are deleted every hour. 0 keeps them forever.",
		field: func(c *Config) any { return &c.Server.AuditRetention }},
	{path: "server.session_max_age", typ: tDuration, def: "168h",
		doc:   "Longest a login session lasts, however often it is used, as a Go duration (such as 168h or 12h30m). A session also ends 2 hours after its last use.",
		field: func(c *Config) any { return &c.Server.SessionMaxAge }},
	{path: "server.location", typ: tLocation, defFunc: defaultLocation, required: true,
		doc:     "Name of this server's location; defaults to the short host name. Every origin and leaf needs its own; a leaf on a user's API token serves user:USERNAME.",
		example: "myservers", commented: true,
		field: func(c *Config) any { return &c.Server.Location }},
	{path: "server.shared_token", typ: tString, secret: true, commented: true,
		doc:   "Secret shared by an origin and its leaves (make one with knot gen-server-key). Set without server.origin_server, this server is an origin.",
		field: func(c *Config) any { return &c.Server.SharedToken }},
	{path: "server.enable_leaf_api_tokens", typ: tBool, def: "false",
		doc:     "On an origin, let leaves connect with a user's API token in place of the shared token; such a leaf sees only that user's data.",
		example: "true", commented: true,
		field: func(c *Config) any { return &c.Server.EnableLeafAPITokens }},
	{path: "server.leaf_forget_after", typ: tDuration, def: "24h",
		doc:   "On an origin, how long the fleet view keeps a leaf node after it disconnected, as a duration such as 24h or 90m.",
		field: func(c *Config) any { return &c.Server.LeafForgetAfter }},
	{path: "server.metrics_token", typ: tString, secret: true, commented: true,
		doc:   "Token that GET /metrics then asks for as Authorization: Bearer <token>; empty leaves /metrics open to anyone.",
		field: func(c *Config) any { return &c.Server.MetricsToken }},
	{path: "server.origin_server", typ: tOriginURL,
		doc:     "URL of the origin server: http(s)://host[:port] or srv+http(s)://name. Set together with server.shared_token, this server is a leaf.",
		example: "https://knot-origin.example.com:3000", commented: true,
		field: func(c *Config) any { return &c.Server.OriginServer }},

	{path: "server.tls.cert_file", typ: tPath, env: "KNOT_CERT_FILE", commented: true, example: "/etc/knot/cert.pem",
		doc:   "PEM certificate (its chain may follow it) the web listener serves over TLS; needs server.tls.key_file, and turns TLS on.",
		field: func(c *Config) any { return &c.Server.TLS.CertFile }},
	{path: "server.tls.key_file", typ: tPath, env: "KNOT_KEY_FILE", commented: true, example: "/etc/knot/key.pem",
		doc:   "PEM private key of server.tls.cert_file.",
		field: func(c *Config) any { return &c.Server.TLS.KeyFile }},
	{path: "server.tls.use_tls", typ: tBool, def: "false", env: "KNOT_USE_TLS",
		doc:   "Serve the web listener over TLS. Without server.tls.cert_file the certificate is self-signed, for the host of server.url, localhost, 127.0.0.1, ::1 and server.wildcard_domain, and kept in the directory that holds server.badgerdb.path.",
		field: func(c *Config) any { return &c.Server.TLS.UseTLS }},
	{path: "server.tls.origin_ca_file", typ: tPath, commented: true, example: "/etc/knot/origin-ca.pem",
		doc:   "On a leaf, PEM file of the CA certificates that verify the origin's certificate, in place of the system's roots.",
		field: func(c *Config) any { return &c.Server.TLS.OriginCAFile }},
	{path: "server.tls.origin_fingerprint", typ: tFingerprint, commented: true,
		example: "EC:58:0D:1E:23:5C:BA:20:89:CC:0D:C6:22:7D:D7:07:93:D5:86:40:8B:40:A1:32:C8:4C:F6:3A:E1:7B:B2:D2",
		doc:     "On a leaf, the SHA-256 fingerprint of the origin's certificate (knot server --print-fingerprint on the origin shows it): only that certificate is accepted.",
		field:   func(c *Config) any { return &c.Server.TLS.OriginFingerprint }},

	{path: "server.mysql.enabled", typ: tBool, def: "false",
		doc:   "Store data in MySQL or MariaDB.",
		field: func(c *Config) any { return &c.Server.MySQL.Enabled }},
	{path: "server.mysql.host", typ: tHostOrSRV, def: "localhost", required: true,
		doc:   "MySQL host; srv+name looks up host and port with DNS SRV.",
		field: func(c *Config) any { return &c.Server.MySQL.Host }},
	{path: "server.mysql.port", typ: tPort, def: "3306",
		doc:   "MySQL port.",
		field: func(c *Config) any { return &c.Server.MySQL.Port }},
	{path: "server.mysql.user", typ: tString, def: "root", required: true,
		doc:   "MySQL user.",
		field: func(c *Config) any { return &c.Server.MySQL.User }},
	{path: "server.mysql.password", typ: tString, secret: true,
		doc:   "MySQL password.",
		field: func(c *Config) any { return &c.Server.MySQL.Password }},
	{path: "server.mysql.database", typ: tDBName, def: "knot", required: true,
		doc:   "MySQL database.",
		field: func(c *Config) any { return &c.Server.MySQL.Database }},

	{path: "server.badgerdb.enabled", typ: tBool, def: "false",
		doc:   "Store data in BadgerDB, an embedded database (also used when no storage is enabled).",
		field: func(c *Config) any { return &c.Server.BadgerDB.Enabled }},
	{path: "server.badgerdb.path", typ: tPath, def: "./data/badger", required: true,
		doc:   "Directory of the BadgerDB database.",
		field: func(c *Config) any { return &c.Server.BadgerDB.Path }},
	{path: "server.badgerdb.min_free", typ: tSize, def: "256MiB", required: true,
		doc:   "Free space the database keeps on its disk: below it, writes fail with 507 Insufficient Storage, /ready fails, and the server does not start; 0 turns the check off.",
		field: func(c *Config) any { return &c.Server.BadgerDB.MinFree }},

	{path: "server.redis.enabled", typ: tBool, def: "false",
		doc:   "Store data in Redis.",
		field: func(c *Config) any { return &c.Server.Redis.Enabled }},
	{path: "server.redis.hosts", typ: tRedisHosts, def: "localhost:6379",
		doc:   "Redis servers: host:port, or srv+name for a DNS SRV lookup.",
		field: func(c *Config) any { return &c.Server.Redis.Hosts }},
	{path: "server.redis.password", typ: tString, secret: true,
		doc:   "Redis password.",
		field: func(c *Config) any { return &c.Server.Redis.Password }},
	{path: "server.redis.db", typ: tDBNum, def: "0",
		doc:   "Redis database number.",
		field: func(c *Config) any { return &c.Server.Redis.DB }},

	{path: "server.memorydb.enabled", typ: tBool, def: "false",
		doc:   "Keep data in memory only.",
		field: func(c *Config) any { return &c.Server.MemoryDB.Enabled }},

	{path: "server.nomad.addr", typ: tURL, def: "http://127.0.0.1:4646",
		doc:   "Nomad HTTP API address.",
		field: func(c *Config) any { return &c.Server.Nomad.Addr }},
	{path: "server.nomad.token", typ: tString, secret: true,
		doc:   "Nomad ACL token.",
		field: func(c *Config) any { return &c.Server.Nomad.Token }},

	{path: "server.docker.host", typ: tEngineHost,
		doc:     "Docker API address: unix:///path or tcp://host:port. Empty uses DOCKER_HOST, else the local socket.",
		example: "unix:///var/run/docker.sock", commented: true,
		field: func(c *Config) any { return &c.Server.Docker.Host }},
	{path: "server.podman.host", typ: tEngineHost,
		doc:     "Podman API address: unix:///path or tcp://host:port. Empty uses the local Podman socket.",
		example: "unix:///run/podman/podman.sock", commented: true,
		field: func(c *Config) any { return &c.Server.Podman.Host }},

	// resolver
	{path: "resolver.consul", typ: tConsul,
		doc:     "Consul DNS servers for *.consul names: host[:port], port 8600 when none is given.",
		example: "127.0.0.1:8600", commented: true,
		field: func(c *Config) any { return &c.Resolver.Consul }},
	{path: "resolver.nameservers", typ: tNameserver,
		doc:     "DNS servers for every other name: host[:port], port 53 when none is given.",
		example: "127.0.0.1:53", commented: true,
		field: func(c *Config) any { return &c.Resolver.Nameservers }},

	// log
	{path: "log.level", typ: tLevel, def: "info", required: true,
		doc:   "Log level: debug, info, warn or error.",
		field: func(c *Config) any { return &c.Log.Level }},

	// client
	{path: "client.server", typ: tURL, env: "KNOT_SERVER",
		doc:     "URL of the knot server.",
		example: "http://127.0.0.1:3000",
		field:   func(c *Config) any { return &c.Client.Server }},
	{path: "client.token", typ: tString, secret: true, env: "KNOT_TOKEN",
		doc:   "API token for the server (create one in the web interface).",
		field: func(c *Config) any { return &c.Client.Token }},
	{path: "client.tls_skip_verify", typ: tBool, def: "false", env: "KNOT_TLS_SKIP_VERIFY",
		doc:   "Accept any certificate of the server, so that whoever answers in its place gets the token: prefer client.tls_ca_file or client.tls_fingerprint.",
		field: func(c *Config) any { return &c.Client.TLSSkipVerify }},
	{path: "client.tls_ca_file", typ: tPath, env: "KNOT_TLS_CA_FILE",
		doc:   "PEM file of the CA certificates that verify the server's certificate, in place of the system's roots.",
		field: func(c *Config) any { return &c.Client.TLSCAFile }},
	{path: "client.tls_fingerprint", typ: tFingerprint, env: "KNOT_TLS_FINGERPRINT",
		doc:   "SHA-256 fingerprint of the server's certificate (knot server --print-fingerprint shows it): only that certificate is accepted.",
		field: func(c *Config) any { return &c.Client.TLSFingerprint }},

	// agent
	{path: "agent.endpoint", typ: tEndpoint,
		doc:     "Address of the leaf's agent listener: host:port, or srv+name for a DNS SRV lookup.",
		example: "127.0.0.1:3010",
		field:   func(c *Config) any { return &c.Agent.Endpoint }},
	{path: "agent.space_id", typ: tString, env: "KNOT_SPACE_ID",
		doc:   "Id of the space the agent runs in.",
		field: func(c *Config) any { return &c.Agent.SpaceID }},
	{path: "agent.token", typ: tString, secret: true, env: "KNOT_AGENT_TOKEN",
		doc:   "The agent's credential for its space.",
		field: func(c *Config) any { return &c.Agent.Token }},
	{path: "agent.fingerprint", typ: tFingerprint, env: "KNOT_AGENT_FINGERPRINT",
		doc:   "SHA-256 fingerprint of the leaf's agent listener certificate (knot server --print-fingerprint shows it): the agent accepts only that certificate.",
		field: func(c *Config) any { return &c.Agent.Fingerprint }},
	{path: "agent.terminal_keep", typ: tDuration, def: "10m", env: "KNOT_AGENT_TERMINAL_KEEP",
		doc:   "How long the agent keeps a terminal session, and its last output, after its last viewer left, as a duration such as 10m or 1h.",
		field: func(c *Config) any { return &c.Agent.TerminalKeep }},
	{path: "agent.nameservers", typ: tNameserver,
		doc:     "DNS servers for srv+ lookups: host[:port], port 53 when none is given. Empty uses the system resolver.",
		example: "127.0.0.1:53", commented: true,
		field: func(c *Config) any { return &c.Agent.Nameservers }},
	{path: "agent.syslog_port", typ: tPortOrOff, def: "514", env: "KNOT_SYSLOG_PORT",
		doc:   "UDP port on 127.0.0.1 where the agent takes syslog messages (rsyslog forwarding) into the space's log; 0 turns it off.",
		field: func(c *Config) any { return &c.Agent.SyslogPort }},
	{path: "agent.syslog_socket", typ: tPath,
		doc:     "Path of a unixgram socket where the agent takes syslog messages (/dev/log, where syslog(3) and logger write) into the space's log. Empty: none.",
		example: "/dev/log", commented: true,
		field: func(c *Config) any { return &c.Agent.SyslogSocket }},
	{path: "agent.log_file", typ: tPath,
		doc:   "A file the agent also writes its own log to, besides standard error. The container driver sets /proc/1/fd/2 (the container's standard error) for the agent it starts, so that the engine's log of the container, which knot shows when the agent does not connect, holds what the agent said. Empty: none.",
		field: func(c *Config) any { return &c.Agent.LogFile }},
	{path: "agent.api_port", typ: tPortOrOff, def: "12201", env: "KNOT_LOGS_PORT",
		doc:   "TCP port on 127.0.0.1 of the agent's HTTP log intake (POST /logs, POST /gelf), whose lines go into the space's log; 0 turns it off.",
		field: func(c *Config) any { return &c.Agent.APIPort }},
	{path: "agent.port.ssh", typ: tPortOrOff, def: "0", env: "KNOT_SSH_PORT",
		doc:   "TCP port on 127.0.0.1 of the image's own sshd: knot's SSH connections to the space go to it while something answers there, and to the agent's own SSH server otherwise. 0: the agent serves them all (docs/getting-into-a-space.md).",
		field: func(c *Config) any { return &c.Agent.SSHPort }},
	{path: "agent.update_authorized_keys", typ: tBool, def: "true", env: "KNOT_UPDATE_AUTHORIZED_KEYS",
		doc:   "With agent.port.ssh, keep the public keys of the space's owner in ~/.ssh/authorized_keys of the agent's user, between the lines #===KNOT-START=== and #===KNOT-END===, for that sshd; the rest of the file is left as it is.",
		field: func(c *Config) any { return &c.Agent.UpdateAuthorizedKeys }},
}

// envName returns the environment variable of k: KNOT_ and the key path,
// without "server.", in upper snake case.
func (k *key) envName() string {
	if k.env != "" {
		return k.env
	}
	p := strings.TrimPrefix(k.path, "server.")
	return "KNOT_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(p))
}

// flagName returns the flag of k: its variable name without KNOT_, in lower
// case with dashes.
func (k *key) flagName() string {
	n := strings.TrimPrefix(k.envName(), "KNOT_")
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

// section returns the path of the section k is in.
func (k *key) section() string {
	i := strings.LastIndexByte(k.path, '.')
	return k.path[:i]
}

// name returns the last element of k's path.
func (k *key) name() string {
	return k.path[strings.LastIndexByte(k.path, '.')+1:]
}

func (k *key) defaultText(o *Options) string {
	if k.defFunc != nil {
		return k.defFunc(o)
	}
	return k.def
}

func findKey(path string) *key {
	for i := range keys {
		if keys[i].path == path {
			return &keys[i]
		}
	}
	return nil
}

func isSection(path string) bool {
	for _, s := range sections {
		if s.path == path {
			return true
		}
	}
	return false
}

// Key describes a configuration key, for the command line and the
// reference.
type Key struct {
	// Path is the key's place in knot.yaml, such as "server.mysql.host".
	Path string
	// Env is the environment variable that sets it, such as KNOT_MYSQL_HOST.
	Env string
	// Flag is the flag that sets it, without dashes, such as "mysql-host".
	Flag string
	// Kind is the shape of the value. A ValueList flag takes a
	// comma-separated list or repeats.
	Kind ValueKind
	// Type describes the accepted values, such as "host:port".
	Type string
	// Default is the default as text; for server.location it is "the short
	// host name".
	Default string
	// Doc says what the key does.
	Doc string
	// Secret keys hold credentials.
	Secret bool
}

// Keys returns every key, in the order of the reference.
func Keys() []Key {
	out := make([]Key, 0, len(keys))
	for i := range keys {
		k := &keys[i]
		def := k.def
		if k.defFunc != nil {
			def = "the short host name"
		}
		out = append(out, Key{
			Path: k.path, Env: k.envName(), Flag: k.flagName(), Kind: k.typ.kind,
			Type: k.typ.name, Default: def, Doc: k.doc, Secret: k.secret,
		})
	}
	return out
}
