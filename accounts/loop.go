package accounts

import (
	"context"
	"errors"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	msync "mailsync/sync"
)

// lockRetry is how soon a loop tries again when another process (a
// one-shot run) holds the account's lock.
const lockRetry = 2 * time.Second

// ErrStopping is the answer to a sync asked of a daemon that is shutting
// down or no longer serves the account.
var ErrStopping = errors.New("the daemon is stopping")

// loop keeps one account in sync for the daemon: a cycle at start, then
// every autorefresh (quick ones in between, as the quick key says), and
// whenever IDLE, the local watch, SIGUSR1 or `mailsync sync` asks; after a
// failure it backs off. It takes the account's lock only while a cycle
// runs, so one-shot runs can still get in between.
type loop struct {
	d    *Daemon
	acct *Account
	log  zerolog.Logger
	// wake is signalled when work is added.
	wake chan struct{}
	// stop is closed to end the loop after the cycle in progress (a reload
	// changed or removed the account); done is closed when it has ended.
	stop     chan struct{}
	stopOnce gosync.Once
	done     chan struct{}
	// stopping is closed when the loop must start nothing new: stop, or
	// the daemon's finish-then-exit.
	stopping chan struct{}
	// progress is when the running cycle last moved something (unix ns).
	progress atomic.Int64
	// inHook is set while a hook runs: it is bounded by hook_timeout, not
	// by the watchdog's progress rule.
	inHook atomic.Bool
	// ctx is run's; idle counts the IDLE goroutines.
	ctx  context.Context
	idle gosync.WaitGroup
	// restartIdle is signalled to drop and reopen the IDLE connections.
	restartIdle chan struct{}

	mu      gosync.Mutex
	pending work
	// allowing is requested work that lifts the mass-deletion guard: it
	// runs as a cycle of its own, never merged with other work, so that
	// the guard is lifted for nothing but what the user named.
	allowing  work
	status    AccountStatus
	quickLeft int       // scheduled quick cycles before the next full one
	next      time.Time // the next scheduled cycle
	holdUntil time.Time // no cycle before this (the lock was held)
	watch     *localWatch
	idleStart gosync.Once // starts the IDLE watchers after a first good cycle
	ended     bool        // the loop has ended; work is refused, or handed on
	leftover  []work      // what it did not do; see abandon
	handing   bool        // the leftover has not been taken yet
	polling   gosync.Once // says once that IDLE is missing
}

func newLoop(d *Daemon, a *Account) *loop {
	l := &loop{
		d: d, acct: a, log: a.log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		stopping: make(chan struct{}), restartIdle: make(chan struct{}, 1),
	}
	go func() {
		defer close(l.stopping)
		select {
		case <-l.stop:
		case <-d.finish:
		case <-l.done:
		}
	}()
	l.status = AccountStatus{Name: a.Name(), State: StateWaiting}
	return l
}

// end asks the loop to stop after the cycle in progress.
func (l *loop) end() { l.stopOnce.Do(func() { close(l.stop) }) }

// submit adds work; it runs as soon as the loop is free (and, unless
// forced, not backing off).
func (l *loop) submit(w work) {
	l.mu.Lock()
	if l.ended {
		if l.handing {
			// Whoever takes the leftover answers for it too.
			l.leftover = append(l.leftover, w)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.refuse(w.waiters)
		return
	}
	l.queue(w)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) run(ctx context.Context) {
	defer close(l.done)
	defer l.abandon()
	// The IDLE connections end with the loop, before its account closes.
	l.ctx = ctx
	defer l.idle.Wait()
	sched := l.acct.cfg.Schedule
	l.mu.Lock()
	l.quickLeft = sched.Quick
	l.mu.Unlock()
	stopping := l.stopping
	if sched.WatchLocal {
		if w, err := newLocalWatch(l); err != nil {
			l.log.Error().Err(err).Msg("watch_local: cannot watch the local folders; they are synced every autorefresh")
		} else {
			l.mu.Lock()
			l.watch = w
			l.mu.Unlock()
			go w.run(ctx, stopping)
			defer w.close()
		}
	}
	// The first cycle: at once, and full unless every cycle is quick.
	l.submit(work{all: true, full: sched.Quick != -1, force: true})
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w, wait := l.take()
		if w == nil {
			l.setState(l.restingState(), func(s *AccountStatus) {})
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-stopping:
				return
			case <-l.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		l.setState(StateWaiting, func(s *AccountStatus) { s.NextSync = time.Time{} })
		if !l.d.slots.acquire(ctx, stopping) {
			l.requeue(*w)
			return
		}
		res := l.cycle(ctx, w)
		l.d.slots.release()
		l.finished(w, res)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-stopping:
			return
		default:
		}
	}
}

