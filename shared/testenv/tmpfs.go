package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// SmallDisk mounts a tmpfs of 64 MiB on a new directory, for tests of a full
// disk, and unmounts it when tb ends. Mounting needs root: without it, or
// when the mount fails, the test goes through Missing.
func SmallDisk(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "root (to mount a tmpfs of 64 MiB)", "not running as root")
	}
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		Missing(tb, "a tmpfs of 64 MiB", fmt.Sprintf("mount on %s: %v: %s", dir, err, out))
	}
	tb.Cleanup(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}
