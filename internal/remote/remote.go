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
	"strconv"
	"strings"
	gosync "sync"
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
	// lazy is the SELECT that SelectLater put off (lazyselect.go).
	lmu  gosync.Mutex
	lazy *lazySelect
	// changes is signalled when the server reports, unasked, a change to
	// the selected mailbox (EXISTS, EXPUNGE, FETCH); see Idle and Poll.
	changes chan struct{}
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
func (c *Conn) List(ctx context.Context, known []string) ([]Mailbox, error) {
	defer c.busy()()
	opts := c.statusOptions()
	early := make(map[string]*imapclient.StatusCommand, len(known))
	for _, name := range known {
		if early[name] == nil {
			early[name] = c.c.Status(name, opts)
		}
	}
	list := c.c.List("", "*", nil)
	// COMPRESS goes behind the LIST, and its answer comes with LIST's:
	// the STATUS of folders the LIST finds new are sent compressed.
	compressed := c.compressBehind(ctx)
	data, err := list.Collect()
	if cerr := compressed(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	out := make([]Mailbox, 0, len(data))
	cmds := make([]*imapclient.StatusCommand, 0, len(data))
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
	d, err := c.c.Status(name, c.statusOptions()).Wait()
	if err != nil {
		return Status{}, fmt.Errorf("STATUS %q: %w", name, err)
	}
	return statusFrom(d), nil
}

// Create creates a mailbox. A mailbox that already exists is not an error.
func (c *Conn) Create(ctx context.Context, name string) error {
	defer c.busy()()
	err := c.c.Create(name, nil).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CREATE %q: %w", name, err)
	}
	return nil
}

// Select opens a mailbox (read-only with EXAMINE), enabling CONDSTORE when
// the server has it.
func (c *Conn) Select(ctx context.Context, name string, readOnly bool) (Status, error) {
	defer c.busy()()
	c.lmu.Lock()
	c.lazy = nil
	c.lmu.Unlock()
	cmd := c.c.Select(name, &imap.SelectOptions{ReadOnly: readOnly, CondStore: c.CondStore()})
	compressed := c.compressBehind(ctx)
	d, err := cmd.Wait()
	// Changes reported before are not this mailbox's.
	select {
	case <-c.changes:
	default:
	}
	if cerr := compressed(); cerr != nil {
		return Status{}, cerr
	}
	if err != nil {
		return Status{}, fmt.Errorf("SELECT %q: %w", name, err)
	}
	return Status{Messages: d.NumMessages, UIDNext: uint32(d.UIDNext), UIDValidity: d.UIDValidity, HighestModSeq: d.HighestModSeq}, nil
}

// UIDs returns every UID in the selected mailbox; with since set, only those
// with an internal date on or after since.
func (c *Conn) UIDs(ctx context.Context, since time.Time) ([]uint32, error) {
	if err := c.selected(ctx); err != nil {
		return nil, err
	}
	return c.waitUIDs(c.startUIDs(since))
}

// startUIDs sends the UID SEARCH of UIDs and returns it with the end of its
// busy span.
func (c *Conn) startUIDs(since time.Time) (*imapclient.SearchCommand, func()) {
	end := c.busy()
	crit := &imap.SearchCriteria{}
	if !since.IsZero() {
		crit.Since = since
	}
	var opts *imap.SearchOptions
	if c.caps.Has(imap.CapESearch) || c.caps.Has(imap.CapIMAP4rev2) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	return c.c.UIDSearch(crit, opts), end
}

func (c *Conn) waitUIDs(cmd *imapclient.SearchCommand, end func()) ([]uint32, error) {
	defer end()
	d, err := cmd.Wait()
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH: %w", err)
	}
	return toU32(d.AllUIDs()), nil
}

// SearchHeader returns the UIDs >= minUID whose header field contains value.
func (c *Conn) SearchHeader(ctx context.Context, field, value string, minUID uint32) ([]uint32, error) {
	if err := c.selected(ctx); err != nil {
		return nil, err
	}
	defer c.busy()()
	if minUID == 0 {
		minUID = 1
	}
	crit := &imap.SearchCriteria{
		UID:    []imap.UIDSet{{imap.UIDRange{Start: imap.UID(minUID), Stop: 0}}},
		Header: []imap.SearchCriteriaHeaderField{{Key: field, Value: value}},
	}
	d, err := c.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH HEADER %s: %w", field, err)
	}
	// "n:*" matches the highest UID even when it is below n; drop those.
	var out []uint32
	for _, u := range toU32(d.AllUIDs()) {
		if u >= minUID {
			out = append(out, u)
		}
	}
	return out, nil
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
	var out []uint32
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, ":")
		lo, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("UID set %q: %w", s, err)
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(b, 10, 32); err != nil {
				return nil, fmt.Errorf("UID set %q: %w", s, err)
			}
			if hi < lo {
				lo, hi = hi, lo
			}
		}
		if uint64(len(out))+hi-lo+1 > uint64(max) {
			return nil, fmt.Errorf("UID set %q: more than %d UIDs", s, max)
		}
		for u := lo; u <= hi; u++ {
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

// FetchFlags returns UID and FLAGS for the messages in uids (all messages
// when uids is nil). With changedSince > 0 only messages whose flags changed
// after that mod-sequence are returned (CONDSTORE).
func (c *Conn) FetchFlags(ctx context.Context, uids []uint32, changedSince uint64) ([]Info, error) {
	set := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	if uids != nil {
		if len(uids) == 0 {
			return nil, nil
		}
		set = UIDSet(uids)
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, ChangedSince: changedSince, ModSeq: changedSince > 0}
	return c.fetchInfo(ctx, set, opts)
}

// FetchInfo returns size, date, flags and optionally the Message-ID of uids.
func (c *Conn) FetchInfo(ctx context.Context, uids []uint32, messageID bool) ([]Info, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true}
	if messageID {
		opts.BodySection = []*imap.FetchItemBodySection{{
			Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true,
		}}
	}
	return c.fetchInfo(ctx, UIDSet(uids), opts)
}

