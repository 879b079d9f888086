package sync

import (
	"context"
	"errors"
	"fmt"
	"os"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

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
