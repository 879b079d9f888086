package dovetest

import "syscall"

// deathSignal makes the kernel SIGTERM the Dovecot master if the test binary
// dies without running its cleanups.
func deathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
