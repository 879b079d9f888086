package sync

import (
	"fmt"

	"mailsync/internal/state"
)

// checkMassDelete stops a folder sync that would delete more than half of a
// folder of more than 20 messages on either side: that is what a wiped
// server, a reset mailbox or a botched local move looks like.
func (fs *folderSync) checkMassDelete(p *plan) error {
	if fs.req.AllowMassDelete {
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
