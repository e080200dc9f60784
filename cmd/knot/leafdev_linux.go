package main

import (
	"os/exec"
	"syscall"
)

// devProcAttr puts a server of knot dev in its own process group, so that
// Ctrl-C reaches knot dev alone, which stops the servers in order, and has
// the kernel stop it should knot dev die without doing so.
func devProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
