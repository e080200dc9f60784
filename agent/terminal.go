package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
)

// viewerTimeout is how long a session waits for one viewer to take a chunk
// of output before it drops that viewer (who may reattach and replay).
var viewerTimeout = 10 * time.Second

// session is one terminal: a program under a PTY, its replay buffer and
// its viewers. Its output goroutine (pump) owns reading the PTY; it ends
// when the program's side of the PTY closes.
type session struct {
	id      string
	shell   string
	created time.Time
	keep    bool          // kept after the last viewer leaves; false for commands
	keepFor time.Duration // how long it is kept without viewers
	cmd     *exec.Cmd
	pty     *os.File
	done    chan struct{}   // closed when the program has ended and is reaped
	bg      *sync.WaitGroup // the agent's session goroutines, for kill's

	mu      sync.Mutex
	replay  []byte               // the last bytes of output; guarded by mu
	max     int                  // the replay buffer's size
	viewers map[*viewer]struct{} // guarded by mu
	idle    time.Time            // when the last viewer left; guarded by mu
	expiry  *time.Timer          // guarded by mu
	code    int                  // exit code once done; guarded by mu
	reason  string               // why it ended, if not its own exit; guarded by mu
}

// viewer is one stream watching a session. out carries output; only the
// session's pump sends on it, and closes it when the session has ended.
// gone is closed when the viewer is detached (it left, or was dropped for
// not taking output).
type viewer struct {
	out  chan []byte
	gone chan struct{}
	once sync.Once
}

func (v *viewer) leave() { v.once.Do(func() { close(v.gone) }) }

// sessions is the agent's set of terminal sessions.
type sessions struct {
	keepFor time.Duration
	replay  int
	env     []string

	mu   sync.Mutex
	all  map[string]*session // guarded by mu
	wg   sync.WaitGroup      // the sessions' goroutines
	shut bool                // guarded by mu
}

func newSessions(keepFor time.Duration, replay int, env []string) *sessions {
	return &sessions{keepFor: keepFor, replay: replay, env: env, all: map[string]*session{}}
}

// pickShell returns the path of preferred, or, when preferred is not on the
// PATH, of the first of zsh, bash, sh that is. When it runs another shell
// than the one asked for, notice says so in one line for a person at a
// terminal ("knot: bash is not installed in this space; running /bin/sh");
// it is "" otherwise, and when nothing was asked for.
func pickShell(preferred string) (shell, notice string, err error) {
	if preferred != "" {
		if p, err := exec.LookPath(preferred); err == nil {
			return p, "", nil
		}
	}
	for _, s := range []string{"zsh", "bash", "sh"} {
		if p, err := exec.LookPath(s); err == nil {
			if preferred != "" {
				notice = fmt.Sprintf("knot: %s is not installed in this space; running %s", preferred, p)
			}
			return p, notice, nil
		}
	}
	if preferred != "" {
		return "", "", fmt.Errorf("no shell found: none of %s, zsh, bash or sh is on the PATH", preferred)
	}
	return "", "", errors.New("no shell found: none of zsh, bash or sh is on the PATH")
}

// start runs a new session for t.
func (ss *sessions) start(t *agentwire.Terminal) (*session, error) {
	ss.mu.Lock()
	shut := ss.shut
	ss.mu.Unlock()
	if shut {
		return nil, errors.New("the agent is stopping")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/"
	}
	var cmd *exec.Cmd
	shell, notice := "", ""
	if len(t.Command) > 0 {
		cmd = exec.Command(t.Command[0], t.Command[1:]...)
		shell = strings.Join(t.Command, " ")
	} else {
		if shell, notice, err = pickShell(t.Shell); err != nil {
			return nil, err
		}
		cmd = exec.Command(shell, "-l")
	}
	cmd.Dir = home
	cmd.Env = append(append([]string{}, ss.env...), "TERM=xterm-256color", "HOME="+home)
	size := &pty.Winsize{Cols: cmp(t.Cols, 80), Rows: cmp(t.Rows, 24)}
	f, err := pty.StartWithSize(cmd, size)
	if err != nil {
		return nil, fmt.Errorf("cannot start %s: %v", filepath.Base(cmd.Path), err)
	}
	s := &session{
		id: crypt.NewToken()[:16], shell: shell, created: time.Now(), keep: len(t.Command) == 0, keepFor: ss.keepFor,
		cmd: cmd, pty: f, done: make(chan struct{}), bg: &ss.wg, max: ss.replay, viewers: map[*viewer]struct{}{},
	}
	if notice != "" {
		// The terminal's first output, before the shell's: its replay starts
		// with it, so every viewer sees which shell runs.
		s.replay = []byte(notice + "\r\n")
	}
	ss.mu.Lock()
	ss.all[s.id] = s
	ss.mu.Unlock()
	ss.wg.Go(func() { ss.pump(s) })
	return s, nil
}

