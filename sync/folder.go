package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"mailsync/internal/crlf"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// batchSize is how many message records share one state transaction while
// downloading: large enough to amortise the commit, small enough that a crash
// leaves little to adopt on the next run.
const batchSize = 256

// folderSync is the work on one folder during one run.
type folderSync struct {
	e      *Engine
	conn   Remote
	t      folderTask
	mf     *maildir.Folder
	md5    string
	st     state.Folder
	server remote.Status
	rows   []state.Message
	log    zerolog.Logger
	c      Counts
	// known is the number of recorded messages the plan was made against,
	// the measure of a mass deletion.
	known int
	// partialRows is set when rows holds only the changed pairs (see
	// incrementalPlan); claimedAll once the other recorded UIDs have been
	// read for locating uploads.
	partialRows, claimedAll bool
	// localChanged is set once mailsync itself changed cur/ or new/, so the
	// recorded directory mtimes can't vouch for "nothing changed".
	localChanged bool
	// asked is what incrementalPlan asked the server, if it did.
	asked *serverChanges
}

func (e *Engine) syncFolder(ctx context.Context, conn Remote, t folderTask) FolderResult {
	fs := &folderSync{
		e: e, conn: conn, t: t,
		mf:  &maildir.Folder{Dir: t.dir, Fsync: e.acct.Local.Fsync, DeferDirSync: true},
		md5: maildir.FolderMD5(t.local),
		log: e.log.With().Str("folder", t.canonical).Logger(),
	}
	res := FolderResult{Folder: t.canonical}
	err := fs.run(ctx)
	res.Counts = fs.c
	if err != nil {
		res.Err = &FolderError{Account: e.acct.Name, Folder: t.canonical, Err: err}
		fs.log.Error().Err(err).Msg("folder failed")
	}
	return res
}

func (fs *folderSync) run(ctx context.Context) (err error) {
	e := fs.e
	dry := e.opts.DryRun
	if fs.t.createRemote {
		fs.report("create server folder %q", fs.t.remote)
		if !dry {
			if err := fs.conn.Create(ctx, fs.t.remote); err != nil {
				return err
			}
		}
	}
	if fs.t.createLocal {
		fs.report("create local folder %s", fs.t.dir)
		if !dry {
			if err := fs.mf.Create(); err != nil {
				return fmt.Errorf("creating %s: %w", fs.t.dir, err)
			}
		}
	}
	if fs.t.stored != nil {
		fs.st = *fs.t.stored
	} else if !dry {
		fs.st, err = e.store.EnsureFolder(ctx, fs.t.canonical, fs.t.local)
		if err != nil {
			return fmt.Errorf("recording folder: %w", err)
		}
	}
	fs.st.LocalName = fs.t.local

	// Local markers first: a change made after this point shows up as a
	// different mtime next time.
	var curM, newM int64
	var timesRead time.Time // when curM and newM were read
	localExists := fs.mf.Exists()
	if !localExists && !fs.t.createLocal {
		// Listed as a folder (it has cur/) but incomplete, or removed since
		// the listing: reading it as empty would delete its mail elsewhere.
		return fmt.Errorf("local folder %s has no cur/ or new/ directory (incomplete, or removed during the sync); "+
			"nothing was changed. Create the missing directory to continue", fs.t.dir)
	}
	pre := fs.t.listing
	if pre != nil && localExists {
		curM, newM, timesRead = pre.cur, pre.new, pre.read
	} else if localExists {
		timesRead = e.opts.Now()
		curM, newM, err = fs.mf.DirTimes()
		if err != nil {
			return err
		}
	}
	if localExists && !dry {
		fs.mf.CleanTmp(e.opts.Now(), 36*time.Hour)
	}

	// A folder whose directory times are the recorded ones is, locally,
	// exactly what the state says: its plan can come from the server's
	// changes alone, without a listing (see incrementalPlan).
	trusted := !dry && localExists && pre == nil && fs.t.stored != nil && fs.st.CurMtime != 0 &&
		curM == fs.st.CurMtime && newM == fs.st.NewMtime
	var entries []maildir.Entry
	stable := true
	if localExists && !trusted {
		if entries, stable, err = fs.listLocal(pre); err != nil {
			return err
		}
	}

	roSelect := dry || e.acct.Remote.Readonly
	if fs.t.createRemote && dry {
		// The folder doesn't exist yet; plan as if it were empty.
		fs.server = remote.Status{}
	} else {
		fs.server, err = fs.conn.Select(ctx, fs.t.remote, roSelect)
		if err != nil {
			return err
		}
	}
	var p plan
	planned := false
	if trusted {
		if p, planned, err = fs.incrementalPlan(ctx, nil); err != nil {
			return err
		}
		if !planned {
			if entries, stable, err = fs.listLocal(nil); err != nil {
				return err
			}
		}
	} else if !dry && localExists && stable && fs.t.stored != nil {
		// Listed: the state's digest tells which files changed, and only
		// their rows are read.
		lc := &localChanges{entries: entries}
		if pre != nil {
			lc.digest, lc.recorded = pre.digest, pre.recorded
		}
		if p, planned, err = fs.incrementalPlan(ctx, lc); err != nil {
			return err
		}
	}
	if !planned {
		if p, err = fs.fullPlan(ctx, pre, entries, stable); err != nil {
			return err
		}
	}
	if err := fs.filterDownloads(ctx, &p); err != nil {
		return err
	}
	// A file missing from a listing that may have missed a mail client's
	// rename gets a second look before its message is deleted on the
	// server. The look comes before the folder changes under our own hands:
	// a listing taken right after mailsync's renames would wait for the
	// directory times to settle.
	if len(p.deleteRemote) > 0 && !fs.snapshot(curM, newM, timesRead, stable) {
		if err := fs.recheckLocalDeletions(&p); err != nil {
			return err
		}
	}
	if err := fs.checkMassDelete(&p); err != nil {
		return err
	}
	if dry {
		fs.reportPlan(&p)
		return nil
	}
	if err := fs.apply(ctx, &p); err != nil {
		return err
	}

	// Record what the server looked like when we selected it, not after our
	// own changes: a concurrent change by another client then still shows as
	// a difference next time, at the cost of one extra look.
	fs.st.UIDValidity = fs.server.UIDValidity
	fs.st.UIDNext = fs.server.UIDNext
	fs.st.HighestModSeq = fs.server.HighestModSeq
	fs.st.Messages = fs.server.Messages
	fs.st.RemoteName = fs.t.remote
	fs.st.CurMtime, fs.st.NewMtime = 0, 0
	if !fs.localChanged && localExists && !fs.t.createLocal {
		fs.st.CurMtime, fs.st.NewMtime = trustedTimes(curM, newM, timesRead)
	}
	// After our own changes the times stay unrecorded: they would vouch for
	// a listing nobody has read (a mail client may have changed the folder
	// meanwhile, in the same clock tick). The next run compares a listing
	// with the state before it trusts them; see Engine.locallyUnchanged.
	return fs.withTx(ctx, func(tx *state.Tx) error {
		if err := tx.UpdateFolder(fs.st); err != nil {
			return err
		}
		// Whatever interrupted downloads left behind has been settled above.
		return tx.DeleteJournalOp(state.OpDownload)
	})
}

