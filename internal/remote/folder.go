package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Folder is one folder's handle on a connection, for the commands that
// act on a selected mailbox. Several folders may share a connection: each
// writes its commands as one unit under the connection's write lock,
// preceded by a SELECT of its mailbox whenever the last SELECT written was
// another's, and waits for the answers outside the lock. The server runs
// the units one after another; their round trips overlap. A connection's
// own methods of the same names act on its default Folder.
//
// A sync knows a folder's UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ
// from the STATUS round before it selects the folder, and that is all its
// plan needs of SELECT's answer, so SELECT need not cost a round trip of
// its own either: SelectLater sends it ahead of the folder's first
// commands, and their answers come together. The SELECT's answer is still
// checked. A UIDVALIDITY other than the one expected fails the commands
// sent behind it (ErrSelectChanged): their answers describe another
// generation of the folder, and nothing of them is delivered. STORE and
// EXPUNGE are written only once the SELECT before them is checked. APPEND
// needs no selected mailbox, so a folder that only uploads never selects.
type Folder struct {
	*Conn
	mu     gosync.Mutex
	sel    *lazySelect // the folder's latest SELECT; nil before Select or SelectLater
	claims bool        // keep the connection's selection once selected (Claim)
}

// Folder returns a new handle on c for one folder's commands.
func (c *Conn) Folder() *Folder { return &Folder{Conn: c} }

// Close does nothing: the connection is its owner's to close.
func (m *Folder) Close() error { return nil }

// Claim makes the folder keep the connection's selection from when its
// SELECT is written until its STORE is (StoreFlags), or Release: other
// folders' SELECTs wait for that, instead of displacing this one, which
// would then SELECT again, a round trip more, and take turns with them.
// It suits a folder whose only changes are local: it asks the server
// nothing, so its STORE follows its SELECT's answer at once, and the next
// folder's SELECT goes out with that STORE. Folders that only push their
// changes take a round trip each on a shared connection, and one more.
func (m *Folder) Claim() {
	m.mu.Lock()
	m.claims = true
	m.mu.Unlock()
}

// Release lets go of the selection Claim kept, if it still is.
func (m *Folder) Release() {
	m.Conn.wmu.Lock()
	defer m.Conn.wmu.Unlock()
	m.release()
}

// release is Release with the write lock held.
func (m *Folder) release() {
	c := m.Conn
	m.mu.Lock()
	m.claims = false
	m.mu.Unlock()
	if c.claim == m {
		c.claim = nil
		c.claimed.Broadcast()
	}
}

// ErrSelectChanged marks a folder whose SELECT disagrees with the status
// its sync was planned from: the folder was replaced in between.
var ErrSelectChanged = errors.New("the folder changed between STATUS and SELECT")

var errNoMailbox = errors.New("no mailbox selected")

// lazySelect is one SELECT of a mailbox: not yet written (cmd nil),
// written, or checked.
type lazySelect struct {
	name     string
	readOnly bool
	expect   uint32 // the UIDVALIDITY it must find; 0: any

	cmd   *imapclient.SelectCommand
	once  gosync.Once
	done  atomic.Bool // checked
	err   error
	ended func() // the SELECT's busy span, ended once it is checked
}

