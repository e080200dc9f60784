// Package config reads knot's configuration: the knot.yaml file, the KNOT_*
// environment variables and the command-line flags, in that order of rising
// precedence, over built-in defaults. It is the only package that reads
// configuration files or KNOT_* variables; everything else receives a
// *Config.
//
// Every key is described once, in the key table (keys.go). The file decoder,
// the environment variable names, the flag names, the generated reference
// (keys.md) and the scaffold files (knot scaffold) are all derived from that
// table, so they cannot disagree.
//
// The names of knot's predecessor (paularlott/knot v0.17) are a second table
// (legacy.go), so that its knot.yaml, variables and flags start knot: a name
// for a key knot has sets that key through its checks, a key knot does not
// have is ignored, and each gives one Warning in Config.Warnings that the
// commands log. Nothing is mapped to a key whose meaning differs; every
// other unknown key stays an error.
package config

import (
	"log/slog"
	"time"
)

// Config is knot's configuration after loading. Values are validated and
// normalised: addresses are host:port, URLs have no trailing slash,
// nameservers carry a port.
type Config struct {
	Server   Server
	Resolver Resolver
	Log      Log
	Client   Client
	Agent    Agent

	// File is the configuration file that was read, "" when none was.
	File string
	// Warnings are the names of knot's predecessor that were accepted, in
	// the order found: each says what to use instead, or why it has no
	// effect. The commands log each once at start-up.
	Warnings []Warning
}

// Server holds the server.* keys, read by knot server and knot admin.
type Server struct {
	// Listen is the host:port of the web server and API (server.listen).
	Listen string
	// ListenAgent is the host:port agents connect to (server.listen_agent).
	ListenAgent string
	// AgentEndpoint is the address given to agents in spaces: host:port or
	// srv+name, not resolved at load (server.agent_endpoint). Empty means
	// ListenAgent; see AgentEndpointOrListen.
	AgentEndpoint string
	// URL is the public base URL of the server, http(s)://host[:port] without
	// a trailing slash (server.url).
	URL string
	// WildcardDomain is the domain pattern spaces' web ports are served on,
	// such as "*.example.com"; empty disables it (server.wildcard_domain).
	WildcardDomain string
	// DisableProxy turns off the port proxy (server.disable_proxy).
	DisableProxy bool
	// TOTP holds server.totp.*.
	TOTP TOTP
	// TLS holds server.tls.*.
	TLS TLS
	// Encrypt is the 32-character key that seals protected template
	// variables, empty for none (server.encrypt).
	Encrypt string
	// Location names this server's location; it defaults to the short host
	// name (server.location).
	Location string
	// SharedToken authenticates leaves to their origin (server.shared_token).
	SharedToken string
	// EnableLeafAPITokens lets leaves connect with a user API token in place
	// of the shared token (server.enable_leaf_api_tokens).
	EnableLeafAPITokens bool
	// LeafForgetAfter is how long an origin lists a disconnected leaf node,
	// a duration that time.ParseDuration reads (server.leaf_forget_after);
	// see LeafForgetAfterDuration.
	LeafForgetAfter string
	// MetricsToken is the bearer token GET /metrics requires, "" for none
	// (server.metrics_token).
	MetricsToken string
	// OriginServer is the origin's URL, http(s)://... or srv+http(s)://...,
	// not resolved at load; set on leaves only (server.origin_server).
	OriginServer string
	// AuditRetention is how many days audit events are kept, 0 for ever
	// (server.audit_retention).
	AuditRetention int
	// SessionMaxAge is the longest a login session lasts, a Go duration
	// checked at load (server.session_max_age); see SessionMaxAgeDuration.
	SessionMaxAge string

	MySQL    MySQL
	BadgerDB BadgerDB
	Redis    Redis
	MemoryDB MemoryDB
	Nomad    Nomad
	Docker   Docker
	Podman   Podman
}

