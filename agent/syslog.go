package agent

// The local syslog: datagrams on UDP (127.0.0.1:agent.syslog_port, as
// rsyslog forwards them) and on a unixgram socket (agent.syslog_socket,
// such as /dev/log, where syslog(3) and busybox logger write), in RFC 3164
// or RFC 5424 form, forwarded as lines of the space's log. Severity 0 to 4
// (emerg to warning) is an error line, the rest info; the tag (APP-NAME)
// is the line's service, "syslog" when there is none.

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knot-dev/knot/shared/agentwire"
)

// maxDatagram bounds a syslog datagram read; the rest of a longer one is
// lost (RFC 5424 asks receivers for at least 2 KiB).
const maxDatagram = 8 << 10

// parseSyslog returns the level, service and message of a syslog
// datagram. Anything that is not syslog is an info line of "syslog".
func parseSyslog(p string) (level, service, msg string) {
	level, service, msg = agentwire.LevelInfo, "", p
	if rest, pri, ok := cutPRI(p); ok {
		if pri%8 <= 4 {
			level = agentwire.LevelError
		}
		if v, ok := strings.CutPrefix(rest, "1 "); ok {
			service, msg = parse5424(v)
		} else {
			service, msg = parse3164(rest)
		}
	}
	return level, agentwire.CleanLogService(service, "syslog"), msg
}

// cutPRI cuts "<PRI>" off p.
func cutPRI(p string) (string, int, bool) {
	if len(p) < 3 || p[0] != '<' {
		return p, 0, false
	}
	end := strings.IndexByte(p[:min(len(p), 5)], '>')
	if end < 2 {
		return p, 0, false
	}
	pri, err := strconv.Atoi(p[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return p, 0, false
	}
	return p[end+1:], pri, true
}

// parse5424 parses what follows "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID STRUCTURED-DATA [MSG].
func parse5424(s string) (app, msg string) {
	f := strings.SplitN(s, " ", 6)
	if len(f) < 6 {
		return "", s
	}
	if f[2] != "-" {
		app = f[2]
	}
	rest := f[5]
	if strings.HasPrefix(rest, "-") {
		rest = rest[1:]
	} else {
		for strings.HasPrefix(rest, "[") {
			i := 1
			for i < len(rest) && rest[i] != ']' {
				if rest[i] == '\\' {
					i++
				}
				i++
			}
			rest = rest[min(i+1, len(rest)):]
		}
	}
	rest = strings.TrimPrefix(rest, " ")
	return app, strings.TrimPrefix(rest, "\ufeff")
}

// parse3164 parses what follows "<PRI>": an optional "Mmm dd hh:mm:ss "
// timestamp, an optional hostname, then "tag[pid]: message".
func parse3164(s string) (tag, msg string) {
	if len(s) >= 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':' && s[15] == ' ' {
		s = s[16:]
	}
	first, rest, ok := strings.Cut(s, " ")
	if !ok {
		return "", s
	}
	if t, ok := tagOf(first); ok {
		return t, rest
	}
	second, rest2, ok := strings.Cut(rest, " ")
	if t, ok2 := tagOf(second); ok && ok2 && !strings.Contains(first, ":") {
		return t, rest2
	}
	return "", s
}

// tagOf returns the tag of "tag:" or "tag[pid]:".
func tagOf(w string) (string, bool) {
	t, ok := strings.CutSuffix(w, ":")
	if !ok || t == "" {
		return "", false
	}
	if i := strings.IndexByte(t, '['); i > 0 && strings.HasSuffix(t, "]") {
		t = t[:i]
	}
	return t, len(t) <= 48
}

// listenSyslog opens the syslog sockets the options ask for. A socket
// that cannot be opened (a port below 1024 for a user that may not bind
// it, a path that is taken) is logged and left out: syslog is a comfort,
// and the agent runs without it.
func (a *Agent) listenSyslog() []net.PacketConn {
	var pcs []net.PacketConn
	if a.opts.SyslogAddr != "" {
		pc, err := net.ListenPacket("udp", a.opts.SyslogAddr)
		if err != nil {
			a.log.Warn("agent: no syslog on UDP", "addr", a.opts.SyslogAddr, "err", err)
		} else {
			a.log.Info("agent: syslog on UDP", "addr", pc.LocalAddr().String())
			pcs = append(pcs, pc)
		}
	}
	if a.opts.SyslogSocket != "" {
		pc, err := listenUnixgram(a.opts.SyslogSocket)
		if err != nil {
			a.log.Warn("agent: no syslog on its socket", "path", a.opts.SyslogSocket, "err", err)
		} else {
			a.log.Info("agent: syslog on its socket", "path", a.opts.SyslogSocket)
			pcs = append(pcs, pc)
		}
	}
	return pcs
}

// listenUnixgram binds a unixgram socket at path, anyone may write to it.
// A socket file left by an agent that is gone (nothing answers on it) is
// replaced; one in use is not.
func listenUnixgram(path string) (net.PacketConn, error) {
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if errors.Is(err, syscall.EADDRINUSE) {
		if fi, serr := os.Lstat(path); serr == nil && fi.Mode()&os.ModeSocket != 0 {
			c, derr := net.Dial("unixgram", path)
			if derr == nil {
				c.Close()
				return nil, err
			}
			os.Remove(path)
			pc, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		}
	}
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o666)
	return pc, nil
}

// serveSyslog forwards the datagrams of pc until it is closed.
func (a *Agent) serveSyslog(pc net.PacketConn, lim *limiter) {
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		level, service, msg := parseSyslog(string(buf[:n]))
		a.logs.forward(lim, time.Now(), level, service, msg)
	}
}
