// Command timeit runs a command and records its wall time and peak RSS,
// like `/usr/bin/time -f '%e %M' -o FILE`, but with millisecond resolution
// (GNU time's %e has 10 ms, too coarse for no-op runs of 20-60 ms):
//
//	timeit -o FILE -- COMMAND [ARG...]
//
// Stdin, stdout and stderr pass through. When the command has ended, one
// line "WALL_SECONDS MAXRSS_KB" is written to FILE:
//
//   - the wall time from just before starting the command to just after
//     reaping it, in seconds with three decimals;
//   - ru_maxrss of the reaped command, in KB (Linux). The kernel reports a
//     reaped process's own peak RSS or that of the largest descendant it
//     waited for, whichever is larger, so for `timeout ... TOOL` it is
//     TOOL's peak: timeout waits for TOOL, and is itself much smaller.
//
// The peak RSS has a floor of about 2.5 MB: an exec'd process starts its
// ru_maxrss at the high-water RSS of the address space it replaced, here
// timeit's own (Go's runtime; GNU time's floor is about 1.6 MB the same
// way). The tools the benchmark runs are above it (mbsync's no-op on 500
// messages, the smallest, peaks at 3.5-4 MB), and above it timeit and GNU
// time report the same values (checked with `timeout 10 python3 -c
// 'x=bytearray(100*1024*1024)'`, `timeout 10 mbsync --version` and a Go
// program touching 1, 8 and 100 MB). When the value is not above timeit's
// own peak, timeit says so on stderr: it is then only an upper bound.
//
// The exit status is the command's, 128+N if signal N killed it, 127 if it
// could not be started. SIGINT, SIGTERM, SIGHUP and SIGQUIT received while
// it runs are passed on to it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "write \"WALL_SECONDS MAXRSS_KB\" to this file")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: timeit -o FILE -- COMMAND [ARG...]")
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*out, flag.Args()))
}

func run(out string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		record(out, time.Since(start), 0)
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
		return 127
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	ps := cmd.ProcessState
	if ps == nil { // Wait failed before reaping: should not happen
		record(out, wall, 0)
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
		return 127
	}
	var maxrss int64
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		maxrss = ru.Maxrss
	}
	record(out, wall, maxrss)
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil && maxrss <= self.Maxrss {
		fmt.Fprintf(os.Stderr, "timeit: peak RSS %d KB is not above timeit's own (%d KB), which it starts from: the command's may be lower\n", maxrss, self.Maxrss)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func record(path string, wall time.Duration, maxrssKB int64) {
	line := fmt.Sprintf("%.3f %d\n", wall.Seconds(), maxrssKB)
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
	}
}
