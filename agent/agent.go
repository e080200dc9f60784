// Package agent is knot's agent inside a space: it finds its leaf, proves
// which space it serves, keeps one multiplexed link to the leaf, reports
// its state, and serves terminals over that link.
//
// Decisions:
//
//   - The endpoint is host:port or srv+name. A srv+ name is resolved again
//     before every dial (shared/srv caches answers for their TTL), and the
//     targets are tried in the order the SRV records give.
//   - The link is TLS, and the leaf is verified by the pinned SHA-256
//     fingerprint of its certificate (or a CA file); an agent given neither
//     refuses to start rather than trust any server.
//   - The agent speaks first (agentwire.Hello with its space id and token);
//     a refusal is logged with the leaf's reason and retried with backoff,
//     as a leaf may not yet know a space it has just started.
//   - After the Welcome both sides run yamux over the connection, the agent
//     as client (hashicorp/yamux: streams with flow control and keepalives,
//     so one slow terminal does not stall the others). The agent opens one
//     state stream and sends its State at once and at every heartbeat the
//     leaf asked for; the leaf opens ping, sessions, terminal and port
//     streams. A port stream reaches 127.0.0.1:PORT in the space, any port
//     (the leaf decides who may open one), at most MaxPortStreams at once.
//     An SSH stream goes to the image's own sshd when Options.SSHPort names
//     one that answers, and to the agent's SSH server otherwise (sshd.go).
//   - The link runs over agentwire.LinkConn, which sends what crypto/tls
//     and yamux would write in pieces with one write to the socket.
//   - When HTTPS_PROXY or https_proxy names a proxy for the leaf's address
//     (NO_PROXY and no_proxy as net/http reads them), the agent opens an
//     HTTP CONNECT tunnel through it and does TLS with the leaf inside, so
//     the pinned fingerprint still holds. An SRV target goes to the proxy
//     by its host name and port, not by the address the agent resolved,
//     so a proxy that allows hosts by name lets it through (and NO_PROXY
//     may name it). A refusal names the proxy and its status and is
//     retried with backoff like any failed dial.
//   - Reconnects wait a random time between 0 and a backoff that doubles
//     from MinBackoff up to MaxBackoff (full jitter), and start again from
//     MinBackoff once a link was up.
//   - Terminal sessions belong to the agent, not to a link: a link that
//     breaks detaches its viewers, and each session is kept KeepSessions
//     after its last viewer left, with a replay buffer of ReplayBytes, so a
//     viewer can reattach through a new link.
//   - Shells and commands get the agent's environment without
//     KNOT_AGENT_TOKEN: the credential stays with the agent.
//
// Goroutines: Run owns the link loop; each link owns its state sender and
// stream handlers and waits for them before Run dials again; the terminal
// sessions' goroutines are waited for when Run returns.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/srv"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// Defaults of Options.
const (
	DefaultKeepSessions = 10 * time.Minute
	DefaultReplayBytes  = 256 << 10
	MinReplayBytes      = 64 << 10
	DefaultHeartbeat    = 10 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	// DefaultMaxBackoff caps the wait so that the agents of a leaf that
	// was down for a while are back within seconds of its return (a dial
	// is cheap: 1,000 agents at this cap dial about 500 times a second).
	DefaultMaxBackoff = 4 * time.Second
)