// take returns the work to do now, or how long to wait for the next
// scheduled cycle. A scheduled cycle that is due becomes work.
func (l *loop) take() (*work, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.next.IsZero() && !now.Before(l.next) {
		full := true
		switch {
		case l.acct.cfg.Schedule.Quick == -1:
			full = false
		case l.quickLeft > 0:
			l.quickLeft--
			full = false
		default:
			l.quickLeft = l.acct.cfg.Schedule.Quick
		}
		l.pending.merge(work{all: true, full: full})
		l.next = time.Time{}
	}
	if now.Before(l.holdUntil) {
		return nil, l.holdUntil.Sub(now)
	}
	if !l.allowing.empty() {
		w := l.allowing
		l.allowing = work{}
		return &w, 0
	}
	backingOff := l.status.Failures > 0 && !l.next.IsZero() && now.Before(l.next)
	if l.pending.empty() || (backingOff && !l.pending.force) {
		wait := time.Hour
		if !l.next.IsZero() {
			wait = l.next.Sub(now)
		}
		return nil, wait
	}
	w := l.pending
	l.pending = work{}
	return &w, 0
}

// queue adds w to the work waiting; l.mu is held.
func (l *loop) queue(w work) {
	if w.allowMassDelete {
		l.allowing.merge(w)
	} else {
		l.pending.merge(w)
	}
}

// requeue puts back work that could not run.
func (l *loop) requeue(w work) {
	l.mu.Lock()
	l.queue(w)
	l.mu.Unlock()
}

// abandon ends the loop's work: what was asked of it and has not run is
// kept for the loop that takes over (leftover), or, if none will, its
// waiters are answered. Later submissions are answered at once.
func (l *loop) abandon() {
	l.mu.Lock()
	left := []work{l.pending, l.allowing}
	l.pending, l.allowing = work{}, work{}
	l.ended = true
	l.status.State = StateStopped
	l.status.NextSync = time.Time{}
	l.leftover, l.handing = left, true
	l.mu.Unlock()
	l.d.changed()
}

// takeLeftover returns the work the loop did not do, once it has ended.
func (l *loop) takeLeftover() []work {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := l.leftover
	l.leftover, l.handing = nil, false
	return left
}

// refuse answers waiters whose work will not run.
func (l *loop) refuse(waiters []chan<- Result) {
	for _, ch := range waiters {
		ch <- Result{Account: l.acct.Name(), Err: &msync.AccountError{Account: l.acct.Name(), Err: ErrStopping}}
	}
}

// cycle runs w.
func (l *loop) cycle(ctx context.Context, w *work) Result {
	mode, req := w.cycle()
	l.progress.Store(time.Now().UnixNano())
	l.setState(StateSyncing, func(s *AccountStatus) { s.Done, s.Total = 0, 0 })
	// A reload that restarts the loop lets the cycle end as it would; only
	// the daemon's finish-then-exit ends it after the folders in progress.
	eo := msync.Options{Stop: l.d.finish, Events: l.event}
	l.mu.Lock()
	if l.watch != nil {
		eo.LocalChange = l.watch.ownChange
	}
	l.mu.Unlock()
	l.log.Debug().Str("mode", string(mode)).Strs("folders", req.Folders).Msg("sync")
	res := l.acct.Sync(ctx, Cycle{Mode: mode, Request: req, Engine: eo})
	Report(l.d.log, nil, res) // Report adds the account field
	if sum := res.Summary; sum != nil {
		ev := l.log.Debug()
		if sum.Counts != (msync.Counts{}) {
			ev = l.log.Info()
		}
		ev.Str("mode", string(mode)).Msg(sum.Line())
	}
	return res
}

