// Package accounts runs sync cycles for configured accounts: it takes each
// account's lock, opens its state, drives the sync engine, and reports. The
// one-shot command uses it today; the daemon's scheduler builds on it.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	gosync "sync"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/lock"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

// Exit codes of a run, documented in the README.
const (
	ExitOK     = 0
	ExitFailed = 1  // some account or folder failed; the others still ran
	ExitUsage  = 2  // usage or configuration error
	ExitLocked = 75 // another mailsync holds an account's lock (EX_TEMPFAIL)
)

// Options configure a run.
type Options struct {
	Config *config.Config
	// Accounts to sync; empty means all.
	Accounts []string
	// Engine is the template for each account's engine options.
	Engine msync.Options
	// Request is what each account's run syncs.
	Request msync.Request
	Log     zerolog.Logger
	// Summary receives one line per account; nil to print nothing.
	Summary io.Writer
	// Dial overrides how connections are made (tests, demo).
	Dial func(ctx context.Context, acct *config.Account) (msync.Remote, error)
}

// Result is one account's outcome.
type Result struct {
	Account string
	Summary *msync.Summary
	Err     error // the account could not be synced at all
	Locked  bool
}

// Failed reports whether the account or any of its folders failed.
func (r Result) Failed() bool {
	return (r.Err != nil && !r.Locked) || (r.Summary != nil && len(r.Summary.Errors) > 0)
}

// ExitCode folds results into the process exit code: a failure beats a
// lock conflict, which beats success.
func ExitCode(rs []Result) int {
	code := ExitOK
	for _, r := range rs {
		if r.Failed() {
			return ExitFailed
		}
		if r.Locked {
			code = ExitLocked
		}
	}
	return code
}

// CheckNames verifies that every requested account exists.
func CheckNames(cfg *config.Config, names []string) error {
	for _, n := range names {
		if _, ok := cfg.Accounts[n]; !ok {
			return fmt.Errorf("no account %q in %s (have: %v)", n, cfg.Path, cfg.AccountNames())
		}
	}
	return nil
}

// Run syncs the selected accounts, up to general.max_sync_accounts at once.
func Run(ctx context.Context, o Options) []Result {
	names := o.Accounts
	if len(names) == 0 {
		names = o.Config.AccountNames()
	}
	limit := o.Config.General.MaxSyncAccounts
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	results := make([]Result, len(names))
	var wg gosync.WaitGroup
	var outMu gosync.Mutex
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{Account: name, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			select {
			case <-o.Engine.Stop:
				// Finish-then-stop arrived before this account began.
				results[i] = Result{Account: name, Summary: &msync.Summary{Account: name, Stopped: true}}
				return
			default:
			}
			r := syncAccount(ctx, o, o.Config.Accounts[name])
			results[i] = r
			outMu.Lock()
			defer outMu.Unlock()
			report(o, r)
		}()
	}
	wg.Wait()
	return results
}

func report(o Options, r Result) {
	log := o.Log.With().Str("account", r.Account).Logger()
	switch {
	case r.Locked:
		log.Warn().Msg(r.Err.Error())
	case r.Err != nil:
		log.Error().Msg(r.Err.Error())
	}
	if o.Summary != nil && r.Summary != nil {
		fmt.Fprintln(o.Summary, r.Summary.Line())
	}
}

func syncAccount(ctx context.Context, o Options, acct *config.Account) Result {
	res := Result{Account: acct.Name}
	dial := func(ctx context.Context) (msync.Remote, error) {
		if o.Dial != nil {
			return o.Dial(ctx, acct)
		}
		return Dial(ctx, acct)
	}
	// Logging in takes a few round trips, and every run needs it: it goes
	// on while the lock is taken and the state opened. The engine's first
	// dial takes this connection.
	first := startDial(ctx, dial)
	defer first.discard()

	dir := o.Config.General.StateDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		res.Err = &msync.AccountError{Account: acct.Name, Err: fmt.Errorf("creating state_dir: %w", err)}
		return res
	}
	l, err := lock.TryAcquire(filepath.Join(dir, acct.Name+".lock"))
	if err != nil {
		res.Err = &msync.AccountError{Account: acct.Name, Err: err}
		res.Locked = errors.Is(err, lock.ErrHeld)
		return res
	}
	defer l.Release()
	store, err := state.Open(ctx, filepath.Join(dir, acct.Name+".db"), acct.Local.Fsync)
	if err != nil {
		res.Err = &msync.AccountError{Account: acct.Name, Err: err}
		return res
	}
	defer store.Close()

	eo := o.Engine
	eo.Log = o.Log
	eng := msync.New(acct, store, first.dial, eo)
	sum, err := eng.Run(ctx, o.Request)
	res.Summary = sum
	if err != nil {
		res.Err = &msync.AccountError{Account: acct.Name, Err: err}
		if sum != nil {
			sum.Errors = append(sum.Errors, res.Err)
		}
	}
	return res
}

// earlyDial is a connection being opened ahead of the engine's first dial.
type earlyDial struct {
	next   func(context.Context) (msync.Remote, error)
	result chan dialResult
	// cancel ends the dial's context, and with it the connection: only
	// after the engine is done with it (or never took it).
	cancel context.CancelFunc
	mu     gosync.Mutex
	taken  bool
}

type dialResult struct {
	conn msync.Remote
	err  error
}

func startDial(ctx context.Context, dial func(context.Context) (msync.Remote, error)) *earlyDial {
	ctx, cancel := context.WithCancel(ctx)
	d := &earlyDial{next: dial, result: make(chan dialResult, 1), cancel: cancel}
	go func() {
		c, err := dial(ctx)
		d.result <- dialResult{c, err}
	}()
	return d
}

// take reports whether this is the first call of dial or discard: the one
// that gets the early connection.
func (d *earlyDial) take() (first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	first = !d.taken
	d.taken = true
	return first
}

// dial hands out the early connection once, then dials anew.
func (d *earlyDial) dial(ctx context.Context) (msync.Remote, error) {
	if !d.take() {
		return d.next(ctx)
	}
	select {
	case r := <-d.result:
		return r.conn, r.err
	case <-ctx.Done():
		go d.drain()
		return nil, ctx.Err()
	}
}

// discard ends the early dial. If the engine never took the connection
// (the lock was held, the state could not be opened), it is abandoned
// without waiting for a slow server; the engine closes the ones it took.
func (d *earlyDial) discard() {
	first := d.take()
	d.cancel()
	if first {
		d.drain()
	}
}

func (d *earlyDial) drain() {
	if r := <-d.result; r.err == nil {
		r.conn.Close()
	}
}

// Dial opens a connection to acct's server.
func Dial(ctx context.Context, acct *config.Account) (msync.Remote, error) {
	r := &acct.Remote
	c, err := remote.Dial(ctx, remote.Options{
		Host: r.Host, Port: r.Port, TLS: remote.TLSMode(r.TLS), User: r.User,
		Password: r.GetPassword, Timeout: r.Timeout,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
