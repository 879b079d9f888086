package sync

import (
	"context"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// trustedTimes returns a folder's cur/ and new/ times for the state to
// record, or zeros when either was within a second of readAt, the moment
// they were read: with file timestamps as coarse as a second, a change made
// after they were read could otherwise leave them as they are. It must be
// readAt, not the time of the check: a second that has passed since the read
// says nothing about changes made during it.
func trustedTimes(cur, nw int64, readAt time.Time) (int64, int64) {
	limit := readAt.Add(-time.Second).UnixNano()
	if cur < limit && nw < limit {
		return cur, nw
	}
	return 0, 0
}

// listing is a folder's local side as read once: its directory times (read
// before the files), the files, and their digest (see state.Digest).
type listing struct {
	cur, new int64
	read     time.Time // when cur and new were read
	entries  []maildir.Entry
	problems []maildir.Problem
	stable   bool
	digest   *state.Digest
	recorded *state.Digest // the state's digest, read before the listing
}

// digestOf sums up a listing the way the state sums up its pairs.
func digestOf(entries []maildir.Entry) *state.Digest {
	d := new(state.Digest)
	for _, en := range entries {
		addEntry(d, en)
	}
	return d
}

func addEntry(d *state.Digest, en maildir.Entry) {
	d.Add(en.Name.Key, parseMaildirFlags(en.Name.Flags).maildir())
}

// listingKept is the size (in recorded files) up to which locallyUnchanged
// keeps a folder's listing for the folder's sync to reuse. A larger folder
// is summed up as it is read, in memory that doesn't grow with it, and is
// listed again by its sync if it differs.
const listingKept = 10000

// locallyUnchanged settles, without a server connection, a folder whose
// server side is unchanged but whose directory times don't vouch for the
// local side (mailsync changed the folder in the last run, or a mail client
// did since): if a listing taken between two reads of the times holds
// exactly the recorded files and flags (its digest is the state's), there is
// nothing to sync, and the times are recorded so the next run needs no
// listing. Otherwise it returns what it read, if it kept it, for the
// folder's sync to use instead of reading it again.
func (e *Engine) locallyUnchanged(ctx context.Context, t folderTask) (bool, *listing) {
	st := *t.stored
	mf := maildir.Folder{Dir: t.dir}
	// An interrupted upload or download leaves files the rows don't
	// describe yet; the full sync settles them.
	if js, err := e.store.Journal(ctx, st.ID); err != nil || len(js) > 0 {
		return false, nil
	}
	recorded, err := e.store.Digest(ctx, st.ID)
	if err != nil {
		return false, nil
	}
	read := e.opts.Now()
	c0, n0, err := mf.DirTimes()
	if err != nil {
		return false, nil
	}
	var l *listing
	digest := new(state.Digest)
	if recorded.Len() > e.listingKept {
		problems, err := mf.Each(func(en maildir.Entry) { addEntry(digest, en) })
		if err != nil || problems > 0 {
			return false, nil
		}
	} else {
		entries, problems, stable, err := mf.Scan()
		if err != nil {
			return false, nil
		}
		l = &listing{cur: c0, new: n0, read: read, entries: entries, problems: problems, stable: stable, recorded: recorded}
		if !stable || len(problems) > 0 {
			return false, l
		}
		digest = digestOf(entries)
		l.digest = digest
	}
	if same, err := mf.Unchanged(c0, n0); err != nil || !same {
		return false, l
	}
	if len(recorded.Differs(digest)) > 0 {
		return false, l
	}
	st.CurMtime, st.NewMtime = trustedTimes(c0, n0, read)
	st.RemoteName = t.remote
	if st.CurMtime == 0 || e.opts.DryRun {
		return true, nil
	}
	tx, err := e.store.Begin(ctx, st.ID)
	if err != nil {
		return true, nil // only the shortcut for next time is lost
	}
	if err := tx.UpdateFolder(st); err != nil {
		tx.Rollback()
		return true, nil
	}
	if err := tx.Commit(); err != nil {
		e.log.Debug().Err(err).Str("folder", t.canonical).Msg("recording directory times")
	}
	return true, nil
}