// SelectLater selects name (read-only with EXAMINE) ahead of the next
// command that needs a selected mailbox, expecting the UIDVALIDITY the
// folder's STATUS reported. It sends nothing by itself.
//
// If the connection sent that very SELECT behind its login (Ahead.Select)
// and nothing was selected since, the folder takes it, and a folder that
// claims (Claim) keeps the selection from now on.
func (m *Folder) SelectLater(name string, readOnly bool, uidValidity uint32) {
	c := m.Conn
	if c.hasPre.Load() {
		// Under the write lock, which another folder's upload may hold
		// for a while: only while a SELECT sent with the login waits.
		c.wmu.Lock()
		defer c.wmu.Unlock()
		m.mu.Lock()
		defer m.mu.Unlock()
		if p := c.takePreselected(name, readOnly, uidValidity); p != nil {
			m.sel = p
			if m.claims && c.claim == nil {
				c.claim = m
			}
			return
		}
	} else {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	m.sel = &lazySelect{name: name, readOnly: readOnly, expect: uidValidity}
}

// unit takes the connection's write lock for a unit of commands on the
// mailbox and writes the mailbox's SELECT first if the connection's last
// SELECT was not this one. It returns the SELECT, to be checked once the
// unit is written, and the unlock. With compressFirst, a connection that
// is to be compressed and is not yet sends COMPRESS behind the SELECT and
// waits for it: a command whose answer is large must not travel
// uncompressed.
func (m *Folder) unit(ctx context.Context, compressFirst bool) (*lazySelect, func(), error) {
	c := m.Conn
	c.wmu.Lock()
	m.mu.Lock()
	// Another folder keeps the selection until its STORE is written
	// (Claim): this folder's SELECT waits for that.
	for c.claim != nil && c.claim != m && m.sel != nil && (m.sel.cmd == nil || c.cur != m.sel) {
		m.mu.Unlock()
		c.claimed.Wait()
		m.mu.Lock()
	}
	l := m.sel
	if l == nil {
		m.mu.Unlock()
		if m == c.def {
			// The connection's own commands go as they are: selecting
			// is its user's business.
			return nil, c.wmu.Unlock, nil
		}
		c.wmu.Unlock()
		return nil, nil, errNoMailbox
	}
	if l.cmd != nil && c.cur != l {
		// Another folder's SELECT was written since: this one again,
		// which must find the same folder.
		l = &lazySelect{name: l.name, readOnly: l.readOnly, expect: l.expect}
		m.sel = l
	}
	claims := m.claims
	m.mu.Unlock()
	if l.cmd == nil {
		if prev := c.cur; prev != nil && !prev.done.Load() {
			// A SELECT nobody waited for (Preselect, or one sent with
			// the login) is displaced: its answer is still read, so
			// that its busy span ends.
			go prev.check(c)
		}
		if c.pre != nil {
			// Displaced, or never taken: no folder takes it now.
			c.pre = nil
			c.hasPre.Store(false)
		}
		if claims {
			c.claim = m
		}
		l.ended = c.busy()
		l.cmd = c.c.Select(l.name, &imap.SelectOptions{ReadOnly: l.readOnly, CondStore: c.CondStore()})
		c.cur = l
	}
	// Behind the SELECT just written, or the one sent behind the login
	// (Ahead.Select), if the connection has not asked for COMPRESS yet.
	if compressFirst {
		if err := c.compressBehind(ctx)(); err != nil {
			c.wmu.Unlock()
			return l, nil, err
		}
	}
	return l, c.wmu.Unlock, nil
}

// check waits for the SELECT's answer, once, and checks it. A nil
// SELECT (none written) checks nothing.
func (l *lazySelect) check(c *Conn) error {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		defer l.done.Store(true)
		defer l.ended()
		d, err := l.cmd.Wait()
		// Changes reported before are not this mailbox's.
		select {
		case <-c.changes:
		default:
		}
		switch {
		case err != nil:
			l.err = fmt.Errorf("SELECT %q: %w", l.name, err)
		case l.expect != 0 && d.UIDValidity != l.expect:
			l.err = fmt.Errorf("%w: %q has UIDVALIDITY %d, %d was expected", ErrSelectChanged, l.name, d.UIDValidity, l.expect)
		}
	})
	return l.err
}

// Preselect writes the mailbox's SELECT, if it is not the connection's
// current one, without waiting for it: a folder that is to change flags on
// the server sends it ahead of its uploads, which need no selected
// mailbox, and finds it answered when the STORE is due.
func (m *Folder) Preselect(ctx context.Context) {
	if _, unlock, err := m.unit(ctx, false); err == nil {
		unlock()
	}
}

// Select opens the mailbox (read-only with EXAMINE), enabling CONDSTORE
// when the server has it, and waits for the answer.
func (m *Folder) Select(ctx context.Context, name string, readOnly bool) (Status, error) {
	c := m.Conn
	defer c.busy()()
	c.wmu.Lock()
	for c.claim != nil && c.claim != m {
		c.claimed.Wait() // see unit
	}
	m.mu.Lock()
	if m.claims {
		c.claim = m
	}
	m.mu.Unlock()
	l := &lazySelect{name: name, readOnly: readOnly, ended: func() {}}
	l.cmd = c.c.Select(name, &imap.SelectOptions{ReadOnly: readOnly, CondStore: c.CondStore()})
	c.cur = l
	m.mu.Lock()
	m.sel = l
	m.mu.Unlock()
	// Nothing may follow COMPRESS until its answer: the lock is held.
	cerr := c.compressBehind(ctx)()
	c.wmu.Unlock()
	d, err := l.cmd.Wait()
	// Changes reported before are not this mailbox's.
	select {
	case <-c.changes:
	default:
	}
	if err == nil {
		// Later SELECTs of this mailbox (after another folder's, on a
		// shared connection) must find this generation.
		l.expect = d.UIDValidity
	}
	l.once.Do(func() {
		if err != nil {
			l.err = fmt.Errorf("SELECT %q: %w", name, err)
		}
		l.done.Store(true)
	})
	if cerr != nil {
		return Status{}, cerr
	}
	if err != nil {
		return Status{}, fmt.Errorf("SELECT %q: %w", name, err)
	}
	return Status{Messages: d.NumMessages, UIDNext: uint32(d.UIDNext), UIDValidity: d.UIDValidity, HighestModSeq: d.HighestModSeq}, nil
}