// Options configure an Agent.
type Options struct {
	// Endpoint is the leaf's agent listener: host:port or srv+name.
	Endpoint string
	// SpaceID and Token say which space the agent serves and prove it.
	SpaceID, Token string
	// Fingerprint pins the SHA-256 fingerprint of the leaf's certificate;
	// CAFile names the CA that signs it. One of them is required.
	Fingerprint, CAFile string
	// Nameservers answer srv+ lookups; empty uses the system resolver.
	Nameservers []string
	// Version is reported to the leaf.
	Version string
	// KeepSessions is how long a terminal session lives after its last
	// viewer left; 0 means DefaultKeepSessions.
	KeepSessions time.Duration
	// ReplayBytes is the size of each session's replay buffer; 0 means
	// DefaultReplayBytes, and less than MinReplayBytes is raised to it.
	ReplayBytes int
	// MinBackoff and MaxBackoff bound the wait between dials; 0 means the
	// defaults.
	MinBackoff, MaxBackoff time.Duration
	// Proxy names the HTTP proxy to tunnel to a leaf address through
	// (CONNECT), or nil to dial directly; nil means ProxyFromEnvironment.
	// For an SRV target it is asked about the address and then about the
	// target's host name with the port: the agent tunnels when both name a
	// proxy (the one named for the host), and asks it for the host name.
	Proxy func(addr string) (*url.URL, error)
	// SyslogAddr is the UDP address of the local syslog (127.0.0.1:514),
	// SyslogSocket the path of its unixgram socket (/dev/log), and
	// IntakeAddr the address of the HTTP log intake; "" leaves each out.
	// Their lines, and the agent's own log, go to the space's log.
	SyslogAddr, SyslogSocket, IntakeAddr string
	// LogQueue bounds the lines waiting for the leaf, and LogRate the lines
	// a second syslog and the intake each take; 0 means the defaults.
	LogQueue, LogRate int
	// SSHPort is the port on 127.0.0.1 of the image's own sshd: SSH
	// connections go to it while something answers there, and to the
	// agent's own SSH server otherwise. 0 means the agent serves them all.
	SSHPort int
	// AuthorizedKeysFile is the authorized_keys of that sshd, where the
	// agent keeps the public keys of the space's owner in a marked block
	// (see WriteAuthorizedKeys); "" keeps none. Only with SSHPort.
	AuthorizedKeysFile string
	// Logger; nil means slog.Default(). Its records are also forwarded
	// to the space's log.
	Logger *slog.Logger
}

// Agent is the agent of one space. Run it.
type Agent struct {
	opts     Options
	tls      *tls.Config
	resolver *srv.Resolver
	log      *slog.Logger
	sessions *sessions
	ports    ports
	logs     *logQueue

	mu    sync.Mutex
	state string   // guarded by mu; "" until the first link
	sshd  sshdKeys // guarded by mu: the host keys of the image's sshd (sshd.go)
}