func (c *Conn) fetchInfo(ctx context.Context, set imap.UIDSet, opts *imap.FetchOptions) ([]Info, error) {
	if err := c.selected(ctx); err != nil {
		return nil, err
	}
	defer c.busy()()
	return collectInfo(c.c.Fetch(set, opts))
}

// collectInfo reads the answer to a FETCH of metadata.
func collectInfo(cmd *imapclient.FetchCommand) ([]Info, error) {
	defer cmd.Close()
	var out []Info
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var in Info
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
				// Header fields only: small, bounded by the server's header size;
				// still read through a limit so a hostile server can't make us
				// buffer without bound.
				h, err := io.ReadAll(io.LimitReader(b.Literal, 64<<10))
				if err != nil {
					return nil, fmt.Errorf("FETCH: %w", err)
				}
				in.MessageID = ParseMessageID(h)
				continue
			}
			applyItem(&in, item)
		}
		if in.UID != 0 {
			out = append(out, in)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("UID FETCH: %w", err)
	}
	return out, nil
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

// FetchBodies streams the full text, flags, size and internal date of uids.
func (c *Conn) FetchBodies(ctx context.Context, uids []uint32, sink BodySink) error {
	if len(uids) == 0 {
		return nil
	}
	if err := c.selected(ctx); err != nil {
		return err
	}
	defer c.busy()()
	opts := &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}
	cmd := c.c.Fetch(UIDSet(uids), opts)
	defer cmd.Close()
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var in Info
		gotBody := false
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
				if gotBody || b.Literal == nil {
					continue
				}
				gotBody = true
				if err := sink.Body(b.Literal, b.Literal.Size()); err != nil {
					return err
				}
				continue
			}
			applyItem(&in, item)
		}
		if !gotBody || in.UID == 0 {
			// A FETCH without the body is an unsolicited flag update; a body
			// without a UID can't be placed. Neither is a message for us.
			continue
		}
		if err := sink.Done(in); err != nil {
			return err
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("UID FETCH BODY.PEEK[]: %w", err)
	}
	return ctx.Err()
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
	cmd := c.c.Append(mailbox, size, &imap.AppendOptions{Flags: flags, Time: appendDate(date)})
	n, err := io.Copy(cmd, r)
	if err == nil && n != size {
		err = fmt.Errorf("message is %d bytes, announced %d", n, size)
	}
	if cerr := cmd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		done()
		// The literal is broken; the connection can't be trusted any more.
		c.c.Close()
		return nil, fmt.Errorf("APPEND to %q: %w", mailbox, err)
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

// StoreFlags sends every change and then, if expunge is not empty, the
// expunge of those UIDs (which the changes must mark \Deleted), all at once,
// and waits for every answer. Dovecot syncs a maildir after each command
// that reaches it alone, which re-reads the directory while its times are
// fresh from the command before; a pipelined batch is synced once: three
// commands on a 4,000-message INBOX took 6-8 ms one by one and 1.5 ms
// together. Every command is sent whatever an earlier one answers: a UID
// EXPUNGE after a failed STORE \Deleted finds those messages unmarked and
// leaves them. The first error is returned.
//
// Without UIDPLUS the expunge is a plain EXPUNGE, which also removes other
// \Deleted messages; that is what the user asked for with expunge = true.
func (c *Conn) StoreFlags(ctx context.Context, changes []FlagChange, expunge []uint32) error {
	if err := c.selected(ctx); err != nil {
		return err
	}
	defer c.busy()()
	var stores []*imapclient.FetchCommand
	for _, ch := range changes {
		if len(ch.UIDs) == 0 || len(ch.Flags) == 0 {
			continue
		}
		op := imap.StoreFlagsDel
		if ch.Add {
			op = imap.StoreFlagsAdd
		}
		stores = append(stores, c.c.Store(UIDSet(ch.UIDs), &imap.StoreFlags{Op: op, Silent: true, Flags: ch.Flags}, nil))
	}
	var exp *imapclient.ExpungeCommand
	if len(expunge) > 0 {
		if c.UIDPlus() {
			exp = c.c.UIDExpunge(UIDSet(expunge))
		} else {
			exp = c.c.Expunge()
		}
	}
	// Each command's answers are drained at once, each in its own
	// goroutine: go-imap hands a FETCH response (a CONDSTORE server sends
	// one with the new MODSEQ even for .SILENT) to the first STORE whose
	// UIDs contain it, and its reader waits until that command takes it.
	// Dovecot answers a pipelined batch's FETCHes before any of its tagged
	// OKs, so draining the STOREs one after the other would wait for an OK
	// behind a FETCH that only a later STORE would take.
	errs := make([]error, len(stores))
	var wg gosync.WaitGroup
	for i, cmd := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Close()
		}()
	}
	var expErr error
	if exp != nil {
		expErr = exp.Close()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("UID STORE: %w", err)
		}
	}
	if expErr != nil {
		return fmt.Errorf("EXPUNGE: %w", expErr)
	}
	return nil
}

// Noop checks the connection.
func (c *Conn) Noop(ctx context.Context) error {
	defer c.busy()()
	return c.c.Noop().Wait()
}
