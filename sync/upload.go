package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"mailsync/internal/crlf"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// upload is one local file on its way to the server.
type upload struct {
	e     maildir.Entry
	j     state.JournalEntry
	flags flagSet
	date  time.Time
	tuid  *tuid // mbsync's X-TUID line, left out of the upload (uploadBody)
}

// uploadAll appends local files. Their journal entries are committed, all
// in one transaction, before the first APPEND, so an interrupted upload is
// found on the server next time instead of being appended twice; the pairs
// are then recorded in batches.
func (fs *folderSync) uploadAll(ctx context.Context, entries []maildir.Entry) error {
	var ups []upload
	for _, e := range entries {
		u, ok, err := fs.prepareUpload(e)
		if err != nil {
			return err
		}
		if ok {
			ups = append(ups, u)
		}
	}
	if len(ups) == 0 {
		return nil
	}
	if err := fs.withDurableTx(ctx, func(tx *state.Tx) error {
		for i := range ups {
			var err error
			if ups[i].j.ID, err = tx.AddJournal(ups[i].j); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	var done []finished
	var doneBytes int64
	record := func() error {
		err := fs.recordUploads(context.WithoutCancel(ctx), done)
		if err == nil && len(done) > 0 {
			fs.e.emit(Event{Folder: fs.t.canonical, Kind: Transferred, N: len(done), Dir: Push, Bytes: doneBytes})
		}
		done, doneBytes = done[:0], 0
		return err
	}
	// UIDs that are paired already or were just given to an upload: without
	// UIDPLUS, two identical copies must not both be matched to the first.
	// (After a partial plan the other recorded UIDs are read only when an
	// upload has to be located; see locateUpload.)
	claimed := make(map[uint32]bool, len(fs.rows))
	for _, r := range fs.rows {
		claimed[r.UID] = true
	}
	got := func(u upload, uid uint32) error {
		claimed[uid] = true
		done = append(done, fs.renameUploaded(u.e, uid, u))
		doneBytes += u.j.Size
		if len(done) >= batchSize {
			return record()
		}
		return nil
	}
	if fs.conn.UIDPlus() {
		var err error
		if fs.conn.CanMultiAppend() {
			err = fs.appendMulti(ctx, ups, claimed, got)
		} else {
			err = fs.appendPipelined(ctx, ups, claimed, got)
		}
		if rerr := record(); err == nil {
			err = rerr
		}
		return err
	}
	for _, u := range ups {
		uid, err := fs.append(ctx, u, claimed)
		if err != nil {
			// Keep what got through; the rest is settled from the journal.
			_ = record()
			return err
		}
		if uid == 0 {
			continue
		}
		if err := got(u, uid); err != nil {
			return err
		}
	}
	return record()
}

// appendWindow is how many APPENDs may await their answers at once.
const appendWindow = 16

// appendPipelined uploads ups with up to appendWindow APPENDs under way,
// passing each UID to got. After an error it sends no more but still reads
// the answers to the APPENDs already sent and records every one that got
// through (the rest is settled from the journal next run); it returns the
// first error.
func (fs *folderSync) appendPipelined(ctx context.Context, ups []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	type sent struct {
		u upload
		p *remote.PendingAppend
	}
	var queue []sent
	var unreported []upload // appended, but the server gave no APPENDUID
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	finish := func() {
		s := queue[0]
		queue = queue[1:]
		uid, _, err := s.p.Wait()
		switch {
		case err != nil:
			fail(fmt.Errorf("uploading %s: %w", s.u.e.Path(fs.t.dir), err))
		case uid == 0:
			unreported = append(unreported, s.u)
		default:
			if err := got(s.u, uid); err != nil {
				fail(err)
			}
		}
	}
	for _, u := range ups {
		if firstErr != nil {
			break
		}
		f, err := fs.openUpload(u)
		if err != nil {
			fail(err)
			break
		}
		if f == nil {
			continue
		}
		p, err := fs.startAppend(ctx, u, f)
		f.Close()
		if err != nil {
			fail(err)
			break
		}
		queue = append(queue, sent{u, p})
		if len(queue) >= appendWindow {
			finish()
		}
	}
	for len(queue) > 0 {
		finish()
	}
	// UIDPLUS announced but no APPENDUID: find those as without UIDPLUS,
	// one by one and only now that every APPEND is answered, so that an
	// identical copy sent later can't be taken for this one.
	for _, u := range unreported {
		if firstErr != nil {
			break
		}
		uid, err := fs.locateUploaded(ctx, u, claimed)
		if err != nil {
			fail(fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err))
			break
		}
		if err := got(u, uid); err != nil {
			fail(err)
		}
	}
	return firstErr
}

// A MULTIAPPEND is taken whole or not at all: these bound what one refusal
// sends again, one by one, and what one command holds open.
const (
	multiAppendCount = 64
	multiAppendBytes = 16 << 20
)

// appendMulti uploads ups in MULTIAPPEND batches, passing each UID to got.
// It stops at the first error; what got through is recorded by the caller
// and the rest is settled from the journal next run.
func (fs *folderSync) appendMulti(ctx context.Context, ups []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	for len(ups) > 0 {
		n, size := 1, ups[0].j.Size
		for n < len(ups) && n < multiAppendCount && size+ups[n].j.Size <= multiAppendBytes {
			size += ups[n].j.Size
			n++
		}
		if err := fs.appendBatch(ctx, ups[:n], claimed, got); err != nil {
			return err
		}
		ups = ups[n:]
	}
	return nil
}

// appendBatch uploads one batch in a single MULTIAPPEND.
func (fs *folderSync) appendBatch(ctx context.Context, batch []upload, claimed map[uint32]bool, got func(upload, uint32) error) error {
	sent := make([]upload, 0, len(batch))
	msgs := make([]remote.AppendMessage, 0, len(batch))
	for _, u := range batch {
		f, err := fs.openUpload(u)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		defer f.Close()
		sent = append(sent, u)
		msgs = append(msgs, remote.AppendMessage{Flags: u.flags.imap(), Date: u.date, Size: u.j.Size, Body: crlf.ToCRLF(uploadBody(f, u.tuid))})
	}
	if len(sent) == 0 {
		return nil
	}
	uids, err := fs.conn.MultiAppend(ctx, fs.t.remote, msgs)
	if errors.Is(err, remote.ErrAppendRejected) {
		// Perhaps one message is what the server refuses: one by one, the
		// others get through and the error names the file.
		fs.log.Debug().Err(err).Int("messages", len(sent)).Msg("MULTIAPPEND refused; uploading one by one")
		return fs.appendPipelined(ctx, sent, claimed, got)
	}
	if err != nil {
		return fmt.Errorf("uploading %d messages from %s: %w", len(sent), fs.t.dir, err)
	}
	for i, u := range sent {
		var uid uint32
		if uids != nil {
			uid = uids[i]
		} else if uid, err = fs.locateUploaded(ctx, u, claimed); err != nil {
			// No APPENDUID for the batch: found as without UIDPLUS.
			return fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
		}
		if err := got(u, uid); err != nil {
			return err
		}
	}
	return nil
}

// locateUploaded finds the UID of an upload the server did not report.
func (fs *folderSync) locateUploaded(ctx context.Context, u upload, claimed map[uint32]bool) (uint32, error) {
	f, err := fs.mf.Open(u.e)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return fs.locateUpload(ctx, u, f, claimed)
}

// locateUpload finds what was just appended from f, the same way a crash
// recovery would; not finding it is an error.
func (fs *folderSync) locateUpload(ctx context.Context, u upload, f *os.File, claimed map[uint32]bool) (uint32, error) {
	if fs.partialRows && !fs.claimedAll {
		uids, err := fs.e.store.UIDs(ctx, fs.st.ID, 0)
		if err != nil {
			return 0, fmt.Errorf("reading state: %w", err)
		}
		for _, uid := range uids {
			claimed[uid] = true
		}
		fs.claimedAll = true
	}
	uid, err := fs.locate(ctx, u.j, f, claimed)
	if err == nil && uid == 0 {
		err = fmt.Errorf("uploaded %s but can't find its UID on the server; it will be matched on the next run", u.e.File)
	}
	return uid, err
}

// prepareUpload checks a local file and computes what the journal needs.
// ok is false for a file that is skipped (with a warning) or outside max_age.
func (fs *folderSync) prepareUpload(e maildir.Entry) (upload, bool, error) {
	acct := fs.e.acct
	f, err := fs.mf.Open(e)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) { // else removed since the scan; next run sees that
			fs.log.Warn().Str("file", e.Path(fs.t.dir)).Err(err).Msg("can't read local file; skipped")
			fs.c.Skipped++
		}
		return upload{}, false, nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return upload{}, false, err
	}
	if info.Size() == 0 {
		fs.log.Warn().Str("file", e.Path(fs.t.dir)).Msg("empty file; not uploaded")
		fs.c.Skipped++
		return upload{}, false, nil
	}
	if !acct.MaxAge.IsZero() && info.ModTime().Before(acct.MaxAge.Since(fs.e.opts.Now())) {
		return upload{}, false, nil
	}
	size, err := crlf.Size(f)
	if err != nil {
		return upload{}, false, fmt.Errorf("reading %s: %w", e.Path(fs.t.dir), err)
	}
	hdr := readHeader(f)
	var tu *tuid
	if t, ok := tuidIn(hdr); ok {
		tu = &t
		size -= t.wire
	}
	if acct.MaxSize > 0 && size > acct.MaxSize {
		fs.log.Warn().Str("file", e.Path(fs.t.dir)).Int64("size", size).Int64("max_size", acct.MaxSize).
			Msg("message larger than max_size; not uploaded")
		fs.c.Skipped++
		return upload{}, false, nil
	}
	return upload{
		e:     e,
		j:     state.JournalEntry{Op: state.OpAppend, Key: e.Name.Key, MessageID: remote.ParseMessageID(hdr), Size: size, UIDNext: fs.server.UIDNext},
		flags: parseMaildirFlags(e.Name.Flags),
		date:  info.ModTime(),
		tuid:  tu,
	}, true, nil
}

