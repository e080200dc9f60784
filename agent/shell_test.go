package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

// withoutBash makes the PATH a directory holding the programs of /usr/bin
// but bash and zsh, as in a busybox image, and returns its sh. The agent's
// shells get this PATH too.
func withoutBash(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	progs, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		if p.Name() == "bash" || p.Name() == "zsh" {
			continue
		}
		if err := os.Symlink(filepath.Join("/usr/bin", p.Name()), filepath.Join(dir, p.Name())); err != nil {
			t.Fatal(err)
		}
	}
	sh := filepath.Join(dir, "sh")
	if _, err := os.Stat(sh); err != nil {
		t.Fatalf("no sh in /usr/bin: %v", err)
	}
	t.Setenv("PATH", dir)
	return sh
}

func TestTerminalSaysWhenTheChosenShellIsMissing(t *testing.T) {
	noLeaks(t)
	sh := withoutBash(t)
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	notice := "knot: bash is not installed in this space; running " + sh + "\r\n"

	tm := openTerminal(t, l.linked(), agentwire.Terminal{Shell: "bash"})
	tm.send(t, "echo ran-$((40+2))\n")
	tm.wait(t, "ran-42")
	tm.mu.Lock()
	out := tm.out.String()
	tm.mu.Unlock()
	if !strings.HasPrefix(out, notice) || strings.Count(out, "knot:") != 1 {
		t.Fatalf("the terminal's output %q does not start with %q, once", out, notice)
	}
	if s := sessionsOf(t, l.linked()); len(s) != 1 || s[0].Shell != sh {
		t.Fatalf("sessions %+v, want one running %s", s, sh)
	}
	// A viewer that reattaches sees it first too.
	again := openTerminal(t, l.linked(), agentwire.Terminal{Attach: tm.id})
	again.wait(t, "ran-42")
	again.mu.Lock()
	replay := again.out.String()
	again.mu.Unlock()
	if !strings.HasPrefix(replay, notice) {
		t.Fatalf("the replay %q does not start with %q", replay, notice)
	}
	again.send(t, "exit\n")
	again.exit(t)

	// The shell asked for is there: nothing to say.
	plain := openTerminal(t, l.linked(), agentwire.Terminal{Shell: "sh"})
	plain.send(t, "echo plain-$((1+1))\n")
	plain.wait(t, "plain-2")
	plain.mu.Lock()
	out = plain.out.String()
	plain.mu.Unlock()
	if strings.Contains(out, "knot:") {
		t.Fatalf("a terminal running the shell asked for says %q", out)
	}
	plain.send(t, "exit\n")
	plain.exit(t)

	// A command's output stays clean.
	ex := openTerminal(t, l.linked(), agentwire.Terminal{Shell: "bash", NoPTY: true})
	ex.send(t, "echo clean; exit 0\n")
	if code := ex.exit(t); code != 0 {
		t.Fatalf("exec exit %d", code)
	}
	ex.mu.Lock()
	got := ex.out.String()
	ex.mu.Unlock()
	if got != "clean\n" {
		t.Fatalf("exec output %q, want only the command's", got)
	}
}

func TestSSHSaysWhenTheChosenShellIsMissing(t *testing.T) {
	noLeaks(t)
	sh := withoutBash(t)
	sl := startSSHLink(t)
	sl.shell = "bash"
	cl := sl.client(t)

	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	var out testenv.Buffer
	s.Stdout = &out
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("echo ssh-$((40+2))\n"))
	waitFor(t, "the shell's output", func() bool { return strings.Contains(out.String(), "ssh-42") })
	in.Write([]byte("exit\n"))
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not end")
	}
	notice := "knot: bash is not installed in this space; running " + sh + "\r\n"
	if got := out.String(); !strings.HasPrefix(got, notice) {
		t.Fatalf("the interactive session's output %q does not start with %q", got, notice)
	}

	// A command, with or without a terminal, prints only its own output.
	if got, code := run(t, cl, "echo hi", nil); got != "hi\n" || code != 0 {
		t.Fatalf("exec: %q code %d", got, code)
	}
	got, _ := run(t, cl, "echo hi", func(s *ssh.Session) { s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}) })
	if got != "hi\r\n" {
		t.Fatalf("exec with a terminal: %q", got)
	}
}