// New checks opts and returns an Agent. Errors name the option.
func New(opts Options) (*Agent, error) {
	switch {
	case opts.Endpoint == "":
		return nil, errors.New("agent endpoint: none given (KNOT_AGENT_ENDPOINT)")
	case opts.SpaceID == "":
		return nil, errors.New("agent space id: none given (KNOT_SPACE_ID)")
	case opts.Token == "":
		return nil, errors.New("agent token: none given (KNOT_AGENT_TOKEN)")
	case opts.Fingerprint == "" && opts.CAFile == "":
		return nil, errors.New("agent fingerprint: none given (KNOT_AGENT_FINGERPRINT): the agent verifies its leaf by the fingerprint of its certificate or by a CA file")
	}
	if !strings.HasPrefix(opts.Endpoint, srv.Prefix) {
		if _, _, err := net.SplitHostPort(opts.Endpoint); err != nil {
			return nil, fmt.Errorf("agent endpoint %q: must be host:port or srv+name: %v", opts.Endpoint, err)
		}
	}
	tc, err := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: opts.Fingerprint, CAFile: opts.CAFile})
	if err != nil {
		return nil, fmt.Errorf("agent TLS: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogQueue <= 0 {
		opts.LogQueue = DefaultLogQueue
	}
	if opts.LogRate <= 0 {
		opts.LogRate = DefaultLogRate
	}
	logs := newLogQueue(opts.LogQueue)
	opts.Logger = slog.New(newForwardHandler(opts.Logger.Handler(), logs))
	r, err := srv.New(srv.Options{Nameservers: opts.Nameservers, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("agent nameservers: %w", err)
	}
	if opts.Proxy == nil {
		opts.Proxy = ProxyFromEnvironment()
	}
	if opts.SSHPort < 0 || opts.SSHPort > 65535 {
		return nil, fmt.Errorf("agent ssh port %d: must be 0 (none) or a port from 1 to 65535 (KNOT_SSH_PORT)", opts.SSHPort)
	}
	if opts.KeepSessions <= 0 {
		opts.KeepSessions = DefaultKeepSessions
	}
	if opts.ReplayBytes == 0 {
		opts.ReplayBytes = DefaultReplayBytes
	}
	opts.ReplayBytes = max(opts.ReplayBytes, MinReplayBytes)
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	return &Agent{
		opts: opts, tls: tc, resolver: r, log: opts.Logger.With("space_id", opts.SpaceID), logs: logs,
		sessions: newSessions(opts.KeepSessions, opts.ReplayBytes, shellEnv(os.Environ())),
	}, nil
}

// shellEnv returns env without the agent's credential.
func shellEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "KNOT_AGENT_TOKEN=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Run keeps the link to the leaf until ctx ends, then ends the terminal
// sessions and returns nil.
func (a *Agent) Run(ctx context.Context) error {
	defer a.sessions.close()
	stopIntake := a.startLogSources()
	defer stopIntake()
	backoff := a.opts.MinBackoff
	for {
		up, err := a.linkOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			backoff = a.opts.MinBackoff
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		a.log.Warn("agent link down; dialling again", "err", err, "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, a.opts.MaxBackoff)
	}
}

// endpoint is one place the leaf listens: addr is the host:port to dial
// (for an SRV target, one address of its host), and name is the SRV
// target's host name with the port, which a proxy is asked to reach
// instead; name is "" for a configured host:port and a target that is an
// IP address.
type endpoint struct{ addr, name string }

// targets returns the endpoints to dial, best first.
func (a *Agent) targets(ctx context.Context) ([]endpoint, error) {
	name, ok := strings.CutPrefix(a.opts.Endpoint, srv.Prefix)
	if !ok {
		return []endpoint{{addr: a.opts.Endpoint}}, nil
	}
	ts, err := a.resolver.LookupSRV(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]endpoint, len(ts))
	for i, t := range ts {
		out[i].addr = t.String()
		if _, err := netip.ParseAddr(t.Host); err != nil {
			out[i].name = net.JoinHostPort(t.Host, strconv.Itoa(int(t.Addr.Port())))
		}
	}
	return out, nil
}

// dial resolves the endpoint and returns the first connection that
// completes TLS. Through a proxy, an SRV target is reached by its host
// name, once for all its addresses: the proxy resolves it.
func (a *Agent) dial(ctx context.Context) (*agentwire.LinkConn, error) {
	eps, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	tried := map[string]bool{}
	for _, e := range eps {
		proxy, err := a.proxyFor(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: choosing a proxy: %w", e.addr, err))
			continue
		}
		to := e.addr
		if proxy != nil && e.name != "" {
			to = e.name
		}
		if tried[to] {
			continue
		}
		tried[to] = true
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := a.dialTLS(dctx, proxy, to, e.addr)
		cancel()
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", to, err))
	}
	return nil, errors.Join(errs...)
}

// linkOnce dials, registers and serves one link until it ends. It reports
// whether the leaf accepted the agent.
func (a *Agent) linkOnce(ctx context.Context) (bool, error) {
	conn, err := a.dial(ctx)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if err := agentwire.WriteJSON(conn, agentwire.Hello{SpaceID: a.opts.SpaceID, Token: a.opts.Token, Version: a.opts.Version}); err != nil {
		conn.Close()
		return false, err
	}
	var w agentwire.Welcome
	if err := agentwire.ReadJSON(conn, &w); err != nil {
		conn.Close()
		return false, fmt.Errorf("reading the leaf's answer: %w", err)
	}
	if !w.OK {
		conn.Close()
		return false, fmt.Errorf("the leaf refused the agent: %s", w.Error)
	}
	conn.SetDeadline(time.Time{})
	mux, err := yamux.Client(conn.Mux(), muxConfig())
	if err != nil {
		conn.Close()
		return false, err
	}
	a.setState("ready")
	a.log.Info("agent linked to its leaf", "leaf", conn.RemoteAddr().String(), "leaf_version", w.Version)
	err = a.serve(ctx, mux, w.Heartbeat(DefaultHeartbeat))
	return true, err
}

// muxConfig is the yamux configuration of both sides.
func muxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.KeepAliveInterval = 15 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	c.StreamOpenTimeout = 10 * time.Second
	c.StreamCloseTimeout = time.Minute
	c.LogOutput = io.Discard
	return c
}