// UIDs returns every UID in the selected mailbox; with since set, only those
// with an internal date on or after since.
func (m *Folder) UIDs(ctx context.Context, since time.Time) ([]uint32, error) {
	l, unlock, err := m.unit(ctx, false)
	if err != nil {
		return nil, err
	}
	cmd, end := m.startUIDs(since)
	unlock()
	if err := l.check(m.Conn); err != nil {
		_, _ = m.waitUIDs(cmd, end)
		return nil, err
	}
	return m.waitUIDs(cmd, end)
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
func (m *Folder) SearchHeader(ctx context.Context, field, value string, minUID uint32) ([]uint32, error) {
	c := m.Conn
	defer c.busy()()
	if minUID == 0 {
		minUID = 1
	}
	crit := &imap.SearchCriteria{
		UID:    []imap.UIDSet{{imap.UIDRange{Start: imap.UID(minUID), Stop: 0}}},
		Header: []imap.SearchCriteriaHeaderField{{Key: field, Value: value}},
	}
	l, unlock, err := m.unit(ctx, false)
	if err != nil {
		return nil, err
	}
	cmd := c.c.UIDSearch(crit, nil)
	unlock()
	d, err := cmd.Wait()
	if cerr := l.check(c); cerr != nil {
		return nil, cerr
	}
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

// FetchFlags returns UID and FLAGS for the messages in uids (all messages
// when uids is nil). With changedSince > 0 only messages whose flags changed
// after that mod-sequence are returned (CONDSTORE).
func (m *Folder) FetchFlags(ctx context.Context, uids []uint32, changedSince uint64) ([]Info, error) {
	set := allUIDs()
	if uids != nil {
		if len(uids) == 0 {
			return nil, nil
		}
		set = UIDSet(uids)
	}
	return m.fetchInfo(ctx, set, flagsOptions(changedSince))
}

// allUIDs is every message of a mailbox, "1:*".
func allUIDs() imap.UIDSet { return imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}} }

// flagsOptions asks for UID and FLAGS; with changedSince > 0, of the
// messages whose flags changed after that mod-sequence (CONDSTORE).
func flagsOptions(changedSince uint64) *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true, ChangedSince: changedSince, ModSeq: changedSince > 0}
}

// FetchInfo returns size, date, flags and optionally the Message-ID of uids.
func (m *Folder) FetchInfo(ctx context.Context, uids []uint32, messageID bool) ([]Info, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true}
	if messageID {
		opts.BodySection = []*imap.FetchItemBodySection{{
			Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true,
		}}
	}
	return m.fetchInfo(ctx, UIDSet(uids), opts)
}

func (m *Folder) fetchInfo(ctx context.Context, set imap.UIDSet, opts *imap.FetchOptions) ([]Info, error) {
	defer m.busy()()
	l, unlock, err := m.unit(ctx, false)
	if err != nil {
		return nil, err
	}
	cmd := m.c.Fetch(set, opts)
	unlock()
	if err := l.check(m.Conn); err != nil {
		cmd.Close()
		return nil, err
	}
	return collectInfo(cmd)
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

// FetchBodies streams the full text, flags, size and internal date of uids.
func (m *Folder) FetchBodies(ctx context.Context, uids []uint32, sink BodySink) error {
	if len(uids) == 0 {
		return nil
	}
	defer m.busy()()
	opts := &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}
	l, unlock, err := m.unit(ctx, true)
	if err != nil {
		return err
	}
	cmd := m.c.Fetch(UIDSet(uids), opts)
	unlock()
	defer cmd.Close()
	// Nothing is delivered before SELECT is known to have opened the
	// folder the UIDs belong to.
	if err := l.check(m.Conn); err != nil {
		return err
	}
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
func (m *Folder) StoreFlags(ctx context.Context, changes []FlagChange, expunge []uint32) error {
	c := m.Conn
	defer c.busy()()
	// A STORE or EXPUNGE must not reach another generation of the folder:
	// it is written only once SELECT's answer is checked, with nothing
	// else selected in between. The answer is awaited without the write
	// lock, so that other folders' units go on meanwhile, unless another
	// folder's SELECT displaced this one twice: then with it.
	var l *lazySelect
	var unlock func()
	for try := 0; ; try++ {
		var err error
		if l, unlock, err = m.unit(ctx, true); err != nil {
			return err
		}
		if l == nil || l.done.Load() || try == 2 {
			break
		}
		unlock()
		if err := l.check(c); err != nil {
			return err
		}
	}
	if err := l.check(c); err != nil {
		unlock()
		return err
	}
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
	// Written: the next folder's SELECT may follow.
	m.release()
	unlock()
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