func cmp(v, def uint16) uint16 {
	if v == 0 {
		return def
	}
	return v
}

// get returns the kept session id.
func (ss *sessions) get(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.all[id]
	return s, ok
}

// list describes the sessions.
func (ss *sessions) list() []agentwire.SessionInfo {
	ss.mu.Lock()
	all := make([]*session, 0, len(ss.all))
	for _, s := range ss.all {
		all = append(all, s)
	}
	ss.mu.Unlock()
	out := []agentwire.SessionInfo{}
	for _, s := range all {
		s.mu.Lock()
		out = append(out, agentwire.SessionInfo{ID: s.id, Shell: s.shell, Created: s.created.UTC(), Viewers: len(s.viewers), Idle: s.idle})
		s.mu.Unlock()
	}
	return out
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.all)
}

// pump copies the PTY's output into the replay buffer and to the viewers
// until the program's side closes, then reaps the program and tells the
// viewers how it ended.
func (ss *sessions) pump(s *session) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.pty.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			s.mu.Lock()
			s.replay = append(s.replay, chunk...)
			if len(s.replay) > s.max {
				s.replay = append([]byte(nil), s.replay[len(s.replay)-s.max:]...)
			}
			vs := make([]*viewer, 0, len(s.viewers))
			for v := range s.viewers {
				vs = append(vs, v)
			}
			s.mu.Unlock()
			for _, v := range vs {
				s.deliver(v, chunk)
			}
		}
		if err != nil {
			break
		}
	}
	err := s.cmd.Wait()
	s.pty.Close()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	}
	ss.mu.Lock()
	delete(ss.all, s.id)
	ss.mu.Unlock()
	s.mu.Lock()
	s.code = code
	if s.expiry != nil {
		s.expiry.Stop()
	}
	for v := range s.viewers {
		close(v.out)
	}
	s.viewers = map[*viewer]struct{}{}
	s.mu.Unlock()
	close(s.done)
}

// deliver hands chunk to v, or drops v when it does not take it in time
// (it may reattach and replay). Only pump calls it.
func (s *session) deliver(v *viewer, chunk []byte) {
	t := time.NewTimer(viewerTimeout)
	defer t.Stop()
	select {
	case v.out <- chunk:
	case <-v.gone:
	case <-t.C:
		s.detach(v)
	}
}

// attach adds a viewer and returns it with the replay of earlier output.
// It fails when the session has ended.
func (s *session) attach() (*viewer, []byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return nil, nil, false
	default:
	}
	v := &viewer{out: make(chan []byte, 16), gone: make(chan struct{})}
	s.viewers[v] = struct{}{}
	s.idle = time.Time{}
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	return v, withoutQueries(s.replay), true
}

// terminalQueries are the requests a program sends its terminal that the
// terminal answers as input: the cursor position and status reports and
// the device attributes. A shell asks for the cursor position at each
// prompt (busybox ash does).
var terminalQueries = [][]byte{[]byte("\x1b[6n"), []byte("\x1b[5n"), []byte("\x1b[c"), []byte("\x1b[0c"), []byte("\x1b[>c"), []byte("\x1b[>0c")}

// withoutQueries returns a copy of replay without terminalQueries. A
// replay draws the screen again; asked again, the viewer's terminal would
// answer questions the program asked long ago, and the answers would reach
// the program now as if typed (an ash at its prompt then redraws it where
// the stale answer says, over what the replay drew).
func withoutQueries(replay []byte) []byte {
	out := bytes.Clone(replay)
	for _, q := range terminalQueries {
		out = bytes.ReplaceAll(out, q, nil)
	}
	return out
}

// detach removes v. When it was the last viewer, a kept session is ended
// after keepFor unless someone attaches; any other session is ended now.
func (s *session) detach(v *viewer) {
	keepFor := s.keepFor
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.viewers[v]; !ok {
		return
	}
	delete(s.viewers, v)
	v.leave()
	if len(s.viewers) > 0 {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.idle = time.Now().UTC()
	if !s.keep {
		s.kill("its viewer left")
		return
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.expiry = time.AfterFunc(keepFor, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.viewers) == 0 {
			s.kill("no one attached to it for " + keepFor.String())
		}
	})
}