func (a *Agent) setState(s string) {
	a.mu.Lock()
	a.state = s
	a.mu.Unlock()
}

func (a *Agent) currentState() agentwire.State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return agentwire.State{Version: a.opts.Version, State: a.state, Sessions: a.sessions.count(),
		AuthorizedKeys: a.opts.SSHPort > 0 && a.opts.AuthorizedKeysFile != "", SSHDHostKeys: a.sshd.keys}
}

// serve runs a link: the state stream and the streams the leaf opens.
func (a *Agent) serve(ctx context.Context, mux *yamux.Session, heartbeat time.Duration) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer mux.Close()
	stateOpen := make(chan struct{})
	wg.Go(func() {
		select {
		case <-stateOpen:
			a.sendLogs(ctx, mux)
		case <-mux.CloseChan():
		}
	})
	wg.Go(func() {
		if err := a.report(ctx, mux, heartbeat, stateOpen); err != nil && !mux.IsClosed() {
			a.log.Warn("agent state stream ended", "err", err)
		}
		mux.Close()
	})
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return err
		}
		wg.Go(func() { a.handle(st) })
	}
}

// report sends the agent's state at once and at every heartbeat.
// It closes opened once the state stream is open.
func (a *Agent) report(ctx context.Context, mux *yamux.Session, every time.Duration, opened chan<- struct{}) error {
	st, err := mux.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenState}); err != nil {
		return err
	}
	close(opened)
	t := time.NewTicker(every)
	defer t.Stop()
	// The image's sshd's host keys are looked at beside the heartbeats
	// (a handshake may take seconds, longer than the leaf waits for a
	// heartbeat) and told at once when they changed.
	keys := make(chan struct{}, 1)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go a.watchSSHD(pctx, every, keys)
	for {
		if err := agentwire.WriteJSON(st, a.currentState()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-mux.CloseChan():
			return nil
		case <-t.C:
		case <-keys:
		}
	}
}

// watchSSHD looks at the image's sshd's host keys when due (probeSSHD),
// checking every heartbeat, and sends on changed when they changed, until
// ctx ends.
func (a *Agent) watchSSHD(ctx context.Context, every time.Duration, changed chan<- struct{}) {
	if a.opts.SSHPort <= 0 {
		return
	}
	shared.Every(ctx, every, true, func() {
		if a.probeSSHD(time.Now()) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
}

// handle serves one stream the leaf opened.
func (a *Agent) handle(st *yamux.Stream) {
	defer st.Close()
	st.SetReadDeadline(time.Now().Add(15 * time.Second))
	var o agentwire.Open
	if err := agentwire.ReadJSON(st, &o); err != nil {
		a.log.Warn("agent: the leaf opened a stream with a bad first frame; closing it", "err", err)
		return
	}
	st.SetReadDeadline(time.Time{})
	switch o.Type {
	case agentwire.OpenPing:
		agentwire.WriteJSON(st, agentwire.Pong{OK: true})
	case agentwire.OpenSessions:
		agentwire.WriteJSON(st, agentwire.SessionList{Sessions: a.sessions.list()})
	case agentwire.OpenTerminal:
		a.sessions.serveTerminal(st, o.Terminal)
	case agentwire.OpenSSH:
		a.serveSSH(st, o.SSH)
	case agentwire.OpenPort:
		a.servePort(st, o.Port)
	case agentwire.OpenKeys:
		if a.opts.SSHPort > 0 {
			a.keepKeys(o.Keys.Keys)
		}
	default:
		a.log.Warn("agent: the leaf opened a stream the agent does not serve", "type", o.Type)
	}
}
