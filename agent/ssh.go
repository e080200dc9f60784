package agent

// SSH: the agent serves real SSH (golang.org/x/crypto/ssh) on a stream the
// leaf opens (agentwire.OpenSSH), never on a port.
//
// Decisions:
//
//   - The leaf gives, with each connection, the space's host key and the
//     fingerprints of the keys of the knot user who opened it; the client
//     must prove one of them. The SSH user name is not checked: knot has
//     already said who the user is.
//   - Sessions run the user's shell (-l for a shell, -c for a command) in
//     the home directory, under a PTY when the client asks for one, with
//     the client's environment (bounded) and exit codes; the "sftp"
//     subsystem is served in-process by github.com/pkg/sftp, so scp (which
//     speaks SFTP) works on images without an sftp-server.
//   - direct-tcpip (-L) dials inside the space; tcpip-forward (-R) listens
//     inside the space on loopback only; agent forwarding (-A) puts a Unix
//     socket in a private temporary directory as SSH_AUTH_SOCK.
//   - Bounds: SSHMaxChannels channels and SSHMaxForwards -R listeners per
//     connection; a channel open over the bound is refused with
//     ResourceShortage and a reason, and a client that keeps opening more
//     than SSHMaxRefusals over the bound is disconnected.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/shared/agentwire"
)

// Bounds of one SSH connection.
const (
	SSHMaxChannels = 64
	SSHMaxForwards = 16
	SSHMaxRefusals = 256
	sshMaxEnv      = 64
	sshHandshake   = 30 * time.Second
)

// sshConn is one SSH connection the agent serves.
type sshConn struct {
	a     *Agent
	conn  *ssh.ServerConn
	shell string
	wg    sync.WaitGroup

	channels atomic.Int32
	refused  atomic.Int32

	mu       sync.Mutex
	forwards map[string]net.Listener // -R listeners by bind address; guarded by mu
}

// serveSSH runs one SSH connection over rw until it ends.
func (a *Agent) serveSSH(rw net.Conn, o *agentwire.SSH) {
	defer rw.Close()
	if a.toSSHD(rw, o) {
		return
	}
	cfg, err := sshServerConfig(o)
	if err != nil {
		agentwire.WriteJSON(rw, agentwire.Opened{Error: err.Error()})
		return
	}
	if err := agentwire.WriteJSON(rw, agentwire.Opened{ID: "ssh"}); err != nil {
		return
	}
	rw.SetDeadline(time.Now().Add(sshHandshake))
	conn, chans, reqs, err := ssh.NewServerConn(rw, cfg)
	if err != nil {
		a.log.Info("ssh: connection refused", "user", o.User, "remote", o.Remote, "err", err)
		return
	}
	rw.SetDeadline(time.Time{})
	a.log.Info("ssh: connection opened", "user", o.User, "remote", o.Remote, "key", conn.Permissions.Extensions["key"])
	c := &sshConn{a: a, conn: conn, shell: o.Shell, forwards: map[string]net.Listener{}}
	c.wg.Go(func() { c.globalRequests(reqs) })
	for nc := range chans {
		c.open(nc)
	}
	conn.Close()
	c.closeForwards()
	c.wg.Wait()
	a.log.Info("ssh: connection closed", "user", o.User, "remote", o.Remote)
}

// sshServerConfig returns the server's configuration for o.
func sshServerConfig(o *agentwire.SSH) (*ssh.ServerConfig, error) {
	signer, err := ssh.ParsePrivateKey([]byte(o.HostKey))
	if err != nil {
		return nil, fmt.Errorf("the space's host key does not parse: %v", err)
	}
	allowed := make(map[string]bool, len(o.Keys))
	for _, k := range o.Keys {
		allowed[k] = true
	}
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-knot",
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			fp := ssh.FingerprintSHA256(key)
			if !allowed[fp] {
				return nil, fmt.Errorf("key %s is not in the profile of knot user %s", fp, o.User)
			}
			return &ssh.Permissions{Extensions: map[string]string{"key": fp}}, nil
		},
	}
	cfg.AddHostKey(signer)
	return cfg, nil
}

