package accounts

import (
	"context"
	"fmt"
	"maps"
	"slices"
	gosync "sync"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	msync "mailsync/sync"
)

// DaemonOptions configure a daemon.
type DaemonOptions struct {
	Config *config.Config
	// Accounts limits the daemon to these accounts (-a); empty serves all,
	// including those a reload adds.
	Accounts []string
	Log      zerolog.Logger
	// Finish, when closed, asks every loop to finish its cycle and stop
	// (SIGUSR2, SIGABRT).
	Finish <-chan struct{}
	// Dial replaces how the engine's connections are made (tests).
	Dial DialFunc
}

// Daemon runs one loop per account within max_sync_accounts: the
// built-in scheduler of `mailsync daemon`.
type Daemon struct {
	log    zerolog.Logger
	only   []string
	finish <-chan struct{}
	dial   DialFunc
	slots  *slots
	// notify is signalled when an account's status changes.
	notify chan struct{}

	mu    gosync.Mutex
	ctx   context.Context // the loops' context, once Run started
	cfg   *config.Config
	loops map[string]*loop
	// ending holds the loops that were told to end and whose work has not
	// yet been handed to their successor.
	ending map[string]*loop
	wg     gosync.WaitGroup
}

// NewDaemon checks the accounts and prepares the loops; Run starts them.
func NewDaemon(o DaemonOptions) (*Daemon, error) {
	if err := CheckNames(o.Config, o.Accounts); err != nil {
		return nil, err
	}
	finish := o.Finish
	if finish == nil {
		finish = make(chan struct{})
	}
	return &Daemon{
		log: o.Log, only: o.Accounts, finish: finish, dial: o.Dial,
		slots: newSlots(o.Config.General.MaxSyncAccounts), notify: make(chan struct{}, 1),
		cfg: o.Config, loops: map[string]*loop{}, ending: map[string]*loop{},
	}, nil
}

// served is the accounts of cfg the daemon serves.
func (d *Daemon) served(cfg *config.Config) []string {
	if len(d.only) == 0 {
		return cfg.AccountNames()
	}
	var out []string
	for _, n := range d.only {
		if _, ok := cfg.Accounts[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Run starts the loops and returns when they have all ended: after ctx
// ends (SIGTERM), or after Finish was closed and their cycles finished.
func (d *Daemon) Run(ctx context.Context) {
	<-d.Start(ctx)
}

// Start starts the loops and returns at once; the channel is closed when
// they have all ended, as Run returns.
func (d *Daemon) Start(ctx context.Context) <-chan struct{} {
	d.mu.Lock()
	d.ctx = ctx
	for _, name := range d.served(d.cfg) {
		d.startLocked(name)
	}
	d.mu.Unlock()
	go d.watchResume(ctx)
	return d.allDone(ctx)
}

// allDone is closed when every loop has ended and no new one can start.
func (d *Daemon) allDone(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-d.finish:
		}
		d.mu.Lock()
		d.ctx = nil // no loop starts any more
		d.mu.Unlock()
		d.wg.Wait()
		close(ch)
	}()
	return ch
}

// startLocked starts the loop of account name; d.mu is held.
func (d *Daemon) startLocked(name string) {
	if d.ctx == nil {
		return
	}
	var l *loop
	a, err := Open(d.cfg, name, OpenOptions{Log: d.log, Dial: d.dial,
		Activity:    func() { l.activity() },
		HookRunning: func(on bool) { l.inHook.Store(on) },
	})
	if err != nil {
		d.log.Error().Str("account", name).Err(err).Msg("cannot serve the account")
		return
	}
	l = newLoop(d, a)
	d.loops[name] = l
	d.wg.Add(1)
	ctx := d.ctx
	go func() {
		defer d.wg.Done()
		defer a.Close()
		l.run(ctx)
		d.mu.Lock()
		replaced := d.loops[name] != l
		d.mu.Unlock()
		if !replaced {
			// Ended by the daemon's end, not by a reload: no loop takes
			// over what was asked of it.
			for _, w := range l.takeLeftover() {
				l.refuse(w.waiters)
			}
		}
	}()
	d.changed()
}

// Reload applies a new configuration: the loops of accounts whose
// configuration changed finish their cycle and start again, new accounts
// start, removed ones stop.
func (d *Daemon) Reload(cfg *config.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cfg
	d.cfg = cfg
	d.slots.setLimit(cfg.General.MaxSyncAccounts)
	if d.ctx == nil {
		// Not started, or shutting down: nothing to start or restart.
		return
	}
	want := d.served(cfg)
	for name := range d.loops {
		if !slices.Contains(want, name) {
			d.log.Info().Str("account", name).Msg("account removed from the configuration; stopping its loop")
			d.endLocked(name)
		}
	}
	for _, n := range d.only {
		if _, ok := cfg.Accounts[n]; !ok {
			d.log.Error().Str("account", n).Str("config", cfg.Path).Msg("account given with -a is no longer in the configuration")
		}
	}
	for _, name := range want {
		_, running := d.loops[name]
		_, ending := d.ending[name]
		switch {
		case ending:
			// Its old loop is finishing a cycle; the new one starts after.
		case !running:
			d.log.Info().Str("account", name).Msg("new account; starting its loop")
			d.startLocked(name)
		case old.General.StateDir != cfg.General.StateDir || !old.Accounts[name].SameAs(cfg.Accounts[name]):
			d.log.Info().Str("account", name).Msg("account configuration changed; restarting its loop")
			d.endLocked(name)
		}
	}
}

// endLocked ends the loop of account name after its cycle; d.mu is held.
// Until it has ended no other loop of the account starts: two must not
// sync one account at once. Then, if the configuration in force still has
// the account, a new loop starts.
func (d *Daemon) endLocked(name string) {
	l := d.loops[name]
	l.end()
	delete(d.loops, name)
	d.ending[name] = l
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-l.done
		d.mu.Lock()
		delete(d.ending, name)
		if d.loops[name] == nil && slices.Contains(d.served(d.cfg), name) {
			d.startLocked(name)
		}
		next := d.loops[name]
		// Under d.mu: a Sync that found the old loop has handed it its
		// work already; later ones find the new loop.
		left := l.takeLeftover()
		d.mu.Unlock()
		// What was asked of the old loop is asked of the new one.
		for _, w := range left {
			if next != nil {
				next.submit(w)
			} else {
				l.refuse(w.waiters)
			}
		}
	}()
}

