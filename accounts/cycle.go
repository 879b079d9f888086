package accounts

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"mailsync/internal/control"
	"mailsync/internal/lock"
	"mailsync/internal/remote"
	msync "mailsync/sync"
)

// Mode is why a cycle runs; hooks see it as MAILSYNC_MODE.
type Mode string

const (
	ModeFull  Mode = "full"  // every folder, flags compared
	ModeQuick Mode = "quick" // every folder, STATUS and directory times trusted
	ModeIdle  Mode = "idle"  // the folders IDLE reported changed
	ModeLocal Mode = "local" // the folders changed locally (watch_local)
)

// Cycle is one sync of an account.
type Cycle struct {
	Mode    Mode
	Request msync.Request
	// Engine holds the engine's options for this cycle (dry run, the
	// finish-then-stop channel, events, clock); its Log is the account's.
	Engine msync.Options
	// Now is the clock of the cycle's records; time.Now if nil.
	Now func() time.Time
}

// Result is one cycle's outcome.
type Result struct {
	Account string
	Mode    Mode
	Summary *msync.Summary
	// Err is set when the account could not be synced at all; it is an
	// *msync.AccountError.
	Err error
	// Locked: another process held the account's lock; nothing was done.
	Locked bool
	// Skipped: presync_hook failed, so the sync did not run (Err says why).
	Skipped           bool
	Started, Finished time.Time
	// Forwarded is set when a running daemon did the sync (see Run); the
	// other fields are then empty.
	Forwarded *control.Result
}

// Failed reports whether the account or any of its folders failed.
func (r Result) Failed() bool {
	if r.Forwarded != nil {
		return r.Forwarded.Failed
	}
	return (r.Err != nil && !r.Locked) || (r.Summary != nil && len(r.Summary.Errors) > 0)
}

// Errors returns every failure of the cycle: the account's, or its
// folders'.
func (r Result) Errors() []error {
	if r.Err != nil && !r.Locked {
		return []error{r.Err}
	}
	if r.Summary != nil {
		return r.Summary.Errors
	}
	return nil
}

// Sync runs one cycle. Under the account's lock: presync_hook, the sync
// itself and its record for `mailsync status`; then newmail_hook and
// postsync_hook. When another process holds the lock, nothing runs, no
// hook either. A dry run runs no hook and records nothing.
func (a *Account) Sync(ctx context.Context, c Cycle) Result {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	res := Result{Account: a.Name(), Mode: c.Mode, Started: now()}
	a.syncLocked(ctx, c, &res, now)
	if !c.Engine.DryRun && !res.Locked && ctx.Err() == nil {
		a.afterHooks(ctx, res)
	}
	if a.mailboxes != nil && !c.Engine.DryRun && !res.Locked {
		if err := writeMailboxes(a.mailboxes); err != nil {
			a.log.Warn().Err(err).Msg("mailboxes_file not written")
		}
	}
	return res
}

// syncLocked takes the lock, runs presync_hook and the engine, and
// records the result.
func (a *Account) syncLocked(ctx context.Context, c Cycle, res *Result, now func() time.Time) {
	defer func() {
		if res.Finished.IsZero() {
			res.Finished = now()
		}
	}()
	fail := func(err error) {
		res.Err = &msync.AccountError{Account: a.Name(), Err: err}
	}
	if err := mkdirState(a.stateDir); err != nil {
		fail(err)
		return
	}
	l, err := lock.TryAcquire(a.lockPath())
	if err != nil {
		fail(err)
		res.Locked = errors.Is(err, lock.ErrHeld)
		return
	}
	defer l.Release()
	if !c.Engine.DryRun {
		if err := a.runHook(ctx, hookPresync, c.Mode, nil); err != nil {
			fail(fmt.Errorf("%w; sync skipped", err))
			res.Skipped = true
			res.Finished = now()
			a.record(ctx, c, *res)
			return
		}
	}
	// Logging in takes a few round trips, and every cycle needs it: it goes
	// on while the state is opened. The engine's first dial takes this
	// connection, and the sync's first round, which the engine reads from
	// the state, goes out with the login (sync.Options.DialAhead).
	ahead := make(chan firstAhead, 1)
	var aheadOnce gosync.Once
	defer aheadOnce.Do(func() { close(ahead) })
	first := startDial(ctx, func(ctx context.Context) (msync.Remote, error) {
		return a.dialFirst(ctx, ahead)
	}, a.dialRemote)
	defer first.discard()
	store, err := a.Store(ctx)
	if err != nil {
		fail(err)
		return
	}
	eo := c.Engine
	eo.Log = a.engineLog
	// The connections the run expects to want are opened by the early
	// dialer, each sending the SELECT the run's next names behind its
	// login; a DialAhead of the caller's own (a test's) is told too.
	told := c.Engine.DialAhead
	eo.DialAhead = func(n int, round remote.Ahead, next msync.NextAhead) {
		if told != nil {
			told(n, round, next)
		}
		aheadOnce.Do(func() {
			ahead <- firstAhead{round, next}
			close(ahead)
		})
		first.prewarm(n, func(ctx context.Context) (msync.Remote, error) {
			return a.dialAhead(ctx, next)
		})
	}
	sum, err := msync.New(a.cfg, store, first.dial, eo).Run(ctx, c.Request)
	res.Summary = sum
	if err != nil {
		fail(err)
		if sum != nil {
			sum.Errors = append(sum.Errors, res.Err)
		}
	}
	res.Finished = now()
	if !c.Engine.DryRun {
		a.record(ctx, c, *res) // under the lock: one writer at a time
	}
}
