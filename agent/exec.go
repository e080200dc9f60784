package agent

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/knot-dev/knot/shared/agentwire"
)

// serveExec runs t.Command (or the shell) without a terminal: its standard output and
// error go to the stream as data, data frames from the stream go to its
// standard input, and CtlEOF closes that input. It ends with CtlExit, or
// kills the program when the stream ends first.
func (ss *sessions) serveExec(rw io.ReadWriteCloser, t *agentwire.Terminal) {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/"
	}
	args := t.Command
	if len(args) == 0 {
		shell, _, err := pickShell(t.Shell) // a command's output stays clean: no notice
		if err != nil {
			agentwire.WriteJSON(rw, agentwire.Opened{Error: err.Error()})
			return
		}
		args = []string{shell, "-l"}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = home
	cmd.Env = append(append([]string{}, ss.env...), "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		agentwire.WriteJSON(rw, agentwire.Opened{Error: err.Error()})
		return
	}
	out := &frameWriter{w: rw}
	cmd.Stdout, cmd.Stderr = out, out
	// Opened goes first: the program's output may follow at once.
	if err := out.json(agentwire.Opened{ID: "exec"}); err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		out.Write([]byte("knot: cannot start " + args[0] + ": " + err.Error() + "\n"))
		out.json(agentwire.Control{Type: agentwire.CtlExit, Code: 127})
		return
	}
	done := make(chan struct{})
	ss.wg.Go(func() {
		defer stdin.Close()
		for {
			kind, p, err := agentwire.ReadFrame(rw)
			if err != nil {
				select {
				case <-done:
				default:
					// The viewer left or broke the protocol: end the program.
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				return
			}
			if kind == agentwire.KindData {
				stdin.Write(p)
				continue
			}
			var c agentwire.Control
			if agentwire.DecodeJSON(p, &c) != nil {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				return
			}
			if c.Type == agentwire.CtlEOF {
				stdin.Close()
			}
		}
	})
	err = cmd.Wait()
	close(done)
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	}
	out.json(agentwire.Control{Type: agentwire.CtlExit, Code: code})
	rw.Close()
}

// frameWriter writes data frames; Stdout and Stderr share it.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for len(p) > 0 {
		k := min(len(p), agentwire.MaxFrame)
		if err := agentwire.WriteFrame(f.w, agentwire.KindData, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (f *frameWriter) json(v any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return agentwire.WriteJSON(f.w, v)
}
