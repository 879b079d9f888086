package sync

import (
	"context"
	"fmt"

	"mailsync/internal/state"
)

// apply carries out the plan. Each step changes a side first and records it
// after; every crash point between the two is recognised on the next run
// (see recoverJournal and adoption), so nothing is lost or duplicated.
func (fs *folderSync) apply(ctx context.Context, p *plan) error {
	if len(p.upload) > 0 && (len(p.deleteRemote) > 0 || len(p.push) > 0) {
		// The STORE after the uploads needs the folder selected; the
		// SELECT travels with the APPEND instead of on its own.
		fs.conn.Preselect(ctx)
	}
	if err := fs.applyAdoptions(ctx, p.adopt); err != nil {
		return err
	}
	if err := fs.download(ctx, p.download); err != nil {
		return err
	}
	// The STORE of flags and deletions waits for the uploads' answers.
	// Dovecot runs pipelined commands side by side, and a UID EXPUNGE
	// written behind an APPEND to the same mailbox has been seen to
	// expunge nothing, although the STORE of \Deleted written before it
	// took effect and both were answered OK: the messages stayed on the
	// server while the state recorded them gone (TestCrashKnownSeeds).
	// Writing the STORE beside the uploads measured no faster.
	err := fs.uploadAll(ctx, p.upload)
	if err == nil {
		err = fs.storeFlags(ctx, p)
	}
	if err != nil {
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
	err = fs.applyDeletes(p, &pending)
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