// append uploads one prepared file and returns its UID (0 when the file
// went away meanwhile).
func (fs *folderSync) append(ctx context.Context, u upload, claimed map[uint32]bool) (uint32, error) {
	f, err := fs.openUpload(u)
	if f == nil {
		return 0, err
	}
	defer f.Close()
	p, err := fs.startAppend(ctx, u, f)
	if err != nil {
		return 0, err
	}
	uid, _, err := p.Wait()
	if err != nil {
		return 0, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	if uid == 0 {
		// No UIDPLUS: look it up, through the file already open, since the
		// client may have renamed it meanwhile.
		return fs.locateUpload(ctx, u, f, claimed)
	}
	return uid, nil
}

// openUpload opens a prepared file for its APPEND; nil and no error when it
// went away meanwhile (its journal entry is dropped next run: nothing was
// sent).
func (fs *folderSync) openUpload(u upload) (*os.File, error) {
	f, err := fs.mf.Open(u.e)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	return f, nil
}

// startAppend sends the APPEND of an opened upload, without waiting for
// its answer.
func (fs *folderSync) startAppend(ctx context.Context, u upload, f *os.File) (*remote.PendingAppend, error) {
	p, err := fs.conn.StartAppend(ctx, fs.t.remote, u.flags.imap(), u.date, u.j.Size, crlf.ToCRLF(uploadBody(f, u.tuid)))
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", u.e.Path(fs.t.dir), err)
	}
	return p, nil
}

