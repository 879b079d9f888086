package sync

import (
	"context"
	"fmt"

	"mailsync/internal/maildir"
)

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
	var considered map[string]bool
	if len(fs.rows) == 0 && len(entries) > 0 && fs.server.Messages > 0 && !fs.t.createRemote {
		// An interrupted first run of our own is settled by its journal
		// (recoverJournal), which also names the files it uploaded.
		js, err := e.store.Journal(ctx, fs.st.ID)
		if err != nil {
			return plan{}, fmt.Errorf("reading state: %w", err)
		}
		if len(js) == 0 {
			if considered, err = fs.pairFirst(ctx, entries); err != nil {
				return plan{}, err
			}
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
		paired:          considered,
	}), nil
}

// listRemote returns the server's UIDs and the flags known to differ from
// the state (all flags when there is no cheaper way). What it needs to ask
// is known from SELECT and the state, so UID SEARCH and UID FETCH go out
// together: one round trip, not two.
func (fs *folderSync) listRemote(ctx context.Context) (map[uint32]bool, map[uint32]flagSet, error) {
	st, srv := fs.st, fs.server
	if fs.first != nil {
		return fs.first.uids, fs.first.flags, nil
	}
	uids := make(map[uint32]bool)
	flags := make(map[uint32]flagSet)
	if srv.UIDValidity == 0 && fs.t.createRemote {
		return uids, flags, nil
	}
	same := st.UIDValidity == srv.UIDValidity && st.UIDNext != 0 && !fs.t.verify
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
		case fs.req.Quick && same:
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
	c := fs.askChanges(ctx, uids && !haveUIDs, flags && !haveFlags, since, false)
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
