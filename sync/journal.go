package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"mailsync/internal/crlf"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// maxJournalUIDs bounds what a download journal entry, one folder's
// downloads, may name: far beyond any folder, short of a corrupt entry's
// four billion.
const maxJournalUIDs = 1 << 24

// interruptedDownloads returns the UIDs that earlier, interrupted runs were
// downloading in the server's current UIDVALIDITY.
func (fs *folderSync) interruptedDownloads(ctx context.Context) (map[uint32]bool, error) {
	if fs.st.ID == 0 {
		return nil, nil
	}
	js, err := fs.e.store.Journal(ctx, fs.st.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]bool)
	for _, j := range js {
		if j.Op != state.OpDownload || j.UIDValidity != fs.server.UIDValidity {
			continue
		}
		uids, err := remote.ParseUIDSet(j.UIDs, maxJournalUIDs)
		if err != nil {
			fs.log.Warn().Err(err).Msg("unreadable download journal entry; ignored")
			continue
		}
		for _, u := range uids {
			out[u] = true
		}
	}
	return out, nil
}

// finishUpload renames and records one upload found by journal recovery.
func (fs *folderSync) finishUpload(ctx context.Context, e maildir.Entry, j state.JournalEntry, uid uint32, flags flagSet, size int64, msgID string) (maildir.Entry, error) {
	ne := fs.giveUID(e, uid)
	fs.localChanged = true
	err := fs.recordUploads(ctx, []finished{{
		row: state.Message{UID: uid, Key: e.Name.Key, Flags: flags.maildir(), Size: size, MessageID: msgID},
		jID: j.ID,
	}})
	return ne, err
}

// recoverJournal settles uploads that were interrupted: each was either
// appended (find it and record it) or not (drop the entry; the file is still
// new and is uploaded again).
func (fs *folderSync) recoverJournal(ctx context.Context, entries []maildir.Entry, remoteUIDs map[uint32]bool) error {
	idx := make(map[string]int, len(entries))
	for i, e := range entries {
		idx[e.Name.Key] = i
	}
	if fs.st.ID == 0 {
		return nil
	}
	js, err := fs.e.store.Journal(ctx, fs.st.ID)
	if err != nil || len(js) == 0 {
		return err
	}
	byKey := make(map[string]maildir.Entry, len(entries))
	for _, e := range entries {
		byKey[e.Name.Key] = e
	}
	known := make(map[uint32]bool, len(fs.rows))
	for _, r := range fs.rows {
		known[r.UID] = true
	}
	for _, j := range js {
		if j.Op != state.OpAppend {
			continue
		}
		var f *os.File
		e, hasLocal := byKey[j.Key]
		if hasLocal {
			if f, err = fs.mf.Open(e); err != nil {
				f = nil
			}
		}
		uid := uint32(0)
		if fs.server.UIDValidity != 0 {
			uid, err = fs.locate(ctx, j, f, known)
		}
		if f != nil {
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("recovering interrupted upload of %s: %w", j.Key, err)
		}
		if uid == 0 {
			fs.log.Info().Str("key", j.Key).Msg("interrupted upload never reached the server; uploading again")
			if err := fs.withTx(ctx, func(tx *state.Tx) error { return tx.DeleteJournal(j.ID) }); err != nil {
				return err
			}
			continue
		}
		fs.log.Info().Str("key", j.Key).Uint32("uid", uid).Msg("interrupted upload found on the server; not uploading again")
		remoteUIDs[uid] = true
		known[uid] = true
		flags := parseMaildirFlags(e.Name.Flags)
		if !hasLocal {
			e = maildir.Entry{Name: maildir.Name{Key: j.Key}}
		}
		ne, err := fs.finishUpload(ctx, e, j, uid, flags, j.Size, j.MessageID)
		if err != nil {
			return err
		}
		if i, ok := idx[j.Key]; ok && hasLocal {
			entries[i] = ne // the plan must see the renamed file
		}
		fs.c.Pushed-- // counted when it was really pushed
		fs.rows = append(fs.rows, state.Message{UID: uid, Key: j.Key, Flags: flags.maildir(), Size: j.Size, MessageID: j.MessageID})
	}
	// Reload so row IDs are right for the plan.
	fs.rows, err = fs.e.store.Messages(ctx, fs.st.ID)
	return err
}

// locate finds the UID of a message appended at or after j.UIDNext: by
// Message-ID and size, or, without a Message-ID, by size and content hash of
// the local file f. UIDs in skip are already paired and can't be it.
func (fs *folderSync) locate(ctx context.Context, j state.JournalEntry, f *os.File, skip map[uint32]bool) (uint32, error) {
	var cands []uint32
	if j.MessageID != "" {
		uids, err := fs.conn.SearchHeader(ctx, "Message-ID", j.MessageID, j.UIDNext)
		if err != nil {
			return 0, err
		}
		infos, err := fs.conn.FetchInfo(ctx, uids, true)
		if err != nil {
			return 0, err
		}
		for _, in := range infos {
			if in.MessageID == j.MessageID && in.Size == j.Size && !skip[in.UID] {
				cands = append(cands, in.UID)
			}
		}
		if len(cands) > 0 {
			return cands[0], nil
		}
		return 0, nil
	}
	if f == nil {
		return 0, nil
	}
	all, err := fs.conn.UIDs(ctx, time.Time{})
	if err != nil {
		return 0, err
	}
	var recent []uint32
	for _, u := range all {
		if u >= j.UIDNext && !skip[u] {
			recent = append(recent, u)
		}
	}
	infos, err := fs.conn.FetchInfo(ctx, recent, false)
	if err != nil {
		return 0, err
	}
	for _, in := range infos {
		if in.Size == j.Size {
			cands = append(cands, in.UID)
		}
	}
	if len(cands) == 0 {
		return 0, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, crlf.ToCRLF(io.NewSectionReader(f, 0, 1<<62))); err != nil {
		return 0, err
	}
	want := h.Sum(nil)
	hs := &hashSink{}
	if err := fs.conn.FetchBodies(ctx, cands, hs); err != nil {
		return 0, err
	}
	for _, m := range hs.found {
		if bytes.Equal(m.sum, want) {
			return m.uid, nil
		}
	}
	return 0, nil
}

type hashSink struct {
	cur   []byte
	found []struct {
		uid uint32
		sum []byte
	}
}

func (h *hashSink) Body(r io.Reader, size int64) error {
	s := sha256.New()
	if n, err := io.Copy(s, r); err != nil {
		return err
	} else if n != size {
		return fmt.Errorf("connection ended after %d of %d bytes", n, size)
	}
	h.cur = s.Sum(nil)
	return nil
}

func (h *hashSink) Done(in remote.Info) error {
	h.found = append(h.found, struct {
		uid uint32
		sum []byte
	}{in.UID, h.cur})
	return nil
}
