package sync

import (
	"time"

	"context"
	"fmt"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// reassociate handles a changed UIDVALIDITY: the server renumbered the
// folder (a restore, a migration, a rebuilt index). Every recorded message is
// matched to its new UID by Message-ID and size, without downloading bodies.
// If any message can't be matched unambiguously the folder stops with nothing
// changed: guessing would duplicate or delete mail.
func (fs *folderSync) reassociate(ctx context.Context, entries []maildir.Entry) error {
	old, now := fs.st.UIDValidity, fs.server.UIDValidity
	if fs.server.Messages == 0 {
		return fs.forgetPairs(ctx, old, now)
	}
	fs.log.Warn().Uint32("old", old).Uint32("new", now).Msg("UIDVALIDITY changed; re-associating messages by Message-ID and size")
	uids, err := fs.conn.UIDs(ctx, time.Time{})
	if err != nil {
		return err
	}
	infos, err := fs.conn.FetchInfo(ctx, uids, true)
	if err != nil {
		return err
	}
	type id struct {
		msgID string
		size  int64
	}
	byID := make(map[id][]uint32)
	for _, in := range infos {
		if in.MessageID == "" {
			continue
		}
		k := id{in.MessageID, in.Size}
		byID[k] = append(byID[k], in.UID)
	}
	byKey := make(map[string]maildir.Entry, len(entries))
	for _, e := range entries {
		byKey[e.Name.Key] = e
	}
	var updated []state.Message
	var dropped []state.Message
	unmatched := 0
	used := make(map[uint32]bool)
	for _, r := range fs.rows {
		if r.UID == 0 {
			continue // no server copy to match; the pair stays as it is
		}
		if r.Key == "" {
			// Its local copy was deliberately removed; with new UIDs there
			// is nothing to hold on to.
			dropped = append(dropped, r)
			continue
		}
		msgID, size := r.MessageID, r.Size
		if e, ok := byKey[r.Key]; ok && (msgID == "" || size == 0) {
			msgID, size = fs.localIdentity(e)
		}
		cands := byID[id{msgID, size}]
		if msgID == "" || len(cands) != 1 || used[cands[0]] {
			unmatched++
			continue
		}
		used[cands[0]] = true
		r.UID, r.MessageID, r.Size = cands[0], msgID, size
		updated = append(updated, r)
	}
	if unmatched > 0 {
		return fmt.Errorf("%w from %d to %d on the server, and %d of %d recorded messages can't be matched "+
			"by Message-ID and size; nothing was changed. To start this folder afresh, move %s out of the Maildir tree "+
			"(e.g. to a backup directory) and run `mailsync sync` again: the folder is then downloaded again",
			ErrUIDValidity, old, now, unmatched, len(updated)+unmatched, fs.t.dir)
	}
	if fs.e.opts.DryRun {
		// Plan against the re-matched pairs without recording them.
		fs.report("re-associate %d messages after UIDVALIDITY changed from %d to %d", len(updated), old, now)
		kept := updated
		for _, r := range fs.rows {
			if r.UID == 0 && r.Key != "" {
				kept = append(kept, r)
			}
		}
		fs.rows = kept
		fs.st.UIDValidity, fs.st.UIDNext, fs.st.Messages, fs.st.HighestModSeq = now, 0, 0, 0
		return nil
	}
	// Durable: the renames below write the new UIDs into file names.
	err = fs.withDurableTx(ctx, func(tx *state.Tx) error {
		for _, r := range dropped {
			if err := tx.Delete(r.ID); err != nil {
				return err
			}
		}
		// Two passes: new UIDs may overlap old ones (a mailbox restored with
		// one more message renumbers n to n+1), and the unique index is
		// checked per statement. UID 0 is outside that index.
		for _, r := range updated {
			parked := r
			parked.UID = 0
			if err := tx.Update(parked); err != nil {
				return err
			}
		}
		for _, r := range updated {
			if err := tx.UpdateIdentity(r); err != nil {
				return err
			}
		}
		fs.st.UIDValidity = now
		fs.st.UIDNext, fs.st.Messages, fs.st.HighestModSeq = 0, 0, 0
		return tx.UpdateFolder(fs.st)
	})
	if err != nil {
		return err
	}
	// U= in file names is a hint for adoption; bring it up to date so a
	// later loss of the state can't pair a file with the wrong message.
	idx := make(map[string]int, len(entries))
	for i, e := range entries {
		idx[e.Name.Key] = i
	}
	for _, r := range updated {
		if e, ok := byKey[r.Key]; ok && e.Name.UID != r.UID {
			n := e.Name
			n.UID, n.FMD5 = r.UID, fs.md5
			if ne, err := fs.mf.Rename(e, n); err == nil {
				fs.localChanged = true
				entries[idx[r.Key]] = ne // the plan must see the new name
			}
		}
	}
	fs.rows, err = fs.e.store.Messages(ctx, fs.st.ID)
	fs.log.Info().Int("matched", len(updated)).Msg("re-associated after UIDVALIDITY change")
	return err
}

// forgetPairs handles a folder that is empty under a new UIDVALIDITY: it was
// re-created on the server (as the vanished-folder report advises). The
// server holds nothing, so dropping the old pairs can't lose mail: the local
// messages are simply uploaded again.
func (fs *folderSync) forgetPairs(ctx context.Context, old, now uint32) error {
	fs.log.Warn().Uint32("old", old).Uint32("new", now).
		Msg("server folder is empty under a new UIDVALIDITY (re-created?); its local messages will be uploaded again")
	fs.report("upload the local messages again into the re-created (empty) server folder")
	fs.st.UIDValidity = now
	fs.st.UIDNext, fs.st.Messages, fs.st.HighestModSeq = 0, 0, 0
	fs.rows = nil
	if fs.e.opts.DryRun {
		return nil
	}
	return fs.withTx(ctx, func(tx *state.Tx) error {
		if err := tx.DeleteAllMessages(); err != nil {
			return err
		}
		return tx.UpdateFolder(fs.st)
	})
}

// localIdentity reads a local file's Message-ID and wire size, as the
// server knows the message (see fileIdentity).
func (fs *folderSync) localIdentity(e maildir.Entry) (string, int64) {
	f, err := fs.mf.Open(e)
	if err != nil {
		return "", 0
	}
	defer f.Close()
	id, size, _ := fileIdentity(f)
	return id, size
}