// finished is an upload that reached the server, waiting to be recorded.
type finished struct {
	row state.Message
	jID int64
}

// renameUploaded gives the local file its U= and FMD5=. A file the client
// renamed meanwhile (new flags) keeps its key, so it is found and renamed
// all the same: a stale U= would mislead adoption if the state were lost.
func (fs *folderSync) renameUploaded(e maildir.Entry, uid uint32, u upload) finished {
	fs.giveUID(e, uid)
	fs.localChanged = true
	return finished{
		row: state.Message{UID: uid, Key: e.Name.Key, Flags: u.flags.maildir(), Size: u.j.Size, MessageID: u.j.MessageID},
		jID: u.j.ID,
	}
}

func (fs *folderSync) giveUID(e maildir.Entry, uid uint32) maildir.Entry {
	n := e.Name
	n.UID, n.FMD5 = uid, fs.md5
	// In place: a file in new/ stays there, or the mail client would show
	// a new message as old.
	ne, err := fs.mf.Relabel(e, n)
	if errors.Is(err, os.ErrNotExist) && e.File != "" {
		if cur, ok, ferr := fs.mf.FindKey(e.Name.Key); ferr == nil && ok {
			n = cur.Name
			n.UID, n.FMD5 = uid, fs.md5
			ne, err = fs.mf.Relabel(cur, n)
		}
	}
	if err != nil {
		// Removed meanwhile, or not renamable: the pair is recorded by key
		// either way, and the next run sees what the client did.
		fs.log.Debug().Err(err).Str("key", e.Name.Key).Msg("could not add U= to an uploaded file")
		return e
	}
	return ne
}

// recordUploads records uploaded pairs and closes their journal entries.
func (fs *folderSync) recordUploads(ctx context.Context, done []finished) error {
	if len(done) == 0 {
		return nil
	}
	err := fs.withTx(ctx, func(tx *state.Tx) error {
		for _, d := range done {
			if _, err := tx.Insert(d.row); err != nil {
				return err
			}
			if err := tx.DeleteJournal(d.jID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		fs.c.Pushed += len(done)
	}
	return err
}
