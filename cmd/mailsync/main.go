// Command mailsync keeps IMAP accounts and local Maildirs in sync in both
// directions. See README.md for usage and exit codes.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent and memoryLimit shape the garbage collector for a sync: most
// runs keep a small live heap and finish in milliseconds, where the default
// GOGC=100 spends a tenth of the CPU on collections that free nothing worth
// having; a large pull holds more, and the soft limit keeps its peak RSS
// bounded by collecting more often instead. GOGC and GOMEMLIMIT in the
// environment override either.
const (
	gcPercent   = 400
	memoryLimit = 48 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.cmd.SetArgs(args)
	code, err := root.execute()
	if err != nil {
		fmt.Fprintln(stderr, "mailsync:", err)
	}
	return code
}
