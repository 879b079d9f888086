// Package test holds mailsync's end-to-end tests: they build the real
// binary once, run it against a throwaway Dovecot (internal/dovetest) and a
// Maildir in a temporary directory, and check both sides with tools that do
// not go through mailsync (doveadm on the server, plain file reads locally).
//
// The tests are numbered after the test plan (TestT01..., TestT02..., ...) so
// that a failure points straight at the scenario it checks:
//
//	T01 config/usage errors                 cli_test.go
//	T02 initial pull, idempotence, -q       cli_test.go
//	T03 kill -9 during a pull               crash_test.go
//	T04 kill -9 during a push               crash_test.go
//	T05 the account lock                    lock_test.go
//	T06 SIGTERM (pull, hung server, push),
//	    second signal                       signal_test.go
//	T07 SIGUSR2/SIGABRT (finish, then stop) signal_test.go
//	T08 --dry-run                           cli_test.go
//	T09 unmounted local root                cli_test.go
//	T10 UIDVALIDITY reset                   cli_test.go
//
// Every test starts its own Dovecot, so tests run in parallel and
// BodyFetches counts only the test's own downloads. Set DOVETEST_KEEP=1 to
// keep a failed test's server directory.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binPath is the mailsync binary built by TestMain.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root above the test directory: %v\n", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "mailsync-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "mailsync")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/mailsync")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/mailsync failed: %v\n%s", err, out)
		return 2
	}
	return m.Run()
}
