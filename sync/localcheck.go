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
// before the files), the files, and the state's rows for it, without Size
// and MessageID (see Store.Pairs).
type listing struct {
	cur, new int64
	read     time.Time // when cur and new were read
	entries  []maildir.Entry
	problems []maildir.Problem
	stable   bool
	rows     []state.Message
}

// locallyUnchanged settles, without a server connection, a folder whose
// server side is unchanged but whose directory times don't vouch for the
// local side (mailsync changed the folder in the last run, or a mail client
// did since): if a listing taken between two reads of the times holds
// exactly the recorded files and flags, there is nothing to sync, and the
// times are recorded so the next run needs no listing. Otherwise it returns
// what it read, for the folder's sync to use instead of reading it again.
func (e *Engine) locallyUnchanged(ctx context.Context, t folderTask) (bool, *listing) {
	st := *t.stored
	mf := maildir.Folder{Dir: t.dir}
	read := e.opts.Now()
	c0, n0, err := mf.DirTimes()
	if err != nil {
		return false, nil
	}
	entries, problems, stable, err := mf.Scan()
	if err != nil {
		return false, nil
	}
	rows, err := e.store.Pairs(ctx, st.ID)
	if err != nil {
		return false, nil
	}
	l := &listing{cur: c0, new: n0, read: read, entries: entries, problems: problems, stable: stable, rows: rows}
	if !stable || len(problems) > 0 {
		return false, l
	}
	if c1, n1, err := mf.DirTimes(); err != nil || c1 != c0 || n1 != n0 {
		return false, l
	}
	// An interrupted upload or download leaves files the rows don't
	// describe yet; the full sync settles them.
	if js, err := e.store.Journal(ctx, st.ID); err != nil || len(js) > 0 {
		return false, l
	}
	want := make(map[string]string, len(rows))
	for _, r := range rows {
		if r.Key != "" {
			want[r.Key] = r.Flags
		}
	}
	if len(entries) != len(want) {
		return false, l
	}
	for _, en := range entries {
		flags, ok := want[en.Name.Key]
		if !ok || parseMaildirFlags(en.Name.Flags).maildir() != flags {
			return false, l
		}
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