// open serves or refuses one channel open.
func (c *sshConn) open(nc ssh.NewChannel) {
	if c.channels.Load() >= SSHMaxChannels {
		nc.Reject(ssh.ResourceShortage, fmt.Sprintf("knot: at most %d channels per connection", SSHMaxChannels))
		if c.refused.Add(1) > SSHMaxRefusals {
			c.a.log.Warn("ssh: a client kept opening channels over the bound; disconnecting it", "remote", c.conn.RemoteAddr().String())
			c.conn.Close()
		}
		return
	}
	switch nc.ChannelType() {
	case "session":
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		c.run(func() { c.session(ch, reqs) })
	case "direct-tcpip":
		var p struct {
			Host     string
			Port     uint32
			OrigHost string
			OrigPort uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil || p.Port == 0 || p.Port > 65535 || p.Host == "" {
			nc.Reject(ssh.ConnectionFailed, "knot: a direct-tcpip request needs a host and a port from 1 to 65535")
			return
		}
		addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
		// Dialled aside, so that a slow address does not hold up the
		// connection's other channel opens.
		c.run(func() {
			d := net.Dialer{Timeout: 10 * time.Second}
			tc, err := d.Dial("tcp", addr)
			if err != nil {
				nc.Reject(ssh.ConnectionFailed, fmt.Sprintf("knot: cannot connect to %s in the space: %v", addr, err))
				return
			}
			ch, reqs, err := nc.Accept()
			if err != nil {
				tc.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			pipe(ch, tc)
		})
	default:
		nc.Reject(ssh.UnknownChannelType, fmt.Sprintf("knot: channel type %q is not served", nc.ChannelType()))
	}
}

// run runs f as a counted channel of c.
func (c *sshConn) run(f func()) {
	c.channels.Add(1)
	c.wg.Go(func() {
		defer c.channels.Add(-1)
		f()
	})
}

// pipe copies between a channel and a connection until both directions
// end, then closes both.
func pipe(ch ssh.Channel, tc net.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(tc, ch)
		if cw, ok := tc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			tc.Close()
		}
	})
	io.Copy(ch, tc)
	ch.CloseWrite()
	wg.Wait()
	ch.Close()
	tc.Close()
}

// globalRequests serves tcpip-forward and cancel-tcpip-forward (-R) and
// refuses the rest.
func (c *sshConn) globalRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case "tcpip-forward":
			port, err := c.listen(r.Payload)
			if err != nil {
				c.a.log.Info("ssh: remote forward refused", "err", err)
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, ssh.Marshal(struct{ Port uint32 }{uint32(port)}))
		case "cancel-tcpip-forward":
			var p struct {
				Addr string
				Port uint32
			}
			if ssh.Unmarshal(r.Payload, &p) != nil {
				r.Reply(false, nil)
				continue
			}
			key := net.JoinHostPort(p.Addr, strconv.Itoa(int(p.Port)))
			c.mu.Lock()
			ln, ok := c.forwards[key]
			delete(c.forwards, key)
			c.mu.Unlock()
			if ok {
				ln.Close()
			}
			r.Reply(ok, nil)
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
}

// loopbackBind maps the bind address of a -R forward to a loopback
// address, or fails: the space's ports are not opened beyond it.
func loopbackBind(addr string) (string, error) {
	switch addr {
	case "", "localhost", "127.0.0.1":
		return "127.0.0.1", nil
	case "::1":
		return "::1", nil
	}
	return "", fmt.Errorf("knot listens for remote forwards on loopback only, not on %q", addr)
}

// listen opens the listener of a tcpip-forward request and returns its
// port.
func (c *sshConn) listen(payload []byte) (int, error) {
	var p struct {
		Addr string
		Port uint32
	}
	if err := ssh.Unmarshal(payload, &p); err != nil || p.Port > 65535 {
		return 0, errors.New("a bad tcpip-forward request")
	}
	host, err := loopbackBind(p.Addr)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	n := len(c.forwards)
	c.mu.Unlock()
	if n >= SSHMaxForwards {
		return 0, fmt.Errorf("at most %d remote forwards per connection", SSHMaxForwards)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(int(p.Port))))
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if p.Port == 0 {
		p.Port = uint32(port)
	}
	c.mu.Lock()
	c.forwards[net.JoinHostPort(p.Addr, strconv.Itoa(int(p.Port)))] = ln
	c.mu.Unlock()
	c.wg.Go(func() { c.acceptForward(ln, p.Addr, p.Port) })
	return port, nil
}

// acceptForward opens a forwarded-tcpip channel for each connection to ln.
func (c *sshConn) acceptForward(ln net.Listener, addr string, port uint32) {
	for {
		tc, err := ln.Accept()
		if err != nil {
			return
		}
		ra, _ := tc.RemoteAddr().(*net.TCPAddr)
		payload := ssh.Marshal(struct {
			Addr       string
			Port       uint32
			OriginAddr string
			OriginPort uint32
		}{addr, port, ra.IP.String(), uint32(ra.Port)})
		if c.channels.Load() >= SSHMaxChannels {
			tc.Close()
			continue
		}
		c.run(func() {
			ch, reqs, err := c.conn.OpenChannel("forwarded-tcpip", payload)
			if err != nil {
				tc.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			pipe(ch, tc)
		})
	}
}

func (c *sshConn) closeForwards() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ln := range c.forwards {
		ln.Close()
		delete(c.forwards, k)
	}
}

