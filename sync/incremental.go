package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// incrementalMsg is logged (at debug level) when a folder is planned from
// the server's changes alone.
const incrementalMsg = "planned from the server's changes alone"

// incrementalPlan plans a folder whose local side is known to be exactly
// what the state records (its directory times are the recorded ones) from
// the server's changes alone: new UIDs, expunged UIDs and, by CONDSTORE,
// changed flags. Only the rows of changed messages are read, and only their
// files are looked up, so the cost follows the changes, not the folder.
//
// The result is the plan the full merge would make: every other message is
// the same on both sides and in the state, so the merge would leave it
// alone. ok is false when a precondition does not hold (no CONDSTORE, an
// unfinished journal, a file not where its row says); the caller then makes
// the full plan.
func (fs *folderSync) incrementalPlan(ctx context.Context) (p plan, ok bool, err error) {
	st, srv, store := fs.st, fs.server, fs.e.store
	if !fs.conn.CondStore() || st.HighestModSeq == 0 || srv.HighestModSeq == 0 ||
		srv.UIDValidity != st.UIDValidity || st.UIDNext == 0 {
		return plan{}, false, nil
	}
	// Interrupted uploads and downloads leave files the rows don't
	// describe; only the full merge settles them.
	if js, err := store.Journal(ctx, st.ID); err != nil || len(js) > 0 {
		return plan{}, false, err
	}
	recorded, err := store.UIDs(ctx, st.ID)
	if err != nil {
		return plan{}, false, fmt.Errorf("reading state: %w", err)
	}
	onServer := recorded
	if srv.UIDNext != st.UIDNext || srv.Messages != st.Messages {
		if onServer, err = fs.conn.UIDs(ctx, time.Time{}); err != nil {
			return plan{}, false, err
		}
		slices.Sort(onServer)
	}
	gone, added := uidDiff(recorded, onServer)

	affected := gone
	remoteFlags := make(map[uint32]flagSet)
	if srv.HighestModSeq != st.HighestModSeq {
		infos, err := fs.conn.FetchFlags(ctx, nil, st.HighestModSeq)
		if err != nil {
			return plan{}, false, err
		}
		for _, in := range infos {
			remoteFlags[in.UID] = parseIMAPFlags(in.Flags)
			if _, found := slices.BinarySearch(recorded, in.UID); found {
				affected = append(affected, in.UID)
			}
		}
	}
	slices.Sort(affected)
	affected = slices.Compact(affected)
	rows, err := store.MessagesByUID(ctx, st.ID, affected)
	if err != nil {
		return plan{}, false, fmt.Errorf("reading state: %w", err)
	}
	var entries []maildir.Entry
	for _, r := range rows {
		if r.Key == "" {
			continue // no local copy, by the state
		}
		e, found := fs.findRecorded(r)
		if !found {
			return plan{}, false, nil
		}
		entries = append(entries, e)
	}

	remoteUIDs := make(map[uint32]bool, len(rows)+len(added))
	for _, r := range rows {
		if _, found := slices.BinarySearch(onServer, r.UID); found {
			remoteUIDs[r.UID] = true
		}
	}
	for _, u := range added {
		remoteUIDs[u] = true
	}
	for u := range remoteFlags {
		if !remoteUIDs[u] {
			delete(remoteFlags, u)
		}
	}
	fs.rows = rows
	fs.known = len(recorded)
	fs.log.Debug().Int("changed", len(rows)).Int("new", len(added)).Msg(incrementalMsg)
	acct := fs.e.acct
	return makePlan(planInput{
		state: rows, local: entries, remoteUIDs: remoteUIDs, remoteFlags: remoteFlags, folderMD5: fs.md5,
		localSide:  sidePolicy{readOnly: acct.Local.Readonly, syncDeletes: acct.Local.SyncDeletes},
		remoteSide: sidePolicy{readOnly: acct.Remote.Readonly, syncDeletes: acct.Remote.SyncDeletes},
	}), true, nil
}

// findRecorded looks for the file of a recorded pair under the names
// mailsync gives files (see maildir.Pending.Commit): in cur/ with its
// flags, or in new/ with or without an info part. A file under any other
// name (a client's fields or keywords, flags that differ from the state's)
// is not found, and the caller falls back to a listing.
func (fs *folderSync) findRecorded(r state.Message) (maildir.Entry, bool) {
	n := maildir.Name{Key: r.Key, UID: r.UID, FMD5: fs.md5, Flags: r.Flags}
	for _, c := range []struct {
		sub  maildir.Sub
		info bool
	}{{maildir.Cur, true}, {maildir.New, r.Flags != ""}, {maildir.New, true}} {
		n.HasInfo = c.info
		file := n.String()
		fi, err := os.Lstat(filepath.Join(fs.t.dir, string(c.sub), file))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		parsed, err := maildir.ParseName(file)
		if err != nil || parsed.Key != r.Key {
			continue
		}
		return maildir.Entry{Sub: c.sub, File: file, Name: parsed}, true
	}
	return maildir.Entry{}, false
}

// uidDiff returns the UIDs only in a and only in b; both must be sorted.
func uidDiff(a, b []uint32) (onlyA, onlyB []uint32) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			i++
			j++
		case a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		default:
			onlyB = append(onlyB, b[j])
			j++
		}
	}
	onlyA = append(onlyA, a[i:]...)
	onlyB = append(onlyB, b[j:]...)
	return onlyA, onlyB
}
