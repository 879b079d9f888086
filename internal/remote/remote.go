// Package remote is mailsync's IMAP side: dialing, authenticating, and the
// handful of commands the sync engine needs, on top of go-imap v2.
//
// Every call takes a context. A connection is tied to the context it was
// dialled with: when that context ends the connection is closed, which
// unblocks any command in flight. Message bodies are streamed, never held.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Conn is one logged-in IMAP connection.
type Conn struct {
	c    *imapclient.Client
	pc   *progressConn
	g    *guardConn
	caps imap.CapSet
	stop func() bool
	// rawTag numbers the commands mailsync writes past go-imap.
	rawTag int
	// dc carries COMPRESS=DEFLATE once it is on (compressed).
	dc           *deflateConn
	wantCompress bool
	compressed   bool
	// wmu is held while a unit of commands is written (folder.go); cur
	// is the last SELECT written.
	wmu gosync.Mutex
	cur *lazySelect
	// claim is the folder that keeps the selection (Folder.Claim);
	// claimed, on wmu, wakes the folders waiting for it.
	claim   *Folder
	claimed *gosync.Cond
	// def is the Folder the connection's own mailbox commands act on.
	def *Folder
	// dropped is set when mailsync closed the connection for one
	// command's failure (drop).
	dropped atomic.Bool
	// ahead is the first round sent behind the login, until List
	// takes it (ahead.go).
	ahead *aheadList
	// pre is the SELECT sent behind the login (Ahead.Select) until a
	// folder takes it, and preCondStore the CONDSTORE guess it was sent
	// with; on wmu.
	pre          *lazySelect
	preCondStore bool
	hasPre       atomic.Bool // pre is set: SelectLater looks at it
	// changes is signalled when the server reports, unasked, a change to
	// the selected mailbox (EXISTS, EXPUNGE, VANISHED, FETCH); see Idle
	// and Poll.
	changes chan struct{}
	// ENABLE QRESYNC, written behind the login (vanished.go): whether to
	// send it, its tag and answer, and, once QResync has read that, its
	// outcome.
	wantQResync   bool
	qresyncTag    string
	qresyncAnswer <-chan divertResult
	qresyncOnce   gosync.Once
	qresync       bool
}

// busy marks a command as outstanding, so that waiting for its answer is
// bound by the timeout; call the result when the command is done.
func (c *Conn) busy() func() {
	if c.pc == nil {
		return func() {}
	}
	return c.pc.begin()
}

// Close sends LOGOUT if it can and closes the connection.
func (c *Conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	// LOGOUT is sent, and its answer not waited for: the server closes
	// the session either way, and the answer is a round trip that tells
	// nothing, the last wait of every run on a slow link. Sending is
	// bounded too: a stalled connection must not hold the close.
	sent := make(chan struct{})
	go func() {
		_ = c.c.Logout()
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(2 * time.Second):
	}
	return c.c.Close()
}

// ErrDropped marks the failure of a command after which mailsync closed
// the connection (drop).
var ErrDropped = errors.New("the connection was closed after it")

// drop closes the connection because one command left it unusable (a
// literal cut short, a MULTIAPPEND answered BAD): the connection, not the
// server, failed the other commands on it. The command's own error, err,
// is returned marked with ErrDropped.
func (c *Conn) drop(err error) error {
	c.dropped.Store(true)
	c.c.Close()
	return fmt.Errorf("%w (%w)", err, ErrDropped)
}

// Dropped reports whether mailsync closed the connection for one command's
// failure: the other folders that failed on it may succeed on another.
func (c *Conn) Dropped() bool { return c.dropped.Load() }

// Has reports whether the server announced capability cap.
func (c *Conn) Has(cap imap.Cap) bool { return c.caps.Has(cap) }

// CondStore reports CONDSTORE support.
func (c *Conn) CondStore() bool { return c.caps.Has(imap.CapCondStore) || c.caps.Has(imap.CapQResync) }

// UIDPlus reports UIDPLUS support (APPENDUID and UID EXPUNGE).
func (c *Conn) UIDPlus() bool { return c.caps.Has(imap.CapUIDPlus) || c.caps.Has(imap.CapIMAP4rev2) }

