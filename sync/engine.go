// Package sync is mailsync's engine: it plans which folders to synchronise
// and runs the three-way merge of each folder's server copy, local Maildir
// and recorded state, then applies the result to both sides in an order that
// is safe to interrupt at any point.
//
// The engine is used by both the one-shot command and the daemon: it takes a
// context for cancellation, a separate "finish then stop" channel, can sync a
// single folder on demand, has a quick mode, and reports progress as events.
package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	gosync "sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// Remote is the IMAP connection the engine drives; *remote.Conn implements
// it, and so does *remote.Folder, one folder's handle on a connection that
// several folders share (sync/pool.go).
type Remote interface {
	List(ctx context.Context, known []string) ([]remote.Mailbox, error)
	Create(ctx context.Context, name string) error
	Select(ctx context.Context, name string, readOnly bool) (remote.Status, error)
	SelectLater(name string, readOnly bool, uidValidity uint32)
	Preselect(ctx context.Context)
	AskChanges(ctx context.Context, uids, flags bool, since uint64) *remote.Changes
	AskVanished(ctx context.Context, since uint64) *remote.Changes
	Status(ctx context.Context, name string) (remote.Status, error)
	UIDs(ctx context.Context, since time.Time) ([]uint32, error)
	SearchHeader(ctx context.Context, field, value string, minUID uint32) ([]uint32, error)
	FetchFlags(ctx context.Context, uids []uint32, changedSince uint64) ([]remote.Info, error)
	FetchInfo(ctx context.Context, uids []uint32, messageID bool) ([]remote.Info, error)
	FetchHeaders(ctx context.Context, uids []uint32) (map[uint32][]byte, error)
	FetchBodies(ctx context.Context, uids []uint32, sink remote.BodySink) error
	StartAppend(ctx context.Context, mailbox string, flags []imap.Flag, date time.Time, size int64, r io.Reader) (*remote.PendingAppend, error)
	MultiAppend(ctx context.Context, mailbox string, msgs []remote.AppendMessage) ([]uint32, error)
	StoreFlags(ctx context.Context, changes []remote.FlagChange, expunge []uint32) error
	CondStore() bool
	QResync() bool
	UIDPlus() bool
	CanMultiAppend() bool
	Close() error
}

// Dialer opens a new logged-in connection.
type Dialer func(ctx context.Context) (Remote, error)

// Options are an engine's settings for every run it makes.
type Options struct {
	DryRun bool
	// Stop, when closed, asks the engine to finish the folders in progress
	// and start no more.
	Stop <-chan struct{}
	// Events receives progress (see Event). It is called from the folder
	// workers and must not block for long.
	Events func(Event)
	// LocalChange, if set, is called with the path of each file in a
	// folder's cur/ or new/ just before the engine adds, renames or removes
	// it (see maildir.Folder.Changing). It must not block for long.
	LocalChange func(path string)
	Log         zerolog.Logger
	// Out receives the dry-run report.
	Out io.Writer
	// Now is the clock (tests).
	Now func() time.Time
	// DialAhead, if set, is told before a run asks for its first
	// connection how many more it expects to want, for the dialer to
	// open them meanwhile (see expectedConns). It is given what to send
	// behind the logins (remote.Options.Ahead): round, the first
	// connection's first round (the STATUS of the folders the state
	// knows, and the LIST), and next, which each connection being
	// opened, the first one too, may ask for the SELECT of a folder the
	// run will push local changes of, each folder once (see preselects).
	DialAhead func(n int, round remote.Ahead, next NextAhead)
}

// NextAhead names the SELECT a connection sends behind its login, for the
// folder's sync to take on it (remote.Ahead.Select); false if none is
// due. It does not wait.
type NextAhead func(ctx context.Context) (remote.Ahead, bool)

// Request is what one run syncs, and how.
type Request struct {
	// Folders restricts the run to these folders, by canonical server name
	// or local name; empty means every folder the account's folders
	// patterns select. A name that matches no folder on either side is
	// reported as that folder's error.
	Folders []string
	// Quick trusts UIDNEXT, MESSAGES and directory times: flags are not
	// compared for folders that look unchanged (`sync --quick`).
	Quick bool
	// AllowMassDelete lifts the mass-deletion guard for this run.
	AllowMassDelete bool
}

// Engine syncs one account. It holds no state between runs, so one engine
// serves every run of a long-lived process; runs of one engine must not
// overlap (the caller holds the account lock for each).
type Engine struct {
	acct   *config.Account
	store  *state.Store
	dial   Dialer
	opts   Options
	layout maildir.Layout
	log    zerolog.Logger
	// listingKept is the size (in recorded files) up to which
	// locallyUnchanged keeps a folder's listing; tests lower it.
	listingKept int
	// lookAheadKept: see lookAhead; tests lower it.
	lookAheadKept int
}