// snapshot reports whether the folder's listing was a snapshot: the
// directory times read before it (cur, nw, read at readAt) are still the
// same and were already old enough to be trusted when they were read (see
// trustedTimes), so any change while it was read would have moved them.
func (fs *folderSync) snapshot(cur, nw int64, readAt time.Time, stable bool) bool {
	if !stable {
		return false
	}
	if c, _ := trustedTimes(cur, nw, readAt); c == 0 {
		return false
	}
	c, n, err := fs.mf.DirTimes()
	return err == nil && c == cur && n == nw
}

// listLocal reads the local folder (or takes what the engine's local check
// read) and reports the files it skips.
func (fs *folderSync) listLocal(pre *listing) (entries []maildir.Entry, stable bool, err error) {
	var problems []maildir.Problem
	if pre != nil {
		entries, problems, stable = pre.entries, pre.problems, pre.stable
	} else if entries, problems, stable, err = fs.mf.Scan(); err != nil {
		return nil, false, fmt.Errorf("scanning %s: %w", fs.t.dir, err)
	}
	for _, p := range problems {
		fs.log.Warn().Str("file", p.Path).Msg(p.Err.Error())
		fs.c.Skipped++
	}
	if !stable {
		fs.log.Warn().Msg("the folder kept changing while it was read (a mail client at work?); " +
			"local deletions are left for the next run")
	}
	return entries, stable, nil
}

// fullPlan is the three-way merge of the whole folder: the local listing,
// every state row, and the server's UIDs and changed flags.
func (fs *folderSync) fullPlan(ctx context.Context, pre *listing, entries []maildir.Entry, stable bool) (plan, error) {
	e := fs.e
	dry := e.opts.DryRun
	var err error
	if pre != nil && fs.server.UIDValidity == fs.st.UIDValidity {
		// Without Size and MessageID, which only re-association reads.
		if fs.rows, err = e.store.Pairs(ctx, fs.st.ID); err != nil {
			return plan{}, fmt.Errorf("reading state: %w", err)
		}
	} else if fs.st.ID != 0 {
		fs.rows, err = e.store.Messages(ctx, fs.st.ID)
		if err != nil {
			return plan{}, fmt.Errorf("reading state: %w", err)
		}
	}
	if fs.st.UIDValidity != 0 && fs.server.UIDValidity != fs.st.UIDValidity && !(fs.t.createRemote && dry) {
		if err := fs.reassociate(ctx, entries); err != nil {
			return plan{}, err
		}
	}
	remoteUIDs, remoteFlags, err := fs.listRemote(ctx)
	if err != nil {
		return plan{}, err
	}
	if !dry {
		if err := fs.recoverJournal(ctx, entries, remoteUIDs); err != nil {
			return plan{}, err
		}
	}
	fetched, err := fs.interruptedDownloads(ctx)
	if err != nil {
		return plan{}, err
	}
	fs.known = len(fs.rows)
	return makePlan(planInput{
		state: fs.rows, local: entries, remoteUIDs: remoteUIDs, remoteFlags: remoteFlags, folderMD5: fs.md5,
		localSide:       sidePolicy{readOnly: e.acct.Local.Readonly, syncDeletes: e.acct.Local.SyncDeletes},
		remoteSide:      sidePolicy{readOnly: e.acct.Remote.Readonly, syncDeletes: e.acct.Remote.SyncDeletes},
		fetchedByUs:     fetched,
		localIncomplete: !stable,
	}), nil
}

// maxJournalUIDs bounds what a download journal entry, one folder's
// downloads, may name: far beyond any folder, short of a corrupt entry's
// four billion.
const maxJournalUIDs = 1 << 24

// interruptedDownloads returns the UIDs that earlier, interrupted runs were
// downloading in the server's current UIDVALIDITY.
func (fs *folderSync) interruptedDownloads(ctx context.Context) (map[uint32]bool, error) {
	if fs.st.ID == 0 {
		return nil, nil
	}
	js, err := fs.e.store.Journal(ctx, fs.st.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]bool)
	for _, j := range js {
		if j.Op != state.OpDownload || j.UIDValidity != fs.server.UIDValidity {
			continue
		}
		uids, err := remote.ParseUIDSet(j.UIDs, maxJournalUIDs)
		if err != nil {
			fs.log.Warn().Err(err).Msg("unreadable download journal entry; ignored")
			continue
		}
		for _, u := range uids {
			out[u] = true
		}
	}
	return out, nil
}

// listRemote returns the server's UIDs and the flags known to differ from
// the state (all flags when there is no cheaper way). What it needs to ask
// is known from SELECT and the state, so UID SEARCH and UID FETCH go out
// together: one round trip, not two.
func (fs *folderSync) listRemote(ctx context.Context) (map[uint32]bool, map[uint32]flagSet, error) {
	st, srv := fs.st, fs.server
	uids := make(map[uint32]bool)
	flags := make(map[uint32]flagSet)
	if srv.UIDValidity == 0 && fs.t.createRemote {
		return uids, flags, nil
	}
	same := st.UIDValidity == srv.UIDValidity && st.UIDNext != 0
	// Nothing was added (same UIDNEXT) and so nothing removed (same count):
	// the server has exactly the UIDs it had.
	kept := same && st.UIDNext == srv.UIDNext && st.Messages == srv.Messages
	if kept {
		for _, r := range fs.rows {
			if r.UID != 0 {
				uids[r.UID] = true
			}
		}
	}
	askUIDs := !kept && srv.Messages > 0
	// No flags are asked for when there is no pair to compare them with,
	// or no message on the server.
	askFlags, since := false, uint64(0)
	if len(fs.rows) > 0 && (len(uids) > 0 || askUIDs) {
		switch {
		case same && fs.conn.CondStore() && st.HighestModSeq != 0 && srv.HighestModSeq != 0:
			askFlags, since = srv.HighestModSeq != st.HighestModSeq, st.HighestModSeq
		case fs.e.opts.Quick && same:
		default:
			askFlags = true
		}
	}
	answers, err := fs.answers(ctx, askUIDs, askFlags, since)
	if err != nil {
		return nil, nil, err
	}
	for _, u := range answers.uids {
		uids[u] = true
	}
	if len(uids) == 0 {
		return uids, flags, nil
	}
	for _, in := range answers.flags {
		flags[in.UID] = parseIMAPFlags(in.Flags)
	}
	return uids, flags, nil
}