// sshSession is the state of one session channel before its program
// starts.
type sshSession struct {
	c     *sshConn
	ch    ssh.Channel
	env   []string
	pty   bool
	term  string
	size  pty.Winsize
	agent string // the SSH_AUTH_SOCK of -A, or ""

	mu  sync.Mutex
	tty *os.File      // guarded by mu; the PTY once started
	end chan struct{} // closed when the channel has closed; guarded by mu
}

// session serves one session channel: requests until shell, exec or
// subsystem, then the program until it ends.
func (c *sshConn) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	s := &sshSession{c: c, ch: ch, size: pty.Winsize{Cols: 80, Rows: 24}}
	defer s.closeAgent()
	started := false
	done := make(chan struct{})
	for r := range reqs {
		ok := false
		switch r.Type {
		case "pty-req":
			var p struct {
				Term          string
				Cols, Rows    uint32
				Width, Height uint32
				Modes         string
			}
			if ssh.Unmarshal(r.Payload, &p) == nil && !started {
				s.pty, s.term = true, p.Term
				s.size = winsize(p.Cols, p.Rows)
				ok = true
			}
		case "window-change":
			var p struct{ Cols, Rows, Width, Height uint32 }
			if ssh.Unmarshal(r.Payload, &p) == nil {
				s.resize(winsize(p.Cols, p.Rows))
				ok = true
			}
		case "env":
			var p struct{ Name, Value string }
			if ssh.Unmarshal(r.Payload, &p) == nil && len(s.env) < sshMaxEnv && validEnv(p.Name, p.Value) {
				s.env = append(s.env, p.Name+"="+p.Value)
				ok = true
			}
		case "auth-agent-req@openssh.com":
			ok = !started && s.forwardAgent() == nil
		case "shell", "exec", "subsystem":
			if started {
				break
			}
			var cmd []string
			switch r.Type {
			case "exec":
				var p struct{ Command string }
				if ssh.Unmarshal(r.Payload, &p) != nil {
					break
				}
				cmd = []string{p.Command}
			case "subsystem":
				var p struct{ Name string }
				if ssh.Unmarshal(r.Payload, &p) != nil || p.Name != "sftp" {
					break
				}
				started, ok = true, true
				r.Reply(true, nil)
				c.wg.Go(func() { defer close(done); s.sftp() })
				continue
			}
			if r.Type == "exec" && cmd == nil {
				break
			}
			started, ok = true, true
			r.Reply(true, nil)
			c.wg.Go(func() { defer close(done); s.run(cmd) })
			continue
		}
		if r.WantReply {
			r.Reply(ok, nil)
		}
	}
	s.closeAgent()
	if started {
		<-done
	}
}

func winsize(cols, rows uint32) pty.Winsize {
	clamp := func(v uint32, def uint16) uint16 {
		if v == 0 {
			return def
		}
		return uint16(min(v, agentwire.MaxSize))
	}
	return pty.Winsize{Cols: clamp(cols, 80), Rows: clamp(rows, 24)}
}

// validEnv accepts an environment variable a client may set.
func validEnv(name, value string) bool {
	if name == "" || len(name) > 256 || len(value) > 32<<10 || name == "KNOT_AGENT_TOKEN" || name == "SSH_AUTH_SOCK" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (s *sshSession) resize(ws pty.Winsize) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = ws
	if s.tty != nil {
		pty.Setsize(s.tty, &ws)
	}
}

// sshSignals names the signals of RFC 4254 section 6.10, as exit-signal
// carries them.
var sshSignals = map[syscall.Signal]string{
	syscall.SIGABRT: "ABRT", syscall.SIGALRM: "ALRM", syscall.SIGFPE: "FPE", syscall.SIGHUP: "HUP",
	syscall.SIGILL: "ILL", syscall.SIGINT: "INT", syscall.SIGKILL: "KILL", syscall.SIGPIPE: "PIPE",
	syscall.SIGQUIT: "QUIT", syscall.SIGSEGV: "SEGV", syscall.SIGTERM: "TERM", syscall.SIGUSR1: "USR1",
	syscall.SIGUSR2: "USR2",
}

// exitStatus sends the program's exit status, or the signal that ended it
// as exit-signal, as sshd does (a signal without an SSH name as the
// status 128+N, as shells give it).
func (s *sshSession) exitStatus(err error) {
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if name, ok := sshSignals[ws.Signal()]; ok {
				s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Error      string
					Lang       string
				}{Signal: name, CoreDumped: ws.CoreDump()}))
				return
			}
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		code = 127
	}
	s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Code uint32 }{uint32(code)}))
}