// New returns an engine for acct. The caller holds the account lock and owns
// store.
func New(acct *config.Account, store *state.Store, dial Dialer, opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Stop == nil {
		opts.Stop = make(chan struct{})
	}
	return &Engine{acct: acct, store: store, dial: dial, opts: opts, layout: LocalLayout(acct),
		log: opts.Log.With().Str("account", acct.Name).Logger(), listingKept: listingKept, lookAheadKept: lookAheadKept}
}

// LocalLayout is where acct's folders are on disk: its layout, with
// folder names in modified UTF-7 when folder_names says so.
func LocalLayout(acct *config.Account) maildir.Layout {
	l := maildir.LayoutNamed(string(acct.Local.Layout))
	if acct.Local.FolderNames == config.FolderNamesIMAPUTF7 {
		l = maildir.UTF7Names{Layout: l}
	}
	return l
}

func (e *Engine) emit(ev Event) {
	if e.opts.Events != nil {
		ev.Account = e.acct.Name
		e.opts.Events(ev)
	}
}

// Run syncs the folders req selects. A returned error means the account
// could not be synced at all; folder failures are in Summary.Errors.
func (e *Engine) Run(ctx context.Context, req Request) (*Summary, error) {
	start := e.opts.Now()
	sum := &Summary{Account: e.acct.Name, DryRun: e.opts.DryRun}
	defer func() { sum.Duration = e.opts.Now().Sub(start) }()

	if err := e.checkRoot(ctx); err != nil {
		return sum, err
	}
	stored, err := e.store.Folders(ctx)
	if err != nil {
		return sum, fmt.Errorf("reading state: %w", err)
	}
	looks, waitLooks := e.lookAhead(ctx, stored, req)
	defer waitLooks()
	spares := 0
	if e.opts.DialAhead != nil {
		spares = e.expectedConns(stored, req)
		round := firstRound(stored)
		e.opts.DialAhead(spares, round, e.preselects(round.CondStore, looks))
	}
	conn, err := e.dial(ctx)
	if err != nil {
		return sum, err
	}
	tasks, problems, err := e.planFolders(ctx, conn, req, stored)
	if err != nil {
		conn.Close()
		return sum, err
	}
	for _, p := range problems {
		sum.Errors = append(sum.Errors, p)
		var fe *FolderError
		if errors.As(p, &fe) {
			e.log.Error().Str("folder", fe.Folder).Err(fe.Err).Msg("folder sync failed")
		} else {
			e.log.Error().Err(p).Msg("folder sync failed")
		}
	}
	// Folders that provably did not change on either side never reach a
	// worker, so a no-op run costs one connection and one round of STATUS.
	var work []folderTask
	for _, t := range tasks {
		t.look = looks[lookKey(t.canonical, t.dir)]
		if t.verify = !req.Quick && !e.opts.DryRun && verifyDue(start, t.stored); t.verify {
			e.log.Debug().Str("folder", t.canonical).Msg("comparing both sides in full")
			work = append(work, t)
			continue
		}
		remoteSame := e.remoteUnchanged(t, req.Quick)
		if remoteSame && e.localTimesRecorded(t) {
			sum.Folders = append(sum.Folders, FolderResult{Folder: t.canonical, Unchanged: true})
			if t.stored.RemoteName != t.remote && !e.opts.DryRun {
				// Recorded by older versions without it, or renamed by a
				// folder_map change: the next run asks for the status early.
				if err := e.store.SetRemoteName(ctx, t.stored.ID, t.remote); err != nil {
					e.log.Debug().Err(err).Str("folder", t.canonical).Msg("recording the server name")
				}
			}
			continue
		}
		// Only the local side may have changed: a listing can show that
		// it didn't, with no connection (see locallyUnchanged).
		t.localCheck = remoteSame
		work = append(work, t)
	}
	// Largest first: the biggest folder bounds the run, so it must not be
	// the last one to start.
	sort.SliceStable(work, func(i, j int) bool { return work[i].estimate() > work[j].estimate() })
	e.runTasks(ctx, conn, work, sum, req, spares)
	return sum, nil
}

// remoteUnchanged reports whether STATUS shows the server side of t as
// it was recorded after the last complete sync (with HIGHESTMODSEQ, or in
// quick mode).
func (e *Engine) remoteUnchanged(t folderTask, quick bool) bool {
	s, st := t.status, t.stored
	if s == nil || st == nil || t.createLocal || t.createRemote || st.UIDValidity == 0 || st.UIDNext == 0 {
		return false
	}
	if s.UIDValidity != st.UIDValidity || s.UIDNext != st.UIDNext || s.Messages != st.Messages {
		return false
	}
	// Without CONDSTORE a flag change leaves no trace in STATUS.
	return quick || (s.HighestModSeq != 0 && s.HighestModSeq == st.HighestModSeq)
}