// answers returns the server's answers to UID SEARCH ALL (if uids) and UID
// FETCH FLAGS CHANGEDSINCE since (if flags): those incrementalPlan already
// got, in this session, and the others asked now, together.
func (fs *folderSync) answers(ctx context.Context, uids, flags bool, since uint64) (*serverChanges, error) {
	prior := fs.asked
	var haveUIDs, haveFlags bool
	if prior != nil {
		prior.wait()
		haveUIDs = uids && prior.askedUIDs && prior.errs[0] == nil
		haveFlags = flags && prior.askedFlags && prior.since == since && prior.errs[1] == nil
	}
	c := fs.askChanges(ctx, uids && !haveUIDs, flags && !haveFlags, since)
	if err := c.wait(); err != nil {
		return nil, err
	}
	if haveUIDs {
		c.uids = prior.uids
	}
	if haveFlags {
		c.flags = prior.flags
	}
	return c, nil
}

// filterDownloads applies max_age and max_size to the new server messages.
func (fs *folderSync) filterDownloads(ctx context.Context, p *plan) error {
	acct := fs.e.acct
	if len(p.download) == 0 {
		return nil
	}
	if !acct.MaxAge.IsZero() {
		since, err := fs.conn.UIDs(ctx, acct.MaxAge.Since(fs.e.opts.Now()))
		if err != nil {
			return err
		}
		ok := make(map[uint32]bool, len(since))
		for _, u := range since {
			ok[u] = true
		}
		kept := p.download[:0]
		for _, u := range p.download {
			if ok[u] {
				kept = append(kept, u)
			}
		}
		p.download = kept
	}
	if acct.MaxSize > 0 && len(p.download) > 0 {
		infos, err := fs.conn.FetchInfo(ctx, p.download, false)
		if err != nil {
			return err
		}
		big := make(map[uint32]int64)
		for _, in := range infos {
			if in.Size > acct.MaxSize {
				big[in.UID] = in.Size
			}
		}
		kept := p.download[:0]
		for _, u := range p.download {
			if size, ok := big[u]; ok {
				fs.log.Warn().Uint32("uid", u).Int64("size", size).Int64("max_size", acct.MaxSize).
					Msg("message larger than max_size; not downloaded")
				fs.c.Skipped++
				continue
			}
			kept = append(kept, u)
		}
		p.download = kept
	}
	return nil
}

// checkMassDelete stops a folder sync that would delete more than half of a
// folder of more than 20 messages on either side: that is what a wiped
// server, a reset mailbox or a botched local move looks like.
func (fs *folderSync) checkMassDelete(p *plan) error {
	if fs.e.opts.AllowMassDelete {
		return nil
	}
	n := fs.known
	if n <= 20 {
		return nil
	}
	if d := len(p.deleteLocal); d*2 > n {
		return fmt.Errorf("%w: %d of %d messages would be deleted locally (they are gone from the server); "+
			"nothing was deleted. Check the server, then rerun with --allow-mass-delete if this is intended", ErrMassDelete, d, n)
	}
	if d := len(p.deleteRemote); d*2 > n {
		return fmt.Errorf("%w: %d of %d messages would be deleted on the server (they are gone locally from %s); "+
			"nothing was deleted. Check the local folder, then rerun with --allow-mass-delete if this is intended", ErrMassDelete, d, n, fs.t.dir)
	}
	return nil
}

func (fs *folderSync) report(format string, args ...any) {
	if fs.e.opts.DryRun {
		fmt.Fprintf(fs.e.opts.Out, "%s/%s: would %s\n", fs.e.acct.Name, fs.t.canonical, fmt.Sprintf(format, args...))
	}
}

func (fs *folderSync) reportPlan(p *plan) {
	flagsUp, flagsDown := len(p.push), len(p.pull)
	for _, f := range p.push {
		if f.pull {
			flagsDown++
		}
	}
	fs.c = Counts{Pulled: len(p.download), Pushed: len(p.upload), FlagsUp: flagsUp, FlagsDown: flagsDown,
		DeletedDown: len(p.deleteLocal), DeletedUp: len(p.deleteRemote), Skipped: fs.c.Skipped}
	if p.empty() {
		return
	}
	fs.report("pull %d, push %d, flags %d↓ %d↑, delete %d↓ %d↑", fs.c.Pulled, fs.c.Pushed,
		fs.c.FlagsDown, fs.c.FlagsUp, fs.c.DeletedDown, fs.c.DeletedUp)
	for _, u := range p.download {
		fs.report("  pull uid %d", u)
	}
	for _, e := range p.upload {
		fs.report("  push %s", e.File)
	}
	for _, d := range p.deleteLocal {
		fs.report("  delete local %s (uid %d gone from server)", d.entry.File, d.row.UID)
	}
	for _, r := range p.deleteRemote {
		fs.report("  delete server uid %d (local file gone)", r.UID)
	}
}

// apply carries out the plan. Each step changes a side first and records it
// after; every crash point between the two is recognised on the next run
// (see recoverJournal and adoption), so nothing is lost or duplicated.
func (fs *folderSync) apply(ctx context.Context, p *plan) error {
	if err := fs.applyAdoptions(ctx, p.adopt); err != nil {
		return err
	}
	if err := fs.download(ctx, p.download); err != nil {
		return err
	}
	if err := fs.uploadAll(ctx, p.upload); err != nil {
		return err
	}
	if err := fs.storeFlags(ctx, p); err != nil {
		return err
	}
	// Flag and deletion records share one transaction: each side effect is
	// done before it, and a crash in between leaves both sides agreeing,
	// which the next run records. Fewer commits matter because folders
	// syncing in parallel share the state's single connection.
	var pending []func(*state.Tx) error
	if err := fs.applyFlags(p, &pending); err != nil {
		return err
	}
	err := fs.applyDeletes(p, &pending)
	if len(pending) > 0 {
		// Record what was done even if a later step failed.
		if terr := fs.withTx(context.WithoutCancel(ctx), func(tx *state.Tx) error {
			for _, f := range pending {
				if err := f(tx); err != nil {
					return err
				}
			}
			return nil
		}); err == nil {
			err = terr
		}
	}
	return err
}

