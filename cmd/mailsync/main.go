// Command mailsync keeps IMAP accounts and local Maildirs in sync in both
// directions. See README.md for usage and exit codes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// stopGrace is how long SIGTERM/SIGINT wait for in-flight work to wind down
// before the process exits anyway.
const stopGrace = 5 * time.Second

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

// signals turns process signals into the engine's two kinds of stop:
// SIGUSR2 and SIGABRT (the systemd watchdog's signal) close stop, meaning
// "finish the sync in progress, then exit"; SIGINT and SIGTERM cancel ctx,
// and a second one, or the grace period running out, exits at once.
type signals struct {
	ctx    context.Context
	stop   chan struct{}
	caught chan os.Signal
	done   chan struct{}
	got    os.Signal
}

func handleSignals(log *zerolog.Logger) *signals {
	ctx, cancel := context.WithCancel(context.Background())
	s := &signals{ctx: ctx, stop: make(chan struct{}), caught: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(s.caught, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGABRT)
	go func() {
		stopped := false
		for {
			var sig os.Signal
			select {
			case sig = <-s.caught:
			case <-s.done:
				return
			}
			switch sig {
			case syscall.SIGUSR2, syscall.SIGABRT:
				if !stopped {
					stopped = true
					close(s.stop)
					log.Warn().Str("signal", sig.String()).Msg("finishing the sync in progress, then exiting")
				}
			default:
				if s.got != nil {
					log.Error().Str("signal", sig.String()).Msg("second signal; exiting now")
					os.Exit(128 + int(sig.(syscall.Signal)))
				}
				s.got = sig
				log.Warn().Str("signal", sig.String()).Msg("stopping")
				cancel()
				time.AfterFunc(stopGrace, func() {
					log.Error().Msg("did not stop within 5s; exiting now")
					os.Exit(128 + int(sig.(syscall.Signal)))
				})
			}
		}
	}()
	return s
}

// finish restores default signal handling. If the run was interrupted by
// SIGINT or SIGTERM the process then dies by that signal, which is what
// shells and systemd expect of an interrupted program.
func (s *signals) finish() {
	close(s.done)
	signal.Stop(s.caught)
	if sig, ok := s.got.(syscall.Signal); ok {
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
		os.Exit(128 + int(sig))
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