// localTimesRecorded reports whether t's local directory times are the ones
// recorded after its last complete sync, i.e. the local side did not change.
func (e *Engine) localTimesRecorded(t folderTask) bool {
	if t.stored == nil || t.stored.CurMtime == 0 {
		return false
	}
	mf := maildir.Folder{Dir: t.dir}
	cur, nw, err := mf.DirTimes()
	return err == nil && cur == t.stored.CurMtime && nw == t.stored.NewMtime
}

// expectedConns is how many connections beyond the first a run expects
// to want, judged before the server says anything: one for each folder
// whose local directories changed since the last sync recorded their
// times, but the first, up to max_connections in all. Such a folder
// pushes its changes on a connection of its own, or taking turns
// (placeTurns), and a connection opened while the first logs in is ready
// when its plan is. A folder whose server side changed too shares the
// first instead, or takes one of these.
func (e *Engine) expectedConns(stored []state.Folder, req Request) int {
	if len(req.Folders) > 0 {
		return 0 // the run finds out as it goes
	}
	n := 0
	for i := range stored {
		f := &stored[i]
		if f.UIDValidity == 0 || f.CurMtime == 0 || (e.acct.Remote.Filter != nil && !e.acct.Remote.Filter.Match(f.Name)) {
			continue // not known to be changed
		}
		dir, err := e.layout.Dir(e.acct.Local.Path, e.acct.Remote.MapToLocal(f.Name))
		if err == nil && !e.localTimesRecorded(folderTask{stored: f, dir: dir}) {
			n++
		}
	}
	// The first connection takes one of them once its LIST is answered.
	return max(min(n, e.acct.Remote.MaxConnections)-1, 0)
}

// checkRoot stops the account when the Maildir root is missing or empty but
// the state remembers local messages: the typical sign of an unmounted disk,
// where syncing would delete everything on the server.
func (e *Engine) checkRoot(ctx context.Context) error {
	inUse, err := maildir.RootInUse(e.acct.Local.Path)
	if err != nil {
		return fmt.Errorf("local root %s: %w", e.acct.Local.Path, err)
	}
	if inUse {
		return nil
	}
	// Only now is counting worth it: the usual answer is "in use".
	n, err := e.store.MessageCount(ctx)
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	if n > 0 {
		return safetyStop(ErrUnmounted, "local root %s is missing or empty, but the state (%s) records %d local messages; "+
			"is the disk mounted? Nothing was changed. If you really removed the mail, delete the state file to start afresh",
			e.acct.Local.Path, e.store.Path(), n)
	}
	return nil
}

// runTasks syncs the folders on up to max_connections connections, several
// at a time on each when the connections take it (connPool); the first
// spares of them were opened ahead (Options.DialAhead).
func (e *Engine) runTasks(ctx context.Context, first Remote, tasks []folderTask, sum *Summary, req Request, spares int) {
	if len(tasks) == 0 {
		first.Close()
		return
	}
	conns := max(e.acct.Remote.MaxConnections, 1)
	per := 1
	if _, ok := first.(folderOpener); ok {
		per = foldersPerConn
	}
	pool := newConnPool(e.dial, min(conns, len(tasks)), per, first)
	results := make(chan FolderResult)
	var wg gosync.WaitGroup
	stopped, release := pool.wakeOn(ctx, e.opts.Stop)
	attached := pool.attach(ctx, spares)
	go func() {
		defer func() {
			wg.Wait()
			attached()
			release()
			pool.close()
			close(results)
		}()
		for _, t := range tasks {
			// A stop request wins over a free place.
			select {
			case <-e.opts.Stop:
				sum.Stopped = true
				return
			case <-ctx.Done():
				return
			default:
			}
			if t.localCheck && t.look != nil && t.look.unchanged() {
				// Settled by its look alone: it takes no place, which
				// the folders selected behind the logins keep for
				// themselves.
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.locallyUnchanged(ctx, t) // records the directory times
					results <- FolderResult{Folder: t.canonical, Unchanged: true}
				}()
				continue
			}
			s := pool.acquire(stopped, t.place(), t.remote)
			if s == nil {
				select {
				case <-e.opts.Stop:
					sum.Stopped = true
				default:
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- e.runTask(ctx, pool, s, t, req)
			}()
		}
	}()

	for r := range results {
		if r.Err != nil && ctx.Err() != nil {
			// Cut short by a signal, not failed: what the folder did is
			// recorded, and the next run takes it up.
			r.Err, r.Interrupted = nil, true
			sum.Interrupted = true
		}
		sum.Folders = append(sum.Folders, r)
		sum.Counts.add(r.Counts)
		if r.Err != nil {
			sum.Errors = append(sum.Errors, r.Err)
		}
	}
	if sum.Interrupted {
		e.log.Warn().Msg("interrupted: nothing was lost; the next run goes on where this one stopped")
	}
	sort.Slice(sum.Folders, func(i, j int) bool { return sum.Folders[i].Folder < sum.Folders[j].Folder })
}