// Status is what the server says about a mailbox.
type Status struct {
	Messages      uint32
	UIDNext       uint32
	UIDValidity   uint32
	HighestModSeq uint64 // 0 without CONDSTORE
}

// Mailbox is one entry of the server's folder list.
type Mailbox struct {
	Name     string // UTF-8, with the server's delimiter
	Delim    rune   // 0 for a flat namespace
	NoSelect bool
	Status   *Status // from STATUS right after LIST; nil if the server refused it
}

// List returns every mailbox with its status (STATUS, so one round trip tells
// which folders changed).
//
// known names folders that are expected to exist (from the last sync): their
// STATUS commands go out before the LIST, the others' after it; all are
// sent before the first answer is read. That is one round trip like
// LIST-STATUS, works on every server, and on Dovecot is far cheaper: a
// STATUS answered before any LIST in the session comes from the mailbox
// list index (0.5 ms for a 100,000-message folder), while LIST-STATUS, or
// STATUS after a LIST, opens the mailbox (60-90 ms for that folder).
//
// A connection that sent the round behind its login (Options.Ahead) has
// it answered already, or nearly.
func (c *Conn) List(ctx context.Context, known []string) ([]Mailbox, error) {
	defer c.busy()()
	opts := c.statusOptions()
	ahead, err := c.takeAhead()
	if err != nil {
		return nil, err
	}
	early := make(map[string]*imapclient.StatusCommand, len(known))
	var list *imapclient.ListCommand
	if ahead != nil {
		early, list = ahead.status, ahead.list
	}
	for _, name := range known {
		if early[name] == nil {
			early[name] = c.c.Status(name, opts)
		}
	}
	compressed := func() error { return nil }
	if list == nil {
		list = c.c.List("", "*", nil)
		// COMPRESS goes behind the LIST, and its answer comes with LIST's:
		// the STATUS of folders the LIST finds new are sent compressed.
		compressed = c.compressBehind(ctx)
	}
	data, err := list.Collect()
	if cerr := compressed(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	out := make([]Mailbox, 0, len(data))
	cmds := make([]*imapclient.StatusCommand, 0, len(data))
	asked := false // a STATUS sent after LIST's answer
	for _, d := range data {
		m := Mailbox{Name: d.Mailbox, Delim: d.Delim}
		for _, a := range d.Attrs {
			if strings.EqualFold(string(a), string(imap.MailboxAttrNoSelect)) ||
				strings.EqualFold(string(a), string(imap.MailboxAttrNonExistent)) {
				m.NoSelect = true
			}
		}
		cmd := early[m.Name]
		if cmd == nil && !m.NoSelect {
			cmd = c.c.Status(m.Name, opts)
		}
		out = append(out, m)
		cmds = append(cmds, cmd)
		if early[m.Name] == nil && cmd != nil {
			asked = true
		}
	}
	if ahead != nil && asked {
		// The LIST went with the login, before the capabilities were
		// known: COMPRESS goes behind the new folders' STATUS instead,
		// or, if there are none, behind the sync's next questions.
		if cerr := c.compressBehind(ctx)(); cerr != nil {
			return nil, cerr
		}
	}
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		d, err := cmd.Wait()
		var imapErr *imap.Error
		switch {
		case errors.As(err, &imapErr) || out[i].NoSelect:
			// Gone since LIST, or not ours to see: no shortcut for it; the
			// folder's sync reports what is wrong.
		case err != nil:
			return nil, fmt.Errorf("STATUS %q: %w", out[i].Name, err)
		default:
			s := statusFrom(d)
			out[i].Status = &s
		}
	}
	// The answers for known folders that are gone are not needed, but must
	// be read before the connection is used for anything else.
	listed := make(map[string]bool, len(out))
	for _, m := range out {
		listed[m.Name] = true
	}
	for name, cmd := range early {
		if listed[name] {
			continue
		}
		if _, err := cmd.Wait(); err != nil && !errors.As(err, new(*imap.Error)) {
			return nil, fmt.Errorf("STATUS %q: %w", name, err)
		}
	}
	return out, nil
}

func (c *Conn) statusOptions() *imap.StatusOptions {
	return &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: c.CondStore()}
}