// run runs the shell (cmd nil) or cmd[0] through the shell, until it ends
// or the channel does.
func (s *sshSession) run(cmd []string) {
	defer s.ch.Close()
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/"
	}
	shell, notice, err := pickShell(s.c.shell)
	if err != nil {
		fmt.Fprintf(s.ch.Stderr(), "knot: %v\r\n", err)
		s.exitStatus(errors.New("no shell"))
		return
	}
	args := []string{"-l"}
	if cmd != nil {
		args = []string{"-c", cmd[0]}
	}
	p := exec.Command(shell, args...)
	p.Dir = home
	p.Env = append(append(append([]string{}, s.c.a.sessions.env...), "HOME="+home, "SHELL="+shell), s.env...)
	if s.agent != "" {
		p.Env = append(p.Env, "SSH_AUTH_SOCK="+s.agent)
	}
	if s.pty {
		p.Env = append(p.Env, "TERM="+cmpString(s.term, "xterm-256color"))
		s.mu.Lock()
		size := s.size
		f, err := pty.StartWithSize(p, &size)
		if err == nil {
			s.tty = f
		}
		s.mu.Unlock()
		if err != nil {
			fmt.Fprintf(s.ch.Stderr(), "knot: cannot start %s: %v\r\n", shell, err)
			s.exitStatus(err)
			return
		}
		if notice != "" && cmd == nil {
			// An interactive shell's first output; a command's stays clean.
			fmt.Fprintf(s.ch, "%s\r\n", notice)
		}
		ctx, cancel := s.closed()
		defer cancel()
		stop := context.AfterFunc(ctx, func() { syscall.Kill(-p.Process.Pid, syscall.SIGHUP) })
		defer stop()
		go io.Copy(f, s.ch)
		out := make(chan struct{})
		go func() { io.Copy(s.ch, f); close(out) }()
		err = p.Wait()
		// The PTY's output ends when every process holding it has exited.
		select {
		case <-out:
		case <-time.After(time.Second):
		}
		f.Close()
		s.exitStatus(err)
		return
	}
	p.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := p.StdinPipe()
	if err != nil {
		s.exitStatus(err)
		return
	}
	p.Stdout, p.Stderr = s.ch, s.ch.Stderr()
	if err := p.Start(); err != nil {
		fmt.Fprintf(s.ch.Stderr(), "knot: cannot start %s: %v\n", shell, err)
		s.exitStatus(err)
		return
	}
	ctx, cancel := s.closed()
	defer cancel()
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-p.Process.Pid, syscall.SIGKILL) })
	defer stop()
	go func() { io.Copy(stdin, s.ch); stdin.Close() }()
	err = p.Wait()
	s.exitStatus(err)
}

// closed returns a context that ends when the channel has closed (the
// client closed it, or the connection ended).
func (s *sshSession) closed() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	end := s.closedCh()
	go func() {
		select {
		case <-end:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

func cmpString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// sftp serves the sftp subsystem in the home directory.
func (s *sshSession) sftp() {
	defer s.ch.Close()
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/"
	}
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(home))
	if err != nil {
		s.exitStatus(err)
		return
	}
	// The server closes the channel when it is closed: the exit status
	// goes first.
	err = srv.Serve()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	s.exitStatus(err)
	srv.Close()
}

// forwardAgent listens on a Unix socket in a private directory and opens
// an auth-agent@openssh.com channel to the client for each connection.
func (s *sshSession) forwardAgent() error {
	if s.agent != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "knot-ssh-agent-")
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	s.agent = sock
	c := s.c
	c.wg.Go(func() {
		<-s.closedCh()
		ln.Close()
		os.RemoveAll(dir)
	})
	c.wg.Go(func() {
		for {
			uc, err := ln.Accept()
			if err != nil {
				return
			}
			if c.channels.Load() >= SSHMaxChannels {
				uc.Close()
				continue
			}
			c.run(func() {
				ch, reqs, err := c.conn.OpenChannel("auth-agent@openssh.com", nil)
				if err != nil {
					uc.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				pipe(ch, uc)
			})
		}
	})
	return nil
}

// closedCh is closed when the session ends; the agent socket lives as
// long as it.
func (s *sshSession) closedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end == nil {
		s.end = make(chan struct{})
	}
	return s.end
}

// closeAgent marks the session's channel closed: its program is ended
// and its agent socket removed.
func (s *sshSession) closeAgent() {
	s.closedCh()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.end:
	default:
		close(s.end)
	}
}
