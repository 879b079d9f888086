// Package signals turns the process's signals into mailsync's controls,
// the same in a one-shot run and in the daemon:
//
//	SIGUSR2, SIGABRT   Finish: end the syncs in progress, start no more
//	                   (SIGABRT is what systemd's watchdog sends)
//	SIGTERM, SIGINT    Ctx is cancelled: stop within the grace period; a
//	                   second one, or the grace period running out, exits
//	                   at once
//	SIGUSR1            SyncNow: sync every account now
//	SIGHUP             Reload: read the configuration again
//
// A one-shot run has nothing to reload and is syncing already, so it only
// logs the last two; they must not kill it, as they would by default.
package signals

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Grace is how long SIGTERM and SIGINT wait for in-flight work to wind
// down before the process exits anyway.
const Grace = 5 * time.Second

// Set is the signals of one process, as channels.
type Set struct {
	// Ctx is cancelled by SIGTERM or SIGINT.
	Ctx context.Context
	// Finish is closed by SIGUSR2 or SIGABRT.
	Finish <-chan struct{}
	// SyncNow and Reload receive SIGUSR1 and SIGHUP; a signal that arrives
	// while one is pending is merged with it.
	SyncNow <-chan struct{}
	Reload  <-chan struct{}

	caught chan os.Signal
	done   chan struct{}
	exited chan struct{}
	got    os.Signal // the SIGTERM or SIGINT that cancelled Ctx
}

// Handle starts turning signals into the Set's channels until Done.
func Handle(log zerolog.Logger) *Set {
	ctx, cancel := context.WithCancel(context.Background())
	finish := make(chan struct{})
	syncNow := make(chan struct{}, 1)
	reload := make(chan struct{}, 1)
	s := &Set{
		Ctx: ctx, Finish: finish, SyncNow: syncNow, Reload: reload,
		caught: make(chan os.Signal, 8), done: make(chan struct{}), exited: make(chan struct{}),
	}
	signal.Notify(s.caught, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGABRT, syscall.SIGUSR1, syscall.SIGHUP)
	post := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(s.exited)
		finishing := false
		for {
			var sig os.Signal
			select {
			case sig = <-s.caught:
			case <-s.done:
				return
			}
			l := log.With().Str("signal", sig.String()).Logger()
			switch sig {
			case syscall.SIGUSR2, syscall.SIGABRT:
				if !finishing {
					finishing = true
					close(finish)
					l.Warn().Msg("finishing the syncs in progress, then exiting")
				}
			case syscall.SIGUSR1:
				l.Info().Msg("sync now")
				post(syncNow)
			case syscall.SIGHUP:
				l.Info().Msg("reload")
				post(reload)
			default:
				if s.got != nil {
					l.Error().Msg("second signal; exiting now")
					os.Exit(128 + int(sig.(syscall.Signal)))
				}
				s.got = sig
				l.Warn().Msg("stopping")
				cancel()
				time.AfterFunc(Grace, func() {
					l.Error().Msgf("did not stop within %s; exiting now", Grace)
					os.Exit(128 + int(sig.(syscall.Signal)))
				})
			}
		}
	}()
	return s
}

// stopped stops the handler goroutine, so that got can be read.
func (s *Set) stopped() <-chan struct{} {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return s.exited
}

// Done restores default signal handling. If SIGINT or SIGTERM interrupted
// the process, it then dies by that signal, which is what shells and
// systemd expect of an interrupted program.
func (s *Set) Done() {
	<-s.stopped()
	signal.Stop(s.caught)
	if sig, ok := s.got.(syscall.Signal); ok {
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
		os.Exit(128 + int(sig))
	}
}
