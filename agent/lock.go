package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrRunning is returned by Lock when another agent of the space runs on
// this machine.
var ErrRunning = errors.New("another agent of this space runs here")

// Lock makes this process the one agent of spaceID on this machine (or in
// this container): it holds an exclusive lock on a file in dir (the
// temporary directory when ""), released when the process ends or release
// is called. It returns ErrRunning when another process holds it, so an
// agent started twice, by the template and by knot, steps aside.
func Lock(dir, spaceID string) (release func(), err error) {
	if dir == "" {
		dir = os.TempDir()
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, spaceID)
	f, err := os.OpenFile(filepath.Join(dir, "knot-agent-"+name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
