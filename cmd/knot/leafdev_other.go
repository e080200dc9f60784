//go:build !linux

package main

import "os/exec"

// devProcAttr leaves the process attributes of a server of knot dev alone.
func devProcAttr(cmd *exec.Cmd) {}
