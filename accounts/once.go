package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	gosync "sync"

	"github.com/rs/zerolog"

	"mailsync/config"
	msync "mailsync/sync"
)

// Options configure a one-shot run over accounts.
type Options struct {
	Config *config.Config
	// Accounts to sync; empty means all.
	Accounts []string
	// Engine is the engine's options for each account.
	Engine msync.Options
	// Request is what each account's cycle syncs.
	Request msync.Request
	Log     zerolog.Logger
	// Summary receives one line per account; nil to print nothing.
	Summary io.Writer
	// Dial overrides how connections are made (tests).
	Dial DialFunc
	// ControlDirs are where running daemons' control sockets are looked
	// for (control.Dirs); nil to sync every account here.
	ControlDirs []string
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

// Run syncs the selected accounts once each, up to
// general.max_sync_accounts at once: `mailsync sync`. An account that a
// running daemon serves is synced by that daemon, asked over its control
// socket; the result is the same, and no lock is fought over.
func Run(ctx context.Context, o Options) []Result {
	names := o.Accounts
	if len(names) == 0 {
		names = o.Config.AccountNames()
	}
	var forwarded []Result
	if len(o.ControlDirs) > 0 && !o.Engine.DryRun {
		forwarded, names = forward(ctx, o, names)
		for _, r := range forwarded {
			Report(o.Log, o.Summary, r)
		}
	}
	limit := max(o.Config.General.MaxSyncAccounts, 1)
	mode := ModeFull
	if o.Request.Quick {
		mode = ModeQuick
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
				results[i] = Result{Account: name, Err: &msync.AccountError{Account: name, Err: ctx.Err()}}
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
			a, err := Open(o.Config, name, OpenOptions{Log: o.Log, Dial: o.Dial})
			if err != nil {
				results[i] = Result{Account: name, Err: &msync.AccountError{Account: name, Err: err}}
				return
			}
			r := a.Sync(ctx, Cycle{Mode: mode, Request: o.Request, Engine: o.Engine})
			a.Close()
			results[i] = r
			outMu.Lock()
			defer outMu.Unlock()
			Report(o.Log, o.Summary, r)
		}()
	}
	wg.Wait()
	return append(forwarded, results...)
}

// Report logs a cycle's account-level failure and prints its summary
// line to w (if not nil): what `mailsync sync` shows of each account.
// Folder failures were logged as they happened, except those of a sync
// the daemon did, which are logged here. log must not carry the account
// field: Report adds it.
func Report(log zerolog.Logger, w io.Writer, r Result) {
	l := log.With().Str("account", r.Account).Logger()
	if f := r.Forwarded; f != nil {
		for _, e := range f.FolderErrors {
			ev := l.Error()
			folder, msg, ok := strings.Cut(strings.TrimPrefix(e, r.Account+"/"), ": ")
			if ok && strings.HasPrefix(e, r.Account+"/") {
				ev = ev.Str("folder", folder)
			} else {
				msg = e
			}
			ev.Str(zerolog.ErrorFieldName, msg).Msg("folder sync failed")
		}
		if f.Error != "" {
			l.Error().Str(zerolog.ErrorFieldName, strings.TrimPrefix(f.Error, r.Account+": ")).Msg("account sync failed")
		}
		if w != nil && f.Summary != "" {
			fmt.Fprintln(w, f.Summary)
		}
		return
	}
	// The account is a field; the error without it as prefix.
	cause := r.Err
	var ae *msync.AccountError
	if errors.As(cause, &ae) {
		cause = ae.Err
	}
	switch {
	case r.Locked:
		l.Warn().Err(cause).Msg("account not synced")
	case r.Err != nil:
		l.Error().Err(cause).Msg("account sync failed")
	}
	if w != nil && r.Summary != nil {
		fmt.Fprintln(w, r.Summary.Line())
	}
}
