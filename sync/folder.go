package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

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
	// first is what pairFirst learnt of the server, if it ran.
	first *firstListing
	req   Request
}

func (e *Engine) syncFolder(ctx context.Context, conn Remote, t folderTask, req Request) FolderResult {
	fs := &folderSync{
		e: e, conn: conn, t: t, req: req,
		mf:  &maildir.Folder{Dir: t.dir, Fsync: e.acct.Local.Fsync, DeferDirSync: true, Changing: e.opts.LocalChange},
		md5: maildir.FolderMD5(e.folderMD5Name(t)),
		log: e.log.With().Str("folder", t.canonical).Logger(),
	}
	res := FolderResult{Folder: t.canonical}
	err := fs.run(ctx)
	res.Counts = fs.c
	if err != nil {
		// Logged by runTask, which may sync the folder again.
		res.Err = &FolderError{Account: e.acct.Name, Folder: t.canonical, Err: err}
	}
	return res
}

// folderMD5Name is the name whose MD5 the FMD5= of the folder's file
// names carry: the folder's directory path under the Maildir root as it
// lies on disk, which is offlineimap's name for the folder (offlineimapName).
// offlineimap strips the U= of a file whose FMD5 is not its folder's and
// uploads the message again; with the same FMD5, the files mailsync names
// in a tree taken over from offlineimap stay offlineimap's if the user
// switches back. In the fs layout with UTF-8 names that path is the
// folder's name. maildir++ trees keep the folder's name, which their
// files have always carried.
func (e *Engine) folderMD5Name(t folderTask) string {
	if e.acct.Local.Layout != config.LayoutMaildirPP {
		if n, ok := offlineimapName(e.acct.Local.Path, t.dir); ok {
			return n
		}
	}
	return t.local
}

// offlineimapName is offlineimap's name for the folder in dir: the
// directory's path under the Maildir root as it lies on disk, with the
// separator and the encoding (modified UTF-7 unless utf8foldernames)
// that offlineimap wrote. It files its status of the folder under that
// name too, with '.' for '/'. A local nametrans can make offlineimap's
// name another; the common ones map the server's names onto these.
func offlineimapName(root, dir string) (string, bool) {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
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
	trusted := !dry && !fs.t.verify && localExists && pre == nil && fs.t.stored != nil && fs.st.CurMtime != 0 &&
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
	} else if s := fs.t.status; s != nil && s.UIDValidity != 0 {
		// The STATUS round told what the plan needs of SELECT: it goes
		// out with the folder's first command (remote.SelectLater).
		fs.server = *s
		fs.conn.SelectLater(fs.t.remote, roSelect, s.UIDValidity)
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
	} else if !dry && !fs.t.verify && localExists && stable && fs.t.stored != nil {
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
	fs.e.emit(Event{Folder: fs.t.canonical, Kind: FolderPlanned, Total: len(p.download) + len(p.upload),
		Pulls: len(p.download), Pushes: len(p.upload)})
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
	if stable && !planned && (fs.t.verify || fs.t.stored == nil || fs.t.stored.UIDValidity == 0) {
		// Both sides were compared in full, and now agree.
		fs.st.Verified = e.opts.Now().Unix()
	}
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