// event follows the engine's progress.
func (l *loop) event(ev msync.Event) {
	l.progress.Store(time.Now().UnixNano())
	switch ev.Kind {
	case msync.FolderPlanned:
		l.setState(StateSyncing, func(s *AccountStatus) { s.Total += ev.Total })
	case msync.Transferred:
		l.setState(StateSyncing, func(s *AccountStatus) { s.Done += ev.N })
	}
}

// activity records that bytes moved on one of the account's connections.
func (l *loop) activity() { l.progress.Store(time.Now().UnixNano()) }

// finished records a cycle's result, answers its waiters and schedules
// what comes next.
func (l *loop) finished(w *work, res Result) {
	now := time.Now()
	sched := l.acct.cfg.Schedule
	l.mu.Lock()
	if res.Locked {
		// Another process is syncing the account: try again shortly,
		// with the same work and the same waiters.
		l.queue(*w)
		l.holdUntil = now.Add(lockRetry)
		l.mu.Unlock()
		l.log.Info().Msg("another mailsync holds the account's lock; trying again shortly")
		return
	}
	s := &l.status
	s.LastSync = now
	s.LastResult, s.LastError = "ok", ""
	if res.Failed() {
		s.LastResult = "error"
		s.LastError = bareMessage(res.Errors()[0])
	}
	if needsBackoff(res) {
		s.Failures++
		l.next = now.Add(backoff(s.Failures, nil))
		l.log.Warn().Int("failures", s.Failures).Time("retry_at", l.next).Msg("backing off")
	} else {
		s.Failures = 0
		if w.all || l.next.IsZero() {
			l.next = now.Add(sched.Autorefresh + jitter(sched.Jitter, nil))
		}
	}
	l.mu.Unlock()
	for _, ch := range w.waiters {
		ch <- res
	}
	if l.watch != nil {
		l.watch.refresh()
	}
	if res.Err == nil {
		// The folders' names on the server are known now.
		l.idleStart.Do(func() {
			l.idle.Add(1)
			go func() {
				defer l.idle.Done()
				l.runIdle(l.ctx)
			}()
		})
	}
	l.d.changed()
}

// needsBackoff reports whether a cycle failed in a way that retrying at
// once would repeat: the account could not be synced (no connection, a
// refused login, a broken password source), or every folder it tried
// failed without a safety stop (the connection kept dropping). A safety
// stop waits for the user and holds up nothing else.
func needsBackoff(r Result) bool {
	if r.Locked {
		return false
	}
	if r.Err != nil {
		return StopKind(r.Err) == "" || errors.Is(r.Err, msync.ErrUnmounted)
	}
	if r.Summary == nil || len(r.Summary.Errors) == 0 {
		return false
	}
	for _, f := range r.Summary.Folders {
		if f.Err == nil {
			return false
		}
	}
	for _, err := range r.Summary.Errors {
		if StopKind(err) == "" {
			return true
		}
	}
	return false
}

// restingState is the state between cycles.
func (l *loop) restingState() LoopState {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.status.Failures > 0:
		return StateBackoff
	case len(l.status.Idle) > 0:
		return StateIdle
	}
	return StateWaiting
}

// setState sets the loop's state, lets f change the rest, and tells the
// daemon.
func (l *loop) setState(st LoopState, f func(*AccountStatus)) {
	l.mu.Lock()
	l.status.State = st
	if st != StateSyncing && st != StateStopped {
		l.status.NextSync = l.next
	}
	f(&l.status)
	l.mu.Unlock()
	l.d.changed()
}

// snapshot is the loop's live status.
func (l *loop) snapshot() AccountStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	s.Idle = append([]string(nil), s.Idle...)
	return s
}

// healthy reports whether the loop is not stuck: it is not syncing, or its
// cycle moved something within the last d.
func (l *loop) healthy(now time.Time, d time.Duration) bool {
	l.mu.Lock()
	syncing := l.status.State == StateSyncing
	l.mu.Unlock()
	return !syncing || l.inHook.Load() || now.Sub(time.Unix(0, l.progress.Load())) < d
}

// resumed drops the held connections, which died in the sleep, and syncs
// at once.
func (l *loop) resumed() {
	select {
	case l.restartIdle <- struct{}{}:
	default:
	}
	l.submit(work{all: true, full: true, force: true})
}