func statusFrom(d *imap.StatusData) Status {
	s := Status{UIDNext: uint32(d.UIDNext), UIDValidity: d.UIDValidity, HighestModSeq: d.HighestModSeq}
	if d.NumMessages != nil {
		s.Messages = *d.NumMessages
	}
	return s
}

// Status asks for one mailbox's status without selecting it.
func (c *Conn) Status(ctx context.Context, name string) (Status, error) {
	defer c.busy()()
	c.wmu.Lock()
	cmd := c.c.Status(name, c.statusOptions())
	c.wmu.Unlock()
	d, err := cmd.Wait()
	if err != nil {
		return Status{}, fmt.Errorf("STATUS %q: %w", name, err)
	}
	return statusFrom(d), nil
}

// Create creates a mailbox. A mailbox that already exists is not an error.
func (c *Conn) Create(ctx context.Context, name string) error {
	defer c.busy()()
	c.wmu.Lock()
	cmd := c.c.Create(name, nil)
	c.wmu.Unlock()
	err := cmd.Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CREATE %q: %w", name, err)
	}
	return nil
}

func toU32(uids []imap.UID) []uint32 {
	out := make([]uint32, len(uids))
	for i, u := range uids {
		out[i] = uint32(u)
	}
	return out
}

// UIDSet builds a compact set from uids.
func UIDSet(uids []uint32) imap.UIDSet {
	var s imap.UIDSet
	for _, u := range uids {
		s.AddNum(imap.UID(u))
	}
	return s
}

// ParseUIDSet reads a UID set in IMAP syntax ("1:5,7,9:12"; no "*"), as
// imap.UIDSet.String writes it, expanded in the order written ("" is the
// empty set). A set of more than max UIDs is refused before it is
// expanded, so no input makes it allocate more.
func ParseUIDSet(s string, max int) ([]uint32, error) {
	if s == "" {
		return nil, nil
	}
	set, err := parseUIDRanges(s)
	if err != nil {
		return nil, err
	}
	var n uint64
	for _, r := range set {
		if n += uint64(r.Stop-r.Start) + 1; n > uint64(max) {
			return nil, fmt.Errorf("UID set %.60q: more than %d UIDs", s, max)
		}
	}
	out := make([]uint32, 0, n)
	for _, r := range set {
		for u := uint64(r.Start); u <= uint64(r.Stop); u++ {
			out = append(out, uint32(u))
		}
	}
	return out, nil
}

// Info is a message's metadata.
type Info struct {
	UID          uint32
	Flags        []imap.Flag
	Size         int64
	InternalDate time.Time
	ModSeq       uint64
	MessageID    string
}

func applyItem(in *Info, item imapclient.FetchItemData) {
	switch it := item.(type) {
	case imapclient.FetchItemDataUID:
		in.UID = uint32(it.UID)
	case imapclient.FetchItemDataFlags:
		in.Flags = it.Flags
	case imapclient.FetchItemDataRFC822Size:
		in.Size = it.Size
	case imapclient.FetchItemDataInternalDate:
		in.InternalDate = it.Time
	case imapclient.FetchItemDataModSeq:
		in.ModSeq = it.ModSeq
	}
}

// BodySink receives streamed messages from FetchBodies. For each message,
// Body is called once with the literal (which it must consume or return an
// error), then Done with the metadata, which may have arrived in any order
// around the body.
type BodySink interface {
	Body(r io.Reader, size int64) error
	Done(in Info) error
}

// PendingAppend is an APPEND whose message has been sent and whose answer
// has not been read yet.
type PendingAppend struct {
	c       *Conn
	cmd     *imapclient.AppendCommand
	mailbox string
	done    func()
}

