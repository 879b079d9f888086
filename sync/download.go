package sync

import (
	"context"
	"fmt"
	"io"
	"time"

	"mailsync/internal/crlf"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// batchSize is how many message records share one state transaction while
// downloading: large enough to amortise the commit, small enough that a crash
// leaves little to adopt on the next run.
const batchSize = 256

// downloader is the BodySink of a download FETCH: each body streams into a
// tmp/ file and is committed to cur/ or new/ when its metadata is complete.
// Records are buffered and written in short transactions, never held open
// across network reads: the state has one connection shared by all folders.
// A file delivered but not yet recorded carries U= and is adopted next run.
type downloader struct {
	fs      *folderSync
	ctx     context.Context
	pending *maildir.Pending
	hdr     headerCapture
	// ready holds whole messages in tmp/, delivered deliverGroup at a time
	// so that their fsyncs run together.
	ready      []readyMessage
	readySince time.Time
	batch      []state.Message
	last       time.Time
	// Reused for every message: 20,000 messages would otherwise allocate
	// over a gigabyte of short-lived buffers.
	lf  *crlf.LFWriter
	buf []byte
}

func (d *downloader) Body(r io.Reader, size int64) error {
	// Also while one large body is downloading.
	if d.groupWaited() {
		if err := d.deliver(); err != nil {
			return err
		}
	}
	p, err := d.fs.mf.NewPending(d.fs.e.opts.Now())
	if err != nil {
		return fmt.Errorf("creating file in %s/tmp: %w", d.fs.t.dir, err)
	}
	d.pending = p
	d.hdr.reset()
	if d.lf == nil {
		d.lf, d.buf = crlf.ToLF(p), make([]byte, 64<<10)
	}
	w := d.lf
	w.Reset(p)
	n, err := io.CopyBuffer(w, io.TeeReader(r, &d.hdr), d.buf)
	if err == nil && n != size {
		// go-imap's literal reader reports a connection cut mid-literal as
		// a plain EOF; only the count tells a short body from a whole one.
		err = fmt.Errorf("connection ended after %d of %d bytes", n, size)
	}
	if err != nil {
		p.Abort()
		d.pending = nil
		return fmt.Errorf("downloading message: %w", err)
	}
	if err := w.Flush(); err != nil {
		p.Abort()
		d.pending = nil
		return fmt.Errorf("writing %s/tmp: %w", d.fs.t.dir, err)
	}
	p.Written()
	return nil
}

// deliverGroup is how many downloaded messages wait in tmp/ to be made
// durable together.
const deliverGroup = 32

type readyMessage struct {
	p     *maildir.Pending
	in    remote.Info
	msgID string
}

func (d *downloader) Done(in remote.Info) error {
	p := d.pending
	d.pending = nil
	if p == nil {
		return nil
	}
	if len(d.ready) == 0 {
		d.readySince = time.Now()
	}
	d.ready = append(d.ready, readyMessage{p, in, remote.ParseMessageID(d.hdr.bytes())})
	if len(d.ready) < deliverGroup && !d.groupWaited() {
		return nil
	}
	if err := d.deliver(); err != nil {
		return err
	}
	if now := time.Now(); len(d.batch) >= batchSize || now.Sub(d.last) > time.Second {
		d.last = now
		return d.flush(d.ctx)
	}
	return nil
}

// groupWaited reports whether messages have waited a second to be
// delivered: a group waits no longer, so that a slow download still shows up
// in the folder as it goes.
func (d *downloader) groupWaited() bool {
	return len(d.ready) > 0 && time.Since(d.readySince) >= time.Second
}

// deliver moves the ready messages from tmp/ into the folder, each made
// durable before its rename (all fsyncs first, issued together).
func (d *downloader) deliver() error {
	ready := d.ready
	d.ready = d.ready[:0]
	abort := func(from int) {
		for _, r := range ready[from:] {
			r.p.Abort()
		}
	}
	ps := make([]*maildir.Pending, len(ready))
	for i, r := range ready {
		ps[i] = r.p
	}
	if err := maildir.SyncPending(ps); err != nil {
		abort(0)
		return fmt.Errorf("delivering into %s: %w", d.fs.t.dir, err)
	}
	delivered, deliveredBytes := 0, int64(0)
	defer func() {
		if delivered > 0 {
			d.fs.e.emit(Event{Folder: d.fs.t.canonical, Kind: Transferred, N: delivered, Dir: Pull, Bytes: deliveredBytes})
		}
	}()
	for i, r := range ready {
		flags := parseIMAPFlags(r.in.Flags)
		n := maildir.Name{UID: r.in.UID, FMD5: d.fs.md5, Flags: flags.maildir()}
		ent, err := r.p.CommitNoDirSync(n, r.in.InternalDate)
		if err != nil {
			abort(i + 1)
			return fmt.Errorf("uid %d: delivering into %s: %w", r.in.UID, d.fs.t.dir, err)
		}
		d.fs.localChanged = true
		d.batch = append(d.batch, state.Message{UID: r.in.UID, Key: ent.Name.Key, Flags: flags.maildir(),
			Size: r.in.Size, MessageID: r.msgID})
		d.fs.c.Pulled++
		delivered++
		deliveredBytes += r.in.Size
	}
	return nil
}

func (d *downloader) flush(ctx context.Context) error {
	derr := d.deliver()
	if len(d.batch) == 0 {
		return derr
	}
	// withTx makes the renames durable before the state says the files exist.
	err := d.fs.withTx(ctx, func(tx *state.Tx) error {
		for _, m := range d.batch {
			if _, err := tx.Insert(m); err != nil {
				return err
			}
		}
		return nil
	})
	d.batch = d.batch[:0]
	if err == nil {
		err = derr
	}
	return err
}

func (fs *folderSync) download(ctx context.Context, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	// Journal the intent first: a file this fetch delivers but doesn't get
	// to record is then known, next run, to be ours (see makePlan).
	j := state.JournalEntry{Op: state.OpDownload, UIDs: remote.UIDSet(uids).String(), UIDValidity: fs.server.UIDValidity}
	if err := fs.withDurableTx(ctx, func(tx *state.Tx) error {
		var err error
		j.ID, err = tx.AddJournal(j)
		return err
	}); err != nil {
		return err
	}
	d := &downloader{fs: fs, ctx: ctx, last: time.Now()}
	err := fs.conn.FetchBodies(ctx, uids, d)
	if d.pending != nil {
		d.pending.Abort()
	}
	if err != nil {
		// Keep what was delivered even when interrupted: recording it now
		// saves the adoption pass next run. Cancellation must not stop this
		// short local write.
		_ = d.flush(context.WithoutCancel(ctx))
		return err
	}
	// The journal entry is removed with the folder's final record; until
	// then it harmlessly names UIDs that are all recorded.
	return d.flush(ctx)
}

// headerCapture keeps the start of a message, up to the end of its header,
// so the Message-ID can be recorded without a second pass.
type headerCapture struct {
	buf  []byte
	done bool
}

const maxHeaderCapture = 64 << 10

func (h *headerCapture) reset() { h.buf, h.done = h.buf[:0], false }

func (h *headerCapture) Write(p []byte) (int, error) {
	if h.done {
		return len(p), nil
	}
	h.buf = append(h.buf, p...)
	if end := headerEnd(h.buf); end >= 0 {
		h.buf = h.buf[:end]
		h.done = true
	} else if len(h.buf) > maxHeaderCapture {
		h.buf = h.buf[:maxHeaderCapture]
		h.done = true
	}
	return len(p), nil
}

func (h *headerCapture) bytes() []byte { return h.buf }
