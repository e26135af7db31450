package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd when the bench process dies, so
// a killed run leaves no redis-server or child behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
