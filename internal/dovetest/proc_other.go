//go:build !linux

package dovetest

import "syscall"

// deathSignal: parent-death signals are Linux-only; elsewhere a crashed test
// binary can leave its Dovecot running.
func deathSignal() *syscall.SysProcAttr { return nil }