// SyncAll asks every account for a full sync now, through any back-off
// (SIGUSR1).
func (d *Daemon) SyncAll() {
	for _, l := range d.loopList() {
		l.submit(work{all: true, full: true, force: true})
	}
}

func (d *Daemon) loopList() []*loop {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*loop, 0, len(d.loops))
	for _, name := range slices.Sorted(maps.Keys(d.loops)) {
		out = append(out, d.loops[name])
	}
	return out
}

// Serves reports whether the daemon has a loop for account name.
func (d *Daemon) Serves(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loops[name] != nil
}

// Sync asks each account in names for a cycle of req that starts after
// this call, so that it sees every change made before it, and returns
// their results in the order of names (`mailsync sync` beside a daemon).
func (d *Daemon) Sync(ctx context.Context, names []string, req msync.Request) ([]Result, error) {
	type asked struct {
		name string
		ch   chan Result
	}
	var waits []asked
	d.mu.Lock()
	if d.ctx == nil {
		d.mu.Unlock()
		return nil, ErrStopping
	}
	for _, n := range names {
		l := d.loops[n]
		if l == nil {
			// Being restarted: the old loop hands the work on.
			l = d.ending[n]
		}
		if l == nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("the daemon does not serve account %q", n)
		}
		ch := make(chan Result, 1)
		w := work{full: !req.Quick, force: true, allowMassDelete: req.AllowMassDelete, waiters: []chan<- Result{ch}}
		if len(req.Folders) == 0 {
			w.all = true
		} else {
			w.folders = folderSet(req.Folders...)
		}
		l.submit(w)
		waits = append(waits, asked{n, ch})
	}
	d.mu.Unlock()
	out := make([]Result, 0, len(waits))
	for _, w := range waits {
		select {
		case r := <-w.ch:
			out = append(out, r)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// Status is the live view of every account the daemon serves.
func (d *Daemon) Status() []AccountStatus {
	ls := d.loopList()
	out := make([]AccountStatus, len(ls))
	for i, l := range ls {
		out[i] = l.snapshot()
	}
	return out
}

// Changed is signalled when an account's status changes.
func (d *Daemon) Changed() <-chan struct{} { return d.notify }

func (d *Daemon) changed() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// Healthy reports whether every loop is waiting, idling, or syncing with
// progress within the last window: what the systemd watchdog is told.
func (d *Daemon) Healthy(window time.Duration) bool {
	now := time.Now()
	for _, l := range d.loopList() {
		if !l.healthy(now, window) {
			return false
		}
	}
	return true
}

// dialIdle opens a connection to hold in IDLE.
func (d *Daemon) dialIdle(ctx context.Context, a *Account) (idleConn, error) {
	c, err := a.DialConn(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// watchResume notices a suspend and resume and then has every account
// drop its held connections and sync at once.
func (d *Daemon) watchResume(ctx context.Context) {
	det := newResumeDetector(systemClocks())
	t := time.NewTicker(resumeTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.finish:
			return
		case <-t.C:
		}
		if slept, ok := det.check(); ok {
			d.log.Info().Dur("slept", slept.Round(time.Second)).Msg("resumed from suspend; syncing every account")
			for _, l := range d.loopList() {
				l.resumed()
			}
		}
	}
}