// kill ends the session's program: SIGHUP to its process group, as a
// closing terminal does, then SIGKILL if it is still there after a while.
// s.mu is held.
func (s *session) kill(reason string) {
	if s.reason == "" {
		s.reason = reason
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGHUP)
	s.bg.Go(func() {
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
}

// write sends input to the program.
func (s *session) write(p []byte) error {
	_, err := s.pty.Write(p)
	return err
}

func (s *session) resize(cols, rows uint16) error {
	return pty.Setsize(s.pty, &pty.Winsize{Cols: cols, Rows: rows})
}

// ended returns the exit code and reason once the session is done.
func (s *session) ended() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.reason
}

// close ends every session and waits for them.
func (ss *sessions) close() {
	ss.mu.Lock()
	ss.shut = true
	all := make([]*session, 0, len(ss.all))
	for _, s := range ss.all {
		all = append(all, s)
	}
	ss.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		if s.expiry != nil {
			s.expiry.Stop()
		}
		s.kill("the agent stopped")
		s.mu.Unlock()
	}
	ss.wg.Wait()
}

// serveTerminal runs one terminal stream: it starts or attaches to a
// session, answers Opened, sends the replay and then the output, and
// passes input and resizes on, until the session ends (Control exit) or
// the stream does (the viewer detaches; the session stays).
func (ss *sessions) serveTerminal(rw io.ReadWriteCloser, t *agentwire.Terminal) {
	defer rw.Close()
	if t.NoPTY {
		ss.serveExec(rw, t)
		return
	}
	var s *session
	if t.Attach != "" {
		var ok bool
		if s, ok = ss.get(t.Attach); !ok {
			agentwire.WriteJSON(rw, agentwire.Opened{Error: fmt.Sprintf("no terminal session %q", t.Attach)})
			return
		}
	} else {
		var err error
		if s, err = ss.start(t); err != nil {
			agentwire.WriteJSON(rw, agentwire.Opened{Error: err.Error()})
			return
		}
	}
	v, replay, ok := s.attach()
	if !ok {
		agentwire.WriteJSON(rw, agentwire.Opened{Error: fmt.Sprintf("terminal session %q has ended", s.id)})
		return
	}
	if t.Attach != "" && t.Cols > 0 && t.Rows > 0 {
		s.resize(t.Cols, t.Rows)
	}
	if err := agentwire.WriteJSON(rw, agentwire.Opened{ID: s.id}); err != nil {
		s.detach(v)
		return
	}
	// The input side: until the stream ends or breaks the protocol.
	inDone := make(chan struct{})
	ss.wg.Go(func() {
		defer close(inDone)
		ss.input(rw, s)
		s.detach(v)
	})
	if sendOutput(rw, v, replay) {
		<-s.done
		code, reason := s.ended()
		agentwire.WriteJSON(rw, agentwire.Control{Type: agentwire.CtlExit, Code: code, Reason: reason})
	}
	s.detach(v)
	rw.Close()
	<-inDone
}

// sendOutput writes the replay and then v's output. It returns true when
// the session has ended (all its output sent), false when the viewer left,
// was dropped, or the stream failed.
func sendOutput(w io.Writer, v *viewer, replay []byte) bool {
	write := func(p []byte) bool {
		for len(p) > 0 {
			n := min(len(p), agentwire.MaxFrame)
			if agentwire.WriteFrame(w, agentwire.KindData, p[:n]) != nil {
				return false
			}
			p = p[n:]
		}
		return true
	}
	if !write(replay) {
		return false
	}
	for {
		select {
		case chunk, ok := <-v.out:
			if !ok {
				return true
			}
			if !write(chunk) {
				return false
			}
		case <-v.gone:
			return false
		}
	}
}

// input passes a viewer's frames to the session until the stream ends.
func (ss *sessions) input(r io.ReadCloser, s *session) {
	for {
		kind, p, err := agentwire.ReadFrame(r)
		if err != nil {
			r.Close()
			return
		}
		if kind == agentwire.KindData {
			if s.write(p) != nil {
				return
			}
			continue
		}
		var c agentwire.Control
		if err := agentwire.DecodeJSON(p, &c); err != nil {
			r.Close()
			return
		}
		switch c.Type {
		case agentwire.CtlResize:
			s.resize(c.Cols, c.Rows)
		case agentwire.CtlEOF:
			s.write([]byte{4}) // ^D, as a terminal's end of input
		}
	}
}
