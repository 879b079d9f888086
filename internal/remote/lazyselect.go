package remote

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// A sync knows a folder's UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ
// from the STATUS round before it selects the folder, and that is all its
// plan needs of SELECT's answer. So SELECT need not cost a round trip of
// its own: SelectLater sends it ahead of the folder's first command, and
// the answers to both come together. Through a 30 ms link that is 30 ms per
// folder.
//
// The SELECT's answer is still checked: a UIDVALIDITY other than the
// STATUS's fails the commands sent behind it (ErrSelectChanged), whose
// answers then describe another generation of the folder. Commands that
// change the server (STORE, EXPUNGE) wait for that check before they are
// sent. APPEND needs no selected mailbox, so a folder that only uploads
// never selects it.

// ErrSelectChanged marks a folder whose SELECT disagrees with the status
// its sync was planned from: the folder was replaced in between.
var ErrSelectChanged = errors.New("the folder changed between STATUS and SELECT")

// lazySelect is a SELECT that goes out ahead of the next command on its
// mailbox.
type lazySelect struct {
	name     string
	readOnly bool
	expect   uint32 // the UIDVALIDITY STATUS reported

	cmd   *imapclient.SelectCommand // once written
	once  gosync.Once
	err   error
	ended func() // the busy span of the SELECT, ended once it is checked
}

// SelectLater selects name (read-only with EXAMINE) ahead of the next
// command that needs a selected mailbox, expecting the UIDVALIDITY the
// folder's STATUS reported. It sends nothing by itself.
func (c *Conn) SelectLater(name string, readOnly bool, uidValidity uint32) {
	c.lmu.Lock()
	c.lazy = &lazySelect{name: name, readOnly: readOnly, expect: uidValidity}
	c.lmu.Unlock()
}

// selectFirst sends the pending SELECT, if one is waiting, and returns it
// to be checked once the commands behind it are written; nil when the
// mailbox is already selected and checked. With compressFirst, a
// connection that is to be compressed and is not yet sends COMPRESS behind
// the SELECT and waits for it: a command whose answer is large (a body
// FETCH) must not travel uncompressed.
func (c *Conn) selectFirst(ctx context.Context, compressFirst bool) (*lazySelect, error) {
	c.lmu.Lock()
	l := c.lazy
	if l != nil && l.cmd == nil {
		l.ended = c.busy()
		l.cmd = c.c.Select(l.name, &imap.SelectOptions{ReadOnly: l.readOnly, CondStore: c.CondStore()})
		if compressFirst {
			if err := c.compressBehind(ctx)(); err != nil {
				c.lmu.Unlock()
				return l, err
			}
		}
	}
	c.lmu.Unlock()
	return l, nil
}

// check waits for the SELECT's answer, once, and checks it against the
// status the folder was planned with.
func (l *lazySelect) check(c *Conn) error {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
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
		case d.UIDValidity != l.expect:
			l.err = fmt.Errorf("%w: %q has UIDVALIDITY %d, STATUS said %d", ErrSelectChanged, l.name, d.UIDValidity, l.expect)
		}
	})
	return l.err
}

// Preselect sends the pending SELECT, if any, without waiting for it: a
// folder that is to change flags on the server sends it ahead of its
// uploads, which need no selected mailbox, and finds it answered when the
// STORE is due.
func (c *Conn) Preselect(ctx context.Context) {
	_, _ = c.selectFirst(ctx, false) // writes only; the check reports failures
}

// selected sends the pending SELECT, if any, and waits for its check:
// for commands that change the server, which must not act on another
// generation of the folder.
func (c *Conn) selected(ctx context.Context) error {
	l, err := c.selectFirst(ctx, true)
	if err != nil {
		return err
	}
	return l.check(c)
}

// Changes is what AskChanges asked the server.
type Changes struct {
	wg    gosync.WaitGroup
	uids  []uint32
	flags []Info
	errs  [3]error
}

// AskChanges sends, together, UID SEARCH ALL (uids) and UID FETCH FLAGS
// (flags; CHANGEDSINCE since, unless since is 0), behind the pending
// SELECT if there is one and ahead of a COMPRESS the connection still
// waits to send: one round trip for all of them. Wait reads the answers.
func (c *Conn) AskChanges(ctx context.Context, uids, flags bool, since uint64) *Changes {
	ch := &Changes{}
	if !uids && !flags {
		return ch
	}
	l, _ := c.selectFirst(ctx, false)
	// Both commands are written before either answer is read, and both
	// are read at once: go-imap's reader waits until a FETCH response is
	// taken, and a server may answer the two in either order.
	if uids {
		cmd, end := c.startUIDs(time.Time{})
		ch.wg.Add(1)
		go func() {
			defer ch.wg.Done()
			ch.uids, ch.errs[0] = c.waitUIDs(cmd, end)
		}()
	}
	if flags {
		set := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
		opts := &imap.FetchOptions{UID: true, Flags: true, ChangedSince: since, ModSeq: since > 0}
		end := c.busy()
		cmd := c.c.Fetch(set, opts)
		ch.wg.Add(1)
		go func() {
			defer ch.wg.Done()
			defer end()
			ch.flags, ch.errs[1] = collectInfo(cmd)
		}()
	}
	compressed := c.compressBehind(ctx)
	ch.wg.Add(1)
	go func() {
		defer ch.wg.Done()
		err := l.check(c)
		if cerr := compressed(); err == nil {
			err = cerr
		}
		ch.errs[2] = err
	}()
	return ch
}

// Wait returns the answers: every UID in the folder (if asked), and the
// flags of the messages asked for.
func (ch *Changes) Wait() (uids []uint32, flags []Info, err error) {
	ch.wg.Wait()
	if ch.errs[2] != nil {
		// The SELECT failed or showed another folder: the other answers
		// are not this folder's.
		return nil, nil, ch.errs[2]
	}
	return ch.uids, ch.flags, errors.Join(ch.errs[0], ch.errs[1])
}