// TOTP holds server.totp.*: two-factor login.
type TOTP struct {
	// Enabled makes password logins need a TOTP code; it needs
	// Server.Encrypt (server.totp.enabled).
	Enabled bool
	// Window is how many 30-second steps before and after the current one
	// a code may be from, 0 to 10 (server.totp.window).
	Window int
	// Issuer names the service in authenticator apps (server.totp.issuer).
	Issuer string
}

// TLS holds server.tls.*: the TLS of the web listener, and how a leaf
// verifies its origin.
type TLS struct {
	// CertFile and KeyFile name the PEM certificate and key the web
	// listener serves; set, they turn TLS on (server.tls.cert_file,
	// server.tls.key_file). A loaded Config has both or neither.
	CertFile, KeyFile string
	// UseTLS serves the web listener over TLS, with a self-signed
	// certificate when no CertFile is given (server.tls.use_tls).
	UseTLS bool
	// OriginCAFile names the PEM CA certificates that verify the origin,
	// in place of the system's roots (server.tls.origin_ca_file).
	OriginCAFile string
	// OriginFingerprint pins the SHA-256 fingerprint of the origin's
	// certificate, as tlsconf.Fingerprint writes it
	// (server.tls.origin_fingerprint).
	OriginFingerprint string
}

// Enabled reports whether the web listener serves TLS: a certificate file
// is given or use_tls is set.
func (t TLS) Enabled() bool { return t.UseTLS || t.CertFile != "" }

// MySQL holds server.mysql.*. Host may be srv+name.
type MySQL struct {
	Enabled  bool
	Host     string
	Port     int
	User     string
	Password string
	Database string
}

// BadgerDB holds server.badgerdb.*.
type BadgerDB struct {
	Enabled bool
	// Path is the directory of the database.
	Path string
	// MinFree is the free space the store keeps on its disk, a size
	// (MinFreeBytes).
	MinFree string
}

// Redis holds server.redis.*. Each host is host:port or srv+name.
type Redis struct {
	Enabled  bool
	Hosts    []string
	Password string
	DB       int
}

// MemoryDB holds server.memorydb.*.
type MemoryDB struct {
	Enabled bool
}

// Nomad holds server.nomad.*.
type Nomad struct {
	// Addr is the Nomad HTTP API base URL.
	Addr  string
	Token string
}

// Docker holds server.docker.*.
type Docker struct {
	// Host is the Docker API address (unix:///path or tcp://host:port);
	// empty means the Docker client's own default (DOCKER_HOST or the local
	// socket).
	Host string
}

// Podman holds server.podman.*.
type Podman struct {
	// Host is the Podman API address (unix:///path or tcp://host:port);
	// empty means the Podman driver's own default.
	Host string
}

// Resolver holds resolver.*: where srv+ names are looked up.
type Resolver struct {
	// Consul lists the host:port of Consul DNS servers, used for *.consul
	// names.
	Consul []string
	// Nameservers lists the host:port of DNS servers for every other name.
	// Neither set means the system resolver.
	Nameservers []string
}

// Log holds log.*.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string
}

// SlogLevel returns Level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Client holds client.*, used by the commands that talk to a server's API.
type Client struct {
	// Server is the server's base URL.
	Server string
	// Token is an API token.
	Token string
	// TLSSkipVerify accepts any certificate of the server
	// (client.tls_skip_verify). A loaded Config never has it with
	// TLSCAFile or TLSFingerprint.
	TLSSkipVerify bool
	// TLSCAFile names the PEM CA certificates that verify the server, in
	// place of the system's roots (client.tls_ca_file).
	TLSCAFile string
	// TLSFingerprint pins the SHA-256 fingerprint of the server's
	// certificate, as tlsconf.Fingerprint writes it
	// (client.tls_fingerprint).
	TLSFingerprint string
}