// StartAppend sends an APPEND of a message of exactly size bytes (CRLF) read
// from r and returns without waiting for the answer, so several APPENDs can
// be under way at once: the server works through them back to back instead
// of waiting for mailsync between two messages. Every PendingAppend must be
// waited for, in order.
func (c *Conn) StartAppend(ctx context.Context, mailbox string, flags []imap.Flag, date time.Time, size int64, r io.Reader) (*PendingAppend, error) {
	done := c.busy()
	c.wmu.Lock()
	cmd := c.c.Append(mailbox, size, &imap.AppendOptions{Flags: flags, Time: appendDate(date)})
	n, err := io.Copy(cmd, r)
	if err == nil && n != size {
		err = fmt.Errorf("message is %d bytes, announced %d", n, size)
	}
	if cerr := cmd.Close(); err == nil {
		err = cerr
	}
	c.wmu.Unlock()
	if err != nil {
		done()
		// The literal is broken; the connection can't be trusted any more.
		return nil, c.drop(fmt.Errorf("APPEND to %q: %w", mailbox, err))
	}
	return &PendingAppend{c: c, cmd: cmd, mailbox: mailbox, done: done}, nil
}

// Wait reads the answer to the APPEND: the new message's UID and the
// folder's UIDVALIDITY, both 0 without UIDPLUS.
func (p *PendingAppend) Wait() (uid, uidValidity uint32, err error) {
	defer p.done()
	d, err := p.cmd.Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("APPEND to %q: %w", p.mailbox, err)
	}
	return uint32(d.UID), d.UIDValidity, nil
}

// FlagChange is one UID STORE: flags added to (Add) or removed from uids.
type FlagChange struct {
	UIDs  []uint32
	Add   bool
	Flags []imap.Flag
}

// Noop checks the connection.
func (c *Conn) Noop(ctx context.Context) error {
	defer c.busy()()
	c.wmu.Lock()
	cmd := c.c.Noop()
	c.wmu.Unlock()
	return cmd.Wait()
}

// The connection's own mailbox commands act on its default Folder: for a
// connection that serves one folder at a time.

// Select opens a mailbox; see Folder.Select.
func (c *Conn) Select(ctx context.Context, name string, readOnly bool) (Status, error) {
	return c.def.Select(ctx, name, readOnly)
}

// SelectLater: see Folder.SelectLater.
func (c *Conn) SelectLater(name string, readOnly bool, uidValidity uint32) {
	c.def.SelectLater(name, readOnly, uidValidity)
}

// Preselect: see Folder.Preselect.
func (c *Conn) Preselect(ctx context.Context) { c.def.Preselect(ctx) }

// AskChanges: see Folder.AskChanges.
func (c *Conn) AskChanges(ctx context.Context, uids, flags bool, since uint64) *Changes {
	return c.def.AskChanges(ctx, uids, flags, since)
}

// AskVanished: see Folder.AskVanished.
func (c *Conn) AskVanished(ctx context.Context, since uint64) *Changes {
	return c.def.AskVanished(ctx, since)
}

// UIDs: see Folder.UIDs.
func (c *Conn) UIDs(ctx context.Context, since time.Time) ([]uint32, error) {
	return c.def.UIDs(ctx, since)
}

// SearchHeader: see Folder.SearchHeader.
func (c *Conn) SearchHeader(ctx context.Context, field, value string, minUID uint32) ([]uint32, error) {
	return c.def.SearchHeader(ctx, field, value, minUID)
}

// FetchFlags: see Folder.FetchFlags.
func (c *Conn) FetchFlags(ctx context.Context, uids []uint32, changedSince uint64) ([]Info, error) {
	return c.def.FetchFlags(ctx, uids, changedSince)
}

// FetchInfo: see Folder.FetchInfo.
func (c *Conn) FetchInfo(ctx context.Context, uids []uint32, messageID bool) ([]Info, error) {
	return c.def.FetchInfo(ctx, uids, messageID)
}

// FetchHeaders: see Folder.FetchHeaders.
func (c *Conn) FetchHeaders(ctx context.Context, uids []uint32) (map[uint32][]byte, error) {
	return c.def.FetchHeaders(ctx, uids)
}

// FetchBodies: see Folder.FetchBodies.
func (c *Conn) FetchBodies(ctx context.Context, uids []uint32, sink BodySink) error {
	return c.def.FetchBodies(ctx, uids, sink)
}

// StoreFlags: see Folder.StoreFlags.
func (c *Conn) StoreFlags(ctx context.Context, changes []FlagChange, expunge []uint32) error {
	return c.def.StoreFlags(ctx, changes, expunge)
}
