package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// incrementalMsg and listedMsg are logged (at debug level) when a folder
// is planned from the server's changes alone, or from those and a listing's
// differences from the state.
const (
	incrementalMsg = "planned from the server's changes alone"
	listedMsg      = "planned from the server's changes and the listing's differences"
)

// localChanges is a listing of a folder's local side, for incrementalPlan.
type localChanges struct {
	entries  []maildir.Entry
	digest   *state.Digest // of entries; nil: not summed up yet
	recorded *state.Digest // the state's digest; nil: not read yet
}

// incrementalPlan plans a folder from what changed since the last sync: on
// the server, new UIDs, expunged UIDs (by UID SEARCH ALL or, with QRESYNC,
// by VANISHED) and, by CONDSTORE, changed flags;
// locally, the files in the digest buckets where a listing differs from the
// state (see state.Digest). Only the rows of changed messages are read, so
// the cost follows the changes, not the folder.
//
// local is nil when the folder's directory times are the recorded ones:
// then the local side is exactly what the state records, and the files of
// the rows the server changed are looked up by name.
//
// The result is the plan the full merge would make: every other message is
// the same on both sides and in the state, so the merge would leave it
// alone. ok is false when a precondition does not hold (no CONDSTORE, an
// unfinished journal, a file not where its row says, a file with a UID of
// this folder that the state doesn't know); the caller then makes the full
// plan.
func (fs *folderSync) incrementalPlan(ctx context.Context, local *localChanges) (p plan, ok bool, err error) {
	st, srv, store := fs.st, fs.server, fs.e.store
	if !fs.conn.CondStore() || st.HighestModSeq == 0 || srv.HighestModSeq == 0 ||
		srv.UIDValidity != st.UIDValidity || st.UIDNext == 0 {
		return plan{}, false, nil
	}
	// With the server's UIDs as recorded, its rows need not be read; nor,
	// when messages only arrived, more than those of the new UIDs.
	serverSame := srv.UIDNext == st.UIDNext && srv.Messages == st.Messages
	allKept := serverSame || onlyArrivals(st, srv)
	// Messages went: with QRESYNC the server names those that went since
	// the last sync (VANISHED), instead of listing every UID it has. Their
	// going raised HIGHESTMODSEQ.
	vanished := !allKept && srv.HighestModSeq > st.HighestModSeq && fs.conn.QResync()
	// The server's answers are on their way (pipelined) while the state is
	// read; every return waits for them, as the connection is used next.
	asked := fs.askChanges(ctx, !allKept && !vanished, srv.HighestModSeq != st.HighestModSeq, st.HighestModSeq, vanished)
	defer asked.wait()
	// The full merge, if this plan gives way to it, takes what it can of
	// these answers instead of asking again.
	fs.asked = asked
	// Interrupted uploads and downloads leave files the rows don't
	// describe; only the full merge settles them.
	if js, err := store.Journal(ctx, st.ID); err != nil || len(js) > 0 {
		return plan{}, false, err
	}
	var recorded, gone, added []uint32
	switch {
	case serverSame:
	case allKept:
		ours, err := store.UIDs(ctx, st.ID, st.UIDNext)
		if err != nil {
			return plan{}, false, fmt.Errorf("reading state: %w", err)
		}
		for u := st.UIDNext; u < srv.UIDNext; u++ {
			if _, found := slices.BinarySearch(ours, u); !found {
				added = append(added, u)
			}
		}
	default:
		if recorded, err = store.UIDs(ctx, st.ID, 0); err != nil {
			return plan{}, false, fmt.Errorf("reading state: %w", err)
		}
	}
	if err := asked.wait(); err != nil {
		if vanished && errors.As(err, new(*imap.Error)) {
			// The server refused the FETCH with VANISHED: the full plan
			// asks UID SEARCH instead.
			fs.log.Debug().Err(err).Msg("UID FETCH with VANISHED refused")
			return plan{}, false, nil
		}
		return plan{}, false, err
	}
	// The server's side: every UID it has (onServer), from UID SEARCH;
	// or, from VANISHED, the recorded ones it no longer has (gone).
	onServer := asked.uids
	switch {
	case vanished:
		var ok bool
		if gone, added, ok = vanishedChanges(recorded, asked, srv); !ok {
			return plan{}, false, nil
		}
	case !allKept:
		slices.Sort(onServer)
		gone, added = uidDiff(recorded, onServer)
	}

	// A copy: sorting what is appended to gone in place would reorder
	// gone, which says below which pairs the server no longer has.
	affected := slices.Clone(gone)
	remoteFlags := make(map[uint32]flagSet)
	for _, in := range asked.flags {
		remoteFlags[in.UID] = parseIMAPFlags(in.Flags)
		affected = append(affected, in.UID)
	}
	slices.Sort(affected)
	affected = slices.Compact(affected)
	rows, err := store.MessagesByUID(ctx, st.ID, affected)
	if err != nil {
		return plan{}, false, fmt.Errorf("reading state: %w", err)
	}
	var entries []maildir.Entry
	// known, the measure of a mass deletion, is the recorded UIDs where
	// they were read; otherwise the server's count (which is the recorded
	// one) or, with a listing, the pairs with a local copy.
	known := int(srv.Messages)
	if recorded != nil {
		known = len(recorded)
	}
	if local == nil {
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
	} else {
		var found bool
		var pairs int
		if rows, entries, pairs, found, err = fs.localDiff(ctx, local, rows); err != nil || !found {
			return plan{}, false, err
		}
		if recorded == nil {
			known = pairs
		}
	}

	remoteUIDs := make(map[uint32]bool, len(rows)+len(added))
	for _, r := range rows {
		if r.UID == 0 {
			continue
		}
		switch {
		case allKept:
		case vanished:
			if _, found := slices.BinarySearch(gone, r.UID); found {
				continue
			}
		default:
			if _, found := slices.BinarySearch(onServer, r.UID); !found {
				continue
			}
		}
		remoteUIDs[r.UID] = true
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
	fs.partialRows = true
	fs.known = known
	msg := incrementalMsg
	if local != nil {
		msg = listedMsg
	}
	fs.log.Debug().Int("changed", len(rows)).Int("new", len(added)).Msg(msg)
	acct := fs.e.acct
	return makePlan(planInput{
		state: rows, local: entries, remoteUIDs: remoteUIDs, remoteFlags: remoteFlags, folderMD5: fs.md5,
		localSide:  sidePolicy{readOnly: acct.Local.Readonly, syncDeletes: acct.Local.SyncDeletes},
		remoteSide: sidePolicy{readOnly: acct.Remote.Readonly, syncDeletes: acct.Remote.SyncDeletes},
	}), true, nil
}

// serverChanges is what askChanges asked the server for.
type serverChanges struct {
	wg gosync.WaitGroup
	// askedUIDs: uids holds the answer to UID SEARCH ALL. askedFlags:
	// flags holds those of UID FETCH FLAGS, CHANGEDSINCE since (unless 0).
	askedUIDs, askedFlags bool
	since                 uint64
	uids                  []uint32      // every UID in the folder
	flags                 []remote.Info // the flags, changed since since
	// With VANISHED asked, gone holds the UIDs expunged since since, if
	// goneKnown (see remote.Changes.Vanished).
	gone      imap.UIDSet
	goneKnown bool
	errs      [2]error
}

// askChanges sends UID SEARCH ALL (uids) and UID FETCH FLAGS (flags; with
// CHANGEDSINCE since, unless since is 0) at once, behind the folder's
// SELECT if it is still to be sent, without waiting for the answers. With
// vanished, the FETCH, which must be asked with since, also asks what went
// since (remote.Folder.AskVanished), and uids must be false.
func (fs *folderSync) askChanges(ctx context.Context, uids, flags bool, since uint64, vanished bool) *serverChanges {
	c := &serverChanges{askedUIDs: uids, askedFlags: flags, since: since}
	if !uids && !flags {
		return c
	}
	var asked *remote.Changes
	if vanished {
		asked = fs.conn.AskVanished(ctx, since)
	} else {
		asked = fs.conn.AskChanges(ctx, uids, flags, since)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var err error
		c.uids, c.flags, err = asked.Wait()
		c.gone, c.goneKnown = asked.Vanished()
		c.errs = [2]error{err, err}
	}()
	return c
}

// vanishedChanges reads the answer of a FETCH asked with VANISHED against
// the recorded UIDs (ascending): gone, those that went, and added, those
// the server has and the state does not, all new or changed since the last
// sync's HIGHESTMODSEQ and so among the FETCH's. ok is false if VANISHED
// was not answered, or its answer does not add up: more messages would
// remain than the server has, so some that went are missing from it.
func vanishedChanges(recorded []uint32, asked *serverChanges, srv remote.Status) (gone, added []uint32, ok bool) {
	if !asked.goneKnown {
		return nil, nil, false
	}
	gone = remote.UIDsIn(recorded, asked.gone)
	for _, in := range asked.flags {
		if _, found := slices.BinarySearch(recorded, in.UID); !found {
			added = append(added, in.UID)
		}
	}
	slices.Sort(added)
	added = slices.Compact(added)
	if len(recorded)-len(gone)+len(added) > int(srv.Messages) {
		return nil, nil, false
	}
	return gone, added, true
}

// wait waits for the answers; it may be called more than once.
func (c *serverChanges) wait() error {
	c.wg.Wait()
	return errors.Join(c.errs[:]...)
}

// localDiff adds to rows, the pairs the server changed, the pairs in the
// digest buckets where the listing differs from the state, and returns
// them with their files: the listed files of those pairs and every file in
// those buckets. pairs is how many pairs with a local copy the state
// records. found is false when the listing differs too much to be
// worth it, or holds a file the partial merge can't place: a UID of this
// folder the state doesn't pair with that file, which the full merge may
// adopt.
func (fs *folderSync) localDiff(ctx context.Context, local *localChanges, rows []state.Message) (
	_ []state.Message, _ []maildir.Entry, pairs int, found bool, _ error) {
	recorded := local.recorded
	if recorded == nil {
		var err error
		if recorded, err = fs.e.store.Digest(ctx, fs.st.ID); err != nil {
			return nil, nil, 0, false, fmt.Errorf("reading state: %w", err)
		}
	}
	if local.digest == nil {
		local.digest = digestOf(local.entries)
	}
	differ := recorded.Differs(local.digest)
	if len(differ) > state.DigestBuckets/4 {
		return nil, nil, 0, false, nil // reading every row is as cheap
	}
	changed, err := fs.e.store.PairsInBuckets(ctx, fs.st.ID, differ)
	if err != nil {
		return nil, nil, 0, false, fmt.Errorf("reading state: %w", err)
	}
	have := make(map[int64]bool, len(rows))
	for _, r := range rows {
		have[r.ID] = true
	}
	for _, r := range changed {
		if !have[r.ID] {
			rows = append(rows, r)
		}
	}
	keys := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.Key != "" {
			keys[r.Key] = true
		}
	}
	inDiff := make([]bool, state.DigestBuckets)
	for _, b := range differ {
		inDiff[b] = true
	}
	var entries []maildir.Entry
	for _, en := range local.entries {
		k := en.Name.Key
		if keys[k] {
			entries = append(entries, en)
			continue
		}
		if !inDiff[state.Bucket(k)] {
			continue
		}
		if en.Name.UID != 0 && en.Name.FMD5 == fs.md5 {
			return nil, nil, 0, false, nil
		}
		entries = append(entries, en)
	}
	return rows, entries, recorded.Len(), true, nil
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

// onlyArrivals reports whether, by the counts alone, no message the
// server had at the last sync (st) has gone since and every UID handed out
// since is still there (srv): the messages that arrived, d = srv.UIDNext -
// st.UIDNext at most, less those that went, make up the whole increase in
// MESSAGES only if d arrived and none went. (Both markers come from one
// SELECT each, so they describe one moment.) Mail that only arrived, the
// common case, then needs no UID SEARCH and no reading of every recorded
// UID.
func onlyArrivals(st state.Folder, srv remote.Status) bool {
	return srv.UIDNext >= st.UIDNext && srv.Messages >= st.Messages &&
		srv.Messages-st.Messages == srv.UIDNext-st.UIDNext
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