// withTx runs f in a state transaction. Local renames and removals made so
// far are made durable first: the state must never record a change that a
// power cut could still undo. The commit itself may be undone by one (see
// state.Open), which leaves the state as a crash just before it would.
func (fs *folderSync) withTx(ctx context.Context, f func(tx *state.Tx) error) error {
	return fs.runTx(ctx, f, fs.e.store.Begin)
}

// withDurableTx is withTx for a record that a side effect about to follow
// depends on, such as a journal entry: its commit reaches the disk first.
func (fs *folderSync) withDurableTx(ctx context.Context, f func(tx *state.Tx) error) error {
	return fs.runTx(ctx, f, fs.e.store.BeginDurable)
}

func (fs *folderSync) runTx(ctx context.Context, f func(tx *state.Tx) error,
	begin func(context.Context, int64) (*state.Tx, error)) error {
	if err := fs.mf.SyncDirs(); err != nil {
		return fmt.Errorf("syncing %s: %w", fs.t.dir, err)
	}
	tx, err := begin(ctx, fs.st.ID)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (fs *folderSync) applyAdoptions(ctx context.Context, ads []adoption) error {
	if len(ads) == 0 {
		return nil
	}
	return fs.withTx(ctx, func(tx *state.Tx) error {
		for _, a := range ads {
			fs.log.Info().Uint32("uid", a.uid).Str("file", a.entry.File).Msg("adopting a file already downloaded")
			// The local flags are the base: remote changes made since then
			// are pulled on the next run.
			flags := parseMaildirFlags(a.entry.Name.Flags).maildir()
			if a.row != nil {
				r := *a.row
				r.Key, r.Flags = a.entry.Name.Key, flags
				if err := tx.Update(r); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Insert(state.Message{UID: a.uid, Key: a.entry.Name.Key, Flags: flags}); err != nil {
				return err
			}
		}
		return nil
	})
}

// downloader is the BodySink of a download FETCH: each body streams into a
// tmp/ file and is committed to cur/ or new/ when its metadata is complete.
// Records are buffered and written in short transactions, never held open
// across network reads: the state has one connection shared by all folders.
// A file delivered but not yet recorded carries U= and is adopted next run.
type downloader struct {
	fs      *folderSync
	ctx     context.Context
	pending *maildir.Pending
	hdr     headerCapture
	// ready holds whole messages in tmp/, delivered deliverGroup at a time
	// so that their fsyncs run together.
	ready      []readyMessage
	readySince time.Time
	batch      []state.Message
	last       time.Time
	// Reused for every message: 20,000 messages would otherwise allocate
	// over a gigabyte of short-lived buffers.
	lf  *crlf.LFWriter
	buf []byte
}

func (d *downloader) Body(r io.Reader, size int64) error {
	// Also while one large body is downloading.
	if d.groupWaited() {
		if err := d.deliver(); err != nil {
			return err
		}
	}
	p, err := d.fs.mf.NewPending(d.fs.e.opts.Now())
	if err != nil {
		return fmt.Errorf("creating file in %s/tmp: %w", d.fs.t.dir, err)
	}
	d.pending = p
	d.hdr.reset()
	if d.lf == nil {
		d.lf, d.buf = crlf.ToLF(p), make([]byte, 64<<10)
	}
	w := d.lf
	w.Reset(p)
	n, err := io.CopyBuffer(w, io.TeeReader(r, &d.hdr), d.buf)
	if err == nil && n != size {
		// go-imap's literal reader reports a connection cut mid-literal as
		// a plain EOF; only the count tells a short body from a whole one.
		err = fmt.Errorf("connection ended after %d of %d bytes", n, size)
	}
	if err != nil {
		p.Abort()
		d.pending = nil
		return fmt.Errorf("downloading message: %w", err)
	}
	if err := w.Flush(); err != nil {
		p.Abort()
		d.pending = nil
		return fmt.Errorf("writing %s/tmp: %w", d.fs.t.dir, err)
	}
	p.Written()
	return nil
}

// deliverGroup is how many downloaded messages wait in tmp/ to be made
// durable together.
const deliverGroup = 32

type readyMessage struct {
	p     *maildir.Pending
	in    remote.Info
	msgID string
}

func (d *downloader) Done(in remote.Info) error {
	p := d.pending
	d.pending = nil
	if p == nil {
		return nil
	}
	if len(d.ready) == 0 {
		d.readySince = time.Now()
	}
	d.ready = append(d.ready, readyMessage{p, in, remote.ParseMessageID(d.hdr.bytes())})
	if len(d.ready) < deliverGroup && !d.groupWaited() {
		return nil
	}
	if err := d.deliver(); err != nil {
		return err
	}
	if now := time.Now(); len(d.batch) >= batchSize || now.Sub(d.last) > time.Second {
		d.last = now
		return d.flush(d.ctx)
	}
	return nil
}

// groupWaited reports whether messages have waited a second to be
// delivered: a group waits no longer, so that a slow download still shows up
// in the folder as it goes.
func (d *downloader) groupWaited() bool {
	return len(d.ready) > 0 && time.Since(d.readySince) >= time.Second
}

// deliver moves the ready messages from tmp/ into the folder, each made
// durable before its rename (all fsyncs first, issued together).
func (d *downloader) deliver() error {
	ready := d.ready
	d.ready = d.ready[:0]
	abort := func(from int) {
		for _, r := range ready[from:] {
			r.p.Abort()
		}
	}
	ps := make([]*maildir.Pending, len(ready))
	for i, r := range ready {
		ps[i] = r.p
	}
	if err := maildir.SyncPending(ps); err != nil {
		abort(0)
		return fmt.Errorf("delivering into %s: %w", d.fs.t.dir, err)
	}
	for i, r := range ready {
		flags := parseIMAPFlags(r.in.Flags)
		n := maildir.Name{UID: r.in.UID, FMD5: d.fs.md5, Flags: flags.maildir()}
		ent, err := r.p.CommitNoDirSync(n, r.in.InternalDate)
		if err != nil {
			abort(i + 1)
			return fmt.Errorf("uid %d: delivering into %s: %w", r.in.UID, d.fs.t.dir, err)
		}
		d.fs.localChanged = true
		d.batch = append(d.batch, state.Message{UID: r.in.UID, Key: ent.Name.Key, Flags: flags.maildir(),
			Size: r.in.Size, MessageID: r.msgID})
		d.fs.c.Pulled++
	}
	return nil
}

func (d *downloader) flush(ctx context.Context) error {
	derr := d.deliver()
	if len(d.batch) == 0 {
		return derr
	}
	// withTx makes the renames durable before the state says the files exist.
	err := d.fs.withTx(ctx, func(tx *state.Tx) error {
		for _, m := range d.batch {
			if _, err := tx.Insert(m); err != nil {
				return err
			}
		}
		return nil
	})
	d.batch = d.batch[:0]
	if err == nil {
		err = derr
	}
	return err
}

func (fs *folderSync) download(ctx context.Context, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	// Journal the intent first: a file this fetch delivers but doesn't get
	// to record is then known, next run, to be ours (see makePlan).
	j := state.JournalEntry{Op: state.OpDownload, UIDs: remote.UIDSet(uids).String(), UIDValidity: fs.server.UIDValidity}
	if err := fs.withDurableTx(ctx, func(tx *state.Tx) error {
		var err error
		j.ID, err = tx.AddJournal(j)
		return err
	}); err != nil {
		return err
	}
	d := &downloader{fs: fs, ctx: ctx, last: time.Now()}
	err := fs.conn.FetchBodies(ctx, uids, d)
	if d.pending != nil {
		d.pending.Abort()
	}
	if err != nil {
		// Keep what was delivered even when interrupted: recording it now
		// saves the adoption pass next run. Cancellation must not stop this
		// short local write.
		_ = d.flush(context.WithoutCancel(ctx))
		return err
	}
	// The journal entry is removed with the folder's final record; until
	// then it harmlessly names UIDs that are all recorded.
	return d.flush(ctx)
}

// headerCapture keeps the start of a message, up to the end of its header,
// so the Message-ID can be recorded without a second pass.
type headerCapture struct {
	buf  []byte
	done bool
}

const maxHeaderCapture = 64 << 10

func (h *headerCapture) reset() { h.buf, h.done = h.buf[:0], false }

func (h *headerCapture) Write(p []byte) (int, error) {
	if h.done {
		return len(p), nil
	}
	h.buf = append(h.buf, p...)
	if i := bytes.Index(h.buf, []byte("\r\n\r\n")); i >= 0 {
		h.buf = h.buf[:i+4]
		h.done = true
	} else if i := bytes.Index(h.buf, []byte("\n\n")); i >= 0 {
		h.buf = h.buf[:i+2]
		h.done = true
	} else if len(h.buf) > maxHeaderCapture {
		h.buf = h.buf[:maxHeaderCapture]
		h.done = true
	}
	return len(p), nil
}

func (h *headerCapture) bytes() []byte { return h.buf }

// fileMessageID returns the Message-ID in the header of a local message file.
func fileMessageID(f *os.File) string {
	buf := make([]byte, maxHeaderCapture)
	n, _ := f.ReadAt(buf, 0)
	var hc headerCapture
	hc.Write(buf[:n])
	return remote.ParseMessageID(hc.bytes())
}

// upload is one local file on its way to the server.
type upload struct {
	e     maildir.Entry
	j     state.JournalEntry
	flags flagSet
	date  time.Time
}

// uploadAll appends local files. Their journal entries are committed, all
// in one transaction, before the first APPEND, so an interrupted upload is
// found on the server next time instead of being appended twice; the pairs
// are then recorded in batches.
func (fs *folderSync) uploadAll(ctx context.Context, entries []maildir.Entry) error {
	var ups []upload
	for _, e := range entries {
		u, ok, err := fs.prepareUpload(e)
		if err != nil {
			return err
		}
		if ok {
			ups = append(ups, u)
		}
	}
	if len(ups) == 0 {
		return nil
	}
	if err := fs.withDurableTx(ctx, func(tx *state.Tx) error {
		for i := range ups {
			var err error
			if ups[i].j.ID, err = tx.AddJournal(ups[i].j); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	var done []finished
	record := func() error {
		err := fs.recordUploads(context.WithoutCancel(ctx), done)
		done = done[:0]
		return err
	}
	// UIDs that are paired already or were just given to an upload: without
	// UIDPLUS, two identical copies must not both be matched to the first.
	// (After a partial plan the other recorded UIDs are read only when an
	// upload has to be located; see locateUpload.)
	claimed := make(map[uint32]bool, len(fs.rows))
	for _, r := range fs.rows {
		claimed[r.UID] = true
	}
	got := func(u upload, uid uint32) error {
		claimed[uid] = true
		done = append(done, fs.renameUploaded(u.e, uid, u))
		if len(done) >= batchSize {
			return record()
		}
		return nil
	}
	if fs.conn.UIDPlus() {
		var err error
		if fs.conn.CanMultiAppend() {
			err = fs.appendMulti(ctx, ups, claimed, got)
		} else {
			err = fs.appendPipelined(ctx, ups, claimed, got)
		}
		if rerr := record(); err == nil {
			err = rerr
		}
		return err
	}
	for _, u := range ups {
		uid, err := fs.append(ctx, u, claimed)
		if err != nil {
			// Keep what got through; the rest is settled from the journal.
			_ = record()
			return err
		}
		if uid == 0 {
			continue
		}
		if err := got(u, uid); err != nil {
			return err
		}
	}
	return record()
}

// appendWindow is how many APPENDs may await their answers at once.
const appendWindow = 16

// appendPipelined uploads ups with up to appendWindow APPENDs under way,
// passing each UID to got. After an error it sends no more but still reads
// the answers to the APPENDs already sent and records every one that got
// through (the rest is settled from the journal next run); it returns the
// first error.
func (fs *folderSync) appendPipelined(ctx context.Context, ups []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	type sent struct {
		u upload
		p *remote.PendingAppend
	}
	var queue []sent
	var unreported []upload // appended, but the server gave no APPENDUID
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	finish := func() {
		s := queue[0]
		queue = queue[1:]
		uid, _, err := s.p.Wait()
		switch {
		case err != nil:
			fail(fmt.Errorf("uploading %s: %w", s.u.e.Path(fs.t.dir), err))
		case uid == 0:
			unreported = append(unreported, s.u)
		default:
			if err := got(s.u, uid); err != nil {
				fail(err)
			}
		}
	}
	for _, u := range ups {
		if firstErr != nil {
			break
		}
		f, err := fs.openUpload(u)
		if err != nil {
			fail(err)
			break
		}
		if f == nil {
			continue
		}
		p, err := fs.startAppend(ctx, u, f)
		f.Close()
		if err != nil {
			fail(err)
			break
		}
		queue = append(queue, sent{u, p})
		if len(queue) >= appendWindow {
			finish()
		}
	}
	for len(queue) > 0 {
		finish()
	}
	// UIDPLUS announced but no APPENDUID: find those as without UIDPLUS,
	// one by one and only now that every APPEND is answered, so that an
	// identical copy sent later can't be taken for this one.
	for _, u := range unreported {
		if firstErr != nil {
			break
		}
		uid, err := fs.locateUploaded(ctx, u, claimed)
		if err != nil {
			fail(fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err))
			break
		}
		if err := got(u, uid); err != nil {
			fail(err)
		}
	}
	return firstErr
}

// A MULTIAPPEND is taken whole or not at all: these bound what one refusal
// sends again, one by one, and what one command holds open.
const (
	multiAppendCount = 64
	multiAppendBytes = 16 << 20
)

// appendMulti uploads ups in MULTIAPPEND batches, passing each UID to got.
// It stops at the first error; what got through is recorded by the caller
// and the rest is settled from the journal next run.
func (fs *folderSync) appendMulti(ctx context.Context, ups []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	for len(ups) > 0 {
		n, size := 1, ups[0].j.Size
		for n < len(ups) && n < multiAppendCount && size+ups[n].j.Size <= multiAppendBytes {
			size += ups[n].j.Size
			n++
		}
		if err := fs.appendBatch(ctx, ups[:n], claimed, got); err != nil {
			return err
		}
		ups = ups[n:]
	}
	return nil
}

// appendBatch uploads one batch in a single MULTIAPPEND.
func (fs *folderSync) appendBatch(ctx context.Context, batch []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	sent := make([]upload, 0, len(batch))
	msgs := make([]remote.AppendMessage, 0, len(batch))
	for _, u := range batch {
		f, err := fs.openUpload(u)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		defer f.Close()
		sent = append(sent, u)
		msgs = append(msgs, remote.AppendMessage{Flags: u.flags.imap(), Date: u.date, Size: u.j.Size, Body: crlf.ToCRLF(f)})
	}
	if len(sent) == 0 {
		return nil
	}
	uids, err := fs.conn.MultiAppend(ctx, fs.t.remote, msgs)
	if errors.Is(err, remote.ErrAppendRejected) {
		// Perhaps one message is what the server refuses: one by one, the
		// others get through and the error names the file.
		fs.log.Debug().Err(err).Int("messages", len(sent)).Msg("MULTIAPPEND refused; uploading one by one")
		return fs.appendPipelined(ctx, sent, claimed, got)
	}
	if err != nil {
		return fmt.Errorf("uploading %d messages from %s: %w", len(sent), fs.t.dir, err)
	}
	for i, u := range sent {
		var uid uint32
		if uids != nil {
			uid = uids[i]
		} else if uid, err = fs.locateUploaded(ctx, u, claimed); err != nil {
			// No APPENDUID for the batch: found as without UIDPLUS.
			return fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
		}
		if err := got(u, uid); err != nil {
			return err
		}
	}
	return nil
}

// locateUploaded finds the UID of an upload the server did not report.
func (fs *folderSync) locateUploaded(ctx context.Context, u upload, claimed map[uint32]bool) (uint32, error) {
	f, err := fs.mf.Open(u.e)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return fs.locateUpload(ctx, u, f, claimed)
}

// locateUpload finds what was just appended from f, the same way a crash
// recovery would; not finding it is an error.
func (fs *folderSync) locateUpload(ctx context.Context, u upload, f *os.File, claimed map[uint32]bool) (uint32, error) {
	if fs.partialRows && !fs.claimedAll {
		uids, err := fs.e.store.UIDs(ctx, fs.st.ID, 0)
		if err != nil {
			return 0, fmt.Errorf("reading state: %w", err)
		}
		for _, uid := range uids {
			claimed[uid] = true
		}
		fs.claimedAll = true
	}
	uid, err := fs.locate(ctx, u.j, f, claimed)
	if err == nil && uid == 0 {
		err = fmt.Errorf("uploaded %s but can't find its UID on the server; it will be matched on the next run", u.e.File)
	}
	return uid, err
}

// prepareUpload checks a local file and computes what the journal needs.
// ok is false for a file that is skipped (with a warning) or outside max_age.
func (fs *folderSync) prepareUpload(e maildir.Entry) (upload, bool, error) {
	acct := fs.e.acct
	f, err := fs.mf.Open(e)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) { // else removed since the scan; next run sees that
			fs.log.Warn().Str("file", e.Path(fs.t.dir)).Err(err).Msg("can't read local file; skipped")
			fs.c.Skipped++
		}
		return upload{}, false, nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return upload{}, false, err
	}
	if info.Size() == 0 {
		fs.log.Warn().Str("file", e.Path(fs.t.dir)).Msg("empty file; not uploaded")
		fs.c.Skipped++
		return upload{}, false, nil
	}
	if !acct.MaxAge.IsZero() && info.ModTime().Before(acct.MaxAge.Since(fs.e.opts.Now())) {
		return upload{}, false, nil
	}
	size, err := crlf.Size(f)
	if err != nil {
		return upload{}, false, fmt.Errorf("reading %s: %w", e.Path(fs.t.dir), err)
	}
	if acct.MaxSize > 0 && size > acct.MaxSize {
		fs.log.Warn().Str("file", e.Path(fs.t.dir)).Int64("size", size).Int64("max_size", acct.MaxSize).
			Msg("message larger than max_size; not uploaded")
		fs.c.Skipped++
		return upload{}, false, nil
	}
	return upload{
		e:     e,
		j:     state.JournalEntry{Op: state.OpAppend, Key: e.Name.Key, MessageID: fileMessageID(f), Size: size, UIDNext: fs.server.UIDNext},
		flags: parseMaildirFlags(e.Name.Flags),
		date:  info.ModTime(),
	}, true, nil
}

// append uploads one prepared file and returns its UID (0 when the file
// went away meanwhile).
func (fs *folderSync) append(ctx context.Context, u upload, claimed map[uint32]bool) (uint32, error) {
	f, err := fs.openUpload(u)
	if f == nil {
		return 0, err
	}
	defer f.Close()
	p, err := fs.startAppend(ctx, u, f)
	if err != nil {
		return 0, err
	}
	uid, _, err := p.Wait()
	if err != nil {
		return 0, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	if uid == 0 {
		// No UIDPLUS: look it up, through the file already open, since the
		// client may have renamed it meanwhile.
		return fs.locateUpload(ctx, u, f, claimed)
	}
	return uid, nil
}

// openUpload opens a prepared file for its APPEND; nil and no error when it
// went away meanwhile (its journal entry is dropped next run: nothing was
// sent).
func (fs *folderSync) openUpload(u upload) (*os.File, error) {
	f, err := fs.mf.Open(u.e)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	return f, nil
}

// startAppend sends the APPEND of an opened upload, without waiting for
// its answer.
func (fs *folderSync) startAppend(ctx context.Context, u upload, f *os.File) (*remote.PendingAppend, error) {
	p, err := fs.conn.StartAppend(ctx, fs.t.remote, u.flags.imap(), u.date, u.j.Size, crlf.ToCRLF(f))
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	return p, nil
}

// finished is an upload that reached the server, waiting to be recorded.
type finished struct {
	row state.Message
	jID int64
}

// renameUploaded gives the local file its U= and FMD5=. A file the client
// renamed meanwhile (new flags) keeps its key, so it is found and renamed
// all the same: a stale U= would mislead adoption if the state were lost.
func (fs *folderSync) renameUploaded(e maildir.Entry, uid uint32, u upload) finished {
	fs.giveUID(e, uid)
	fs.localChanged = true
	return finished{
		row: state.Message{UID: uid, Key: e.Name.Key, Flags: u.flags.maildir(), Size: u.j.Size, MessageID: u.j.MessageID},
		jID: u.j.ID,
	}
}

func (fs *folderSync) giveUID(e maildir.Entry, uid uint32) maildir.Entry {
	n := e.Name
	n.UID, n.FMD5 = uid, fs.md5
	ne, err := fs.mf.Rename(e, n)
	if errors.Is(err, os.ErrNotExist) && e.File != "" {
		if cur, ok, ferr := fs.mf.FindKey(e.Name.Key); ferr == nil && ok {
			n = cur.Name
			n.UID, n.FMD5 = uid, fs.md5
			ne, err = fs.mf.Rename(cur, n)
		}
	}
	if err != nil {
		// Removed meanwhile, or not renamable: the pair is recorded by key
		// either way, and the next run sees what the client did.
		fs.log.Debug().Err(err).Str("key", e.Name.Key).Msg("could not add U= to an uploaded file")
		return e
	}
	return ne
}

// recordUploads records uploaded pairs and closes their journal entries.
func (fs *folderSync) recordUploads(ctx context.Context, done []finished) error {
	if len(done) == 0 {
		return nil
	}
	err := fs.withTx(ctx, func(tx *state.Tx) error {
		for _, d := range done {
			if _, err := tx.Insert(d.row); err != nil {
				return err
			}
			if err := tx.DeleteJournal(d.jID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		fs.c.Pushed += len(done)
	}
	return err
}

// finishUpload renames and records one upload found by journal recovery.
func (fs *folderSync) finishUpload(ctx context.Context, e maildir.Entry, j state.JournalEntry, uid uint32, flags flagSet, size int64, msgID string) (maildir.Entry, error) {
	ne := fs.giveUID(e, uid)
	fs.localChanged = true
	err := fs.recordUploads(ctx, []finished{{
		row: state.Message{UID: uid, Key: e.Name.Key, Flags: flags.maildir(), Size: size, MessageID: msgID},
		jID: j.ID,
	}})
	return ne, err
}

// recoverJournal settles uploads that were interrupted: each was either
// appended (find it and record it) or not (drop the entry; the file is still
// new and is uploaded again).
func (fs *folderSync) recoverJournal(ctx context.Context, entries []maildir.Entry, remoteUIDs map[uint32]bool) error {
	idx := make(map[string]int, len(entries))
	for i, e := range entries {
		idx[e.Name.Key] = i
	}
	if fs.st.ID == 0 {
		return nil
	}
	js, err := fs.e.store.Journal(ctx, fs.st.ID)
	if err != nil || len(js) == 0 {
		return err
	}
	byKey := make(map[string]maildir.Entry, len(entries))
	for _, e := range entries {
		byKey[e.Name.Key] = e
	}
	known := make(map[uint32]bool, len(fs.rows))
	for _, r := range fs.rows {
		known[r.UID] = true
	}
	for _, j := range js {
		if j.Op != state.OpAppend {
			continue
		}
		var f *os.File
		e, hasLocal := byKey[j.Key]
		if hasLocal {
			if f, err = fs.mf.Open(e); err != nil {
				f = nil
			}
		}
		uid := uint32(0)
		if fs.server.UIDValidity != 0 {
			uid, err = fs.locate(ctx, j, f, known)
		}
		if f != nil {
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("recovering interrupted upload of %s: %w", j.Key, err)
		}
		if uid == 0 {
			fs.log.Info().Str("key", j.Key).Msg("interrupted upload never reached the server; uploading again")
			if err := fs.withTx(ctx, func(tx *state.Tx) error { return tx.DeleteJournal(j.ID) }); err != nil {
				return err
			}
			continue
		}
		fs.log.Info().Str("key", j.Key).Uint32("uid", uid).Msg("interrupted upload found on the server; not uploading again")
		remoteUIDs[uid] = true
		known[uid] = true
		flags := parseMaildirFlags(e.Name.Flags)
		if !hasLocal {
			e = maildir.Entry{Name: maildir.Name{Key: j.Key}}
		}
		ne, err := fs.finishUpload(ctx, e, j, uid, flags, j.Size, j.MessageID)
		if err != nil {
			return err
		}
		if i, ok := idx[j.Key]; ok && hasLocal {
			entries[i] = ne // the plan must see the renamed file
		}
		fs.c.Pushed-- // counted when it was really pushed
		fs.rows = append(fs.rows, state.Message{UID: uid, Key: j.Key, Flags: flags.maildir(), Size: j.Size, MessageID: j.MessageID})
	}
	// Reload so row IDs are right for the plan.
	fs.rows, err = fs.e.store.Messages(ctx, fs.st.ID)
	return err
}

// locate finds the UID of a message appended at or after j.UIDNext: by
// Message-ID and size, or, without a Message-ID, by size and content hash of
// the local file f. UIDs in skip are already paired and can't be it.
func (fs *folderSync) locate(ctx context.Context, j state.JournalEntry, f *os.File, skip map[uint32]bool) (uint32, error) {
	var cands []uint32
	if j.MessageID != "" {
		uids, err := fs.conn.SearchHeader(ctx, "Message-ID", j.MessageID, j.UIDNext)
		if err != nil {
			return 0, err
		}
		infos, err := fs.conn.FetchInfo(ctx, uids, true)
		if err != nil {
			return 0, err
		}
		for _, in := range infos {
			if in.MessageID == j.MessageID && in.Size == j.Size && !skip[in.UID] {
				cands = append(cands, in.UID)
			}
		}
		if len(cands) > 0 {
			return cands[0], nil
		}
		return 0, nil
	}
	if f == nil {
		return 0, nil
	}
	all, err := fs.conn.UIDs(ctx, time.Time{})
	if err != nil {
		return 0, err
	}
	var recent []uint32
	for _, u := range all {
		if u >= j.UIDNext && !skip[u] {
			recent = append(recent, u)
		}
	}
	infos, err := fs.conn.FetchInfo(ctx, recent, false)
	if err != nil {
		return 0, err
	}
	for _, in := range infos {
		if in.Size == j.Size {
			cands = append(cands, in.UID)
		}
	}
	if len(cands) == 0 {
		return 0, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, crlf.ToCRLF(io.NewSectionReader(f, 0, 1<<62))); err != nil {
		return 0, err
	}
	want := h.Sum(nil)
	hs := &hashSink{}
	if err := fs.conn.FetchBodies(ctx, cands, hs); err != nil {
		return 0, err
	}
	for _, m := range hs.found {
		if bytes.Equal(m.sum, want) {
			return m.uid, nil
		}
	}
	return 0, nil
}

type hashSink struct {
	cur   []byte
	found []struct {
		uid uint32
		sum []byte
	}
}

func (h *hashSink) Body(r io.Reader, size int64) error {
	s := sha256.New()
	if n, err := io.Copy(s, r); err != nil {
		return err
	} else if n != size {
		return fmt.Errorf("connection ended after %d of %d bytes", n, size)
	}
	h.cur = s.Sum(nil)
	return nil
}

func (h *hashSink) Done(in remote.Info) error {
	h.found = append(h.found, struct {
		uid uint32
		sum []byte
	}{in.UID, h.cur})
	return nil
}

// storeFlags makes the plan's changes on the server in one pipelined batch:
// flag changes, grouped so that one UID STORE covers every message with the
// same change, then \Deleted on the messages deleted locally and, with
// expunge = true, their expunge.
func (fs *folderSync) storeFlags(ctx context.Context, p *plan) error {
	type change struct{ add, del flagSet }
	groups := make(map[change][]uint32)
	var order []change
	for _, f := range p.push {
		c := change{f.add, f.del}
		if groups[c] == nil {
			order = append(order, c)
		}
		groups[c] = append(groups[c], f.row.UID)
	}
	var changes []remote.FlagChange
	for _, c := range order {
		changes = append(changes,
			remote.FlagChange{UIDs: groups[c], Add: true, Flags: c.add.imap()},
			remote.FlagChange{UIDs: groups[c], Add: false, Flags: c.del.imap()})
	}
	var expunge []uint32
	if len(p.deleteRemote) > 0 {
		uids := make([]uint32, len(p.deleteRemote))
		for i, r := range p.deleteRemote {
			uids[i] = r.UID
		}
		changes = append(changes, remote.FlagChange{UIDs: uids, Add: true, Flags: flagTrashed.imap()})
		if fs.e.acct.Remote.Expunge {
			expunge = uids
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return fs.conn.StoreFlags(ctx, changes, expunge)
}

// applyFlags renames local files for the flag changes storeFlags made on
// the server and for those from the server, and records both.
func (fs *folderSync) applyFlags(p *plan, pending *[]func(*state.Tx) error) error {
	var updates []state.Message
	for _, f := range p.push {
		fs.c.FlagsUp++
		if f.pull {
			ok, err := fs.renameFlags(f.localFrom, f.target)
			if err != nil {
				return err
			}
			if !ok {
				// The client changed the file meanwhile: keep the old base
				// so its change and ours are merged next run.
				continue
			}
			fs.c.FlagsDown++
		}
		updates = append(updates, withFlags(f.row, f.newFlags))
	}
	for _, f := range p.pull {
		ok, err := fs.renameFlags(f.entry, f.target)
		if err != nil {
			return err
		}
		if ok {
			fs.c.FlagsDown++
			updates = append(updates, withFlags(f.row, f.newFlags))
		}
	}
	updates = append(updates, p.rebase...)
	if len(updates) > 0 {
		*pending = append(*pending, func(tx *state.Tx) error {
			for _, u := range updates {
				if err := tx.Update(u); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return nil
}

// renameFlags gives a local file new flags. It reports false when the file
// is no longer where the scan saw it: a mail client renamed or removed it
// during the sync, and that change must win.
func (fs *folderSync) renameFlags(e maildir.Entry, f flagSet) (bool, error) {
	n := e.Name
	n.Flags = withMaildirFlags(n.Flags, f)
	if _, err := fs.mf.Rename(e, n); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("renaming %s: %w", e.Path(fs.t.dir), err)
	}
	fs.localChanged = true
	return true, nil
}

// recheckLocalDeletions lists the folder once more before anything is
// applied, and keeps any message whose file is there after all (a mail
// client renamed it while the first listing ran): a deletion on the server
// can't be undone, a second look costs a readdir.
func (fs *folderSync) recheckLocalDeletions(p *plan) error {
	entries, _, stable, err := fs.mf.Scan()
	if err != nil {
		return fmt.Errorf("re-reading %s before deleting on the server: %w", fs.t.dir, err)
	}
	if !stable {
		fs.log.Warn().Msg("the folder changed while it was re-read; local deletions are left for the next run")
		p.deleteRemote = nil
		return nil
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		present[e.Name.Key] = true
	}
	kept := p.deleteRemote[:0]
	for _, r := range p.deleteRemote {
		if !present[r.Key] {
			kept = append(kept, r)
		}
	}
	p.deleteRemote = kept
	return nil
}

func (fs *folderSync) applyDeletes(p *plan, pending *[]func(*state.Tx) error) error {
	acct := fs.e.acct
	if len(p.deleteRemote) > 0 {
		// storeFlags deleted them on the server.
		deleted := p.deleteRemote
		*pending = append(*pending, func(tx *state.Tx) error {
			for _, r := range deleted {
				var err error
				if acct.Remote.Expunge {
					err = tx.Delete(r.ID)
				} else {
					// Marked \Deleted but still there: remember it so it
					// isn't downloaded again.
					r.Key = ""
					err = tx.Update(r)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		fs.c.DeletedUp += len(p.deleteRemote)
	}
	var removed []deletion
	var rmErr error
	for _, d := range p.deleteLocal {
		if err := fs.mf.Remove(d.entry); err != nil {
			rmErr = fmt.Errorf("deleting %s: %w", d.entry.Path(fs.t.dir), err)
			break
		}
		removed = append(removed, d)
		fs.localChanged = true
	}
	fs.c.DeletedDown += len(removed)
	if len(removed)+len(p.forget)+len(p.keepLocal)+len(p.keepRemote) == 0 {
		return rmErr
	}
	*pending = append(*pending, func(tx *state.Tx) error {
		for _, d := range removed {
			if err := tx.Delete(d.row.ID); err != nil {
				return err
			}
		}
		for _, r := range p.forget {
			if err := tx.Delete(r.ID); err != nil {
				return err
			}
		}
		for _, r := range p.keepLocal {
			r.UID = 0
			if err := tx.Update(r); err != nil {
				return err
			}
		}
		for _, r := range p.keepRemote {
			r.Key = ""
			if err := tx.Update(r); err != nil {
				return err
			}
		}
		return nil
	})
	return rmErr
}