// Agent holds agent.*, read by knot agent inside a space.
type Agent struct {
	// Endpoint is the leaf's agent address: host:port or srv+name.
	Endpoint string
	// SpaceID is the id of the space the agent runs in.
	SpaceID string
	// Token is the agent's credential for its space.
	Token string
	// Nameservers lists the host:port of DNS servers for srv+ lookups.
	Nameservers []string
	// Fingerprint pins the SHA-256 fingerprint of the leaf's certificate.
	Fingerprint string
	// TerminalKeep is how long a terminal session outlives its last viewer,
	// a duration checked at load (agent.terminal_keep).
	TerminalKeep string
	// SyslogPort is the UDP port of the agent's syslog on 127.0.0.1, 0
	// for none; SyslogSocket the path of its unixgram socket, "" for
	// none.
	SyslogPort   int
	SyslogSocket string
	// LogFile is a file the agent also writes its own log to; "" for
	// none.
	LogFile string
	// APIPort is the TCP port of the agent's HTTP log intake on
	// 127.0.0.1, 0 for none.
	APIPort int
	// SSHPort is the port on 127.0.0.1 of the image's own sshd, 0 for
	// none (agent.port.ssh); UpdateAuthorizedKeys keeps the owner's keys
	// in its authorized_keys (agent.update_authorized_keys).
	SSHPort              int
	UpdateAuthorizedKeys bool
}

// Role is what a server is, decided by its configuration.
type Role string

// The roles of a server.
const (
	// RoleStandalone is an origin with a leaf for its own location in the
	// same process, taking no remote leaves: no shared_token, no
	// origin_server.
	RoleStandalone Role = "standalone"
	// RoleOrigin takes remote leaves: shared_token set, no origin_server.
	RoleOrigin Role = "origin"
	// RoleLeaf replicates from an origin: origin_server and shared_token set.
	RoleLeaf Role = "leaf"
)

// Role returns the server's role. A loaded Config never has origin_server
// without shared_token.
func (c *Config) Role() Role {
	switch {
	case c.Server.OriginServer != "":
		return RoleLeaf
	case c.Server.SharedToken != "":
		return RoleOrigin
	}
	return RoleStandalone
}

// StoreKind names a storage driver.
type StoreKind string

// The storage drivers.
const (
	StoreBadger StoreKind = "badger"
	StoreMemory StoreKind = "memory"
	StoreMySQL  StoreKind = "mysql"
	StoreRedis  StoreKind = "redis"
)

// Storage returns the storage driver to use: the one enabled, or badger (at
// Server.BadgerDB.Path) when none is. A loaded Config never has more than
// one enabled.
func (c *Config) Storage() StoreKind {
	switch {
	case c.Server.MySQL.Enabled:
		return StoreMySQL
	case c.Server.Redis.Enabled:
		return StoreRedis
	case c.Server.MemoryDB.Enabled:
		return StoreMemory
	}
	return StoreBadger
}

// LeafForgetAfterDuration returns server.leaf_forget_after as a duration,
// 0 when it is not set.
func (s Server) LeafForgetAfterDuration() time.Duration {
	d, _ := time.ParseDuration(s.LeafForgetAfter)
	return d
}

// AgentEndpointOrListen returns server.agent_endpoint, or server.listen_agent
// when the endpoint is not set.
func (s Server) AgentEndpointOrListen() string {
	if s.AgentEndpoint != "" {
		return s.AgentEndpoint
	}
	return s.ListenAgent
}

// TerminalKeepDuration returns agent.terminal_keep as a duration; 0 when
// it is empty.
func (a *Agent) TerminalKeepDuration() time.Duration {
	d, _ := time.ParseDuration(a.TerminalKeep)
	return d
}

// SessionMaxAgeDuration returns server.session_max_age as a duration; 0 when
// it is empty.
func (s *Server) SessionMaxAgeDuration() time.Duration {
	d, _ := time.ParseDuration(s.SessionMaxAge)
	return d
}
