package remote

import (
	"context"
	"errors"
	gosync "sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// A folder's changes since the last sync, asked in one round trip with its
// SELECT: the UIDs it has (or, with QRESYNC, those that went) and the
// flags changed since a HIGHESTMODSEQ.

// Changes is what AskChanges or AskVanished asked the server.
type Changes struct {
	wg    gosync.WaitGroup
	uids  []uint32
	flags []Info
	gone  imap.UIDSet
	// vanished: gone is the answer to the VANISHED modifier, which the
	// FETCH went out with.
	vanished bool
	errs     [3]error
}

// AskChanges sends, as one unit, UID SEARCH ALL (uids) and UID FETCH FLAGS
// (flags; CHANGEDSINCE since, unless since is 0), behind the mailbox's
// SELECT if it is due and ahead of a COMPRESS the connection still waits
// to send: one round trip for all of them. Wait reads the answers.
func (m *Folder) AskChanges(ctx context.Context, uids, flags bool, since uint64) *Changes {
	return m.askChanges(ctx, uids, flags, since, false)
}

// AskVanished is AskChanges for the flags changed since since, which must
// not be 0, with the VANISHED modifier instead of UID SEARCH: Wait's
// answer has no UIDs, and Vanished has those expunged since since. Only
// on a connection where QResync is true.
func (m *Folder) AskVanished(ctx context.Context, since uint64) *Changes {
	return m.askChanges(ctx, false, true, since, true)
}

func (m *Folder) askChanges(ctx context.Context, uids, flags bool, since uint64, vanished bool) *Changes {
	c := m.Conn
	ch := &Changes{}
	if !uids && !flags {
		return ch
	}
	if vanished && c.g == nil {
		vanished = false // Vanished says it was not asked
	}
	l, unlock, err := m.unit(ctx, false)
	if err != nil {
		ch.errs[2] = err
		return ch
	}
	// Both answers are read at once: go-imap's reader waits until a FETCH
	// response is taken, and a server may answer the two in either order.
	if uids {
		cmd, end := c.startUIDs(time.Time{})
		ch.wg.Add(1)
		go func() {
			defer ch.wg.Done()
			ch.uids, ch.errs[0] = c.waitUIDs(cmd, end)
		}()
	}
	if flags {
		end := c.busy()
		var ea *earlierAnswer
		if vanished {
			ea = c.g.askEarlier()
		}
		cmd := c.c.Fetch(allUIDs(), flagsOptions(since))
		if ea != nil {
			c.g.disarm(ea)
		}
		ch.wg.Add(1)
		go func() {
			defer ch.wg.Done()
			defer end()
			ch.flags, ch.errs[1] = collectInfo(cmd)
			if ea != nil && ch.errs[1] == nil {
				// The FETCH has completed: its VANISHED (EARLIER) is in.
				ch.gone, ch.vanished = c.g.result(ea)
			}
		}()
	}
	// Nothing may follow COMPRESS until its answer: the lock is held for
	// it, the once per connection it is sent.
	cerr := c.compressBehind(ctx)()
	unlock()
	ch.wg.Add(1)
	go func() {
		defer ch.wg.Done()
		err := l.check(c)
		if err == nil {
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

// Vanished is, after Wait, the UIDs AskVanished learnt were expunged
// since its since; it may hold UIDs the folder never had. ok is false if
// the FETCH did not go out with VANISHED, and then nothing is known of
// what went.
func (ch *Changes) Vanished() (gone imap.UIDSet, ok bool) { return ch.gone, ch.vanished }
