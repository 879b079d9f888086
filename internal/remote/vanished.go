package remote

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// QRESYNC (RFC 7162). A sync that finds messages gone from a folder must
// learn which: without QRESYNC it asks UID SEARCH ALL, whose answer lists
// every UID in the folder, hundreds of kilobytes for a large one. With
// QRESYNC enabled, the UID FETCH of the flags changed since the last
// sync's HIGHESTMODSEQ takes the VANISHED modifier (RFC 7162 3.2.6), and
// the server answers, before the FETCHes, with VANISHED (EARLIER) and the
// UIDs expunged since then: the answer follows the changes, not the
// folder, in the same round trip.
//
// mailsync uses the FETCH modifier rather than SELECT's QRESYNC parameter
// for two reasons. A sync's SELECT goes out before its plan knows whether
// anything is gone (behind the login, or alongside its questions), and
// the FETCH is asked anyway. And the FETCHes a SELECT answers with would
// reach go-imap as unilateral data, apart from the command that wanted
// them.
//
// go-imap v2.0.0-beta.8 has neither ENABLE QRESYNC, the VANISHED modifier
// nor the VANISHED response, on which it fails the connection. So:
//   - mailsync writes ENABLE QRESYNC itself, past go-imap, behind the
//     login (enableQResync);
//   - the guard adds VANISHED to the one UID FETCH armed for it as go-imap
//     writes it (askEarlier, withVanished), and notes its tag;
//   - the guard takes every VANISHED response out of the stream: an
//     (EARLIER) one is the answer of the oldest such FETCH still
//     unanswered (the server answers in order), and a plain one, an
//     expunge reported unasked, is a change to the selected mailbox.
//
// Once QRESYNC is enabled the server reports every expunge as VANISHED,
// never EXPUNGE, so go-imap's count of the selected mailbox's messages
// goes stale; mailsync addresses messages by UID only. A connection held
// for IDLE, which waits for EXPUNGE, does not enable it (Options.QResync).

// vanishedPrefix starts every VANISHED response; the guard matches it
// without regard to case.
const vanishedPrefix = "* VANISHED "

// earlierAnswer is the VANISHED (EARLIER) answer to one UID FETCH sent with
// the VANISHED modifier. The guard fills it on the reading goroutine, and
// marks it done when the FETCH's tagged answer passes, before go-imap reads
// that answer: once the FETCH has completed, the set is whole.
type earlierAnswer struct {
	tag     string
	gone    imap.UIDSet
	written bool // the FETCH went out with VANISHED
	done    bool // its tagged answer passed
}

// askEarlier arms the next UID FETCH with CHANGEDSINCE that go-imap writes
// to go out with the VANISHED modifier, and returns its answer. The caller
// holds the connection's write lock, so that the FETCH it makes at once
// is that one, then calls disarm.
func (g *guardConn) askEarlier() *earlierAnswer {
	ea := &earlierAnswer{}
	g.vanishNext.Store(ea)
	return ea
}

// disarm undoes askEarlier, whether or not the FETCH went out with
// VANISHED.
func (g *guardConn) disarm(ea *earlierAnswer) {
	g.vanishNext.CompareAndSwap(ea, nil)
}

// result is the answer, once the FETCH completed; false if it did not go
// out with VANISHED.
func (g *guardConn) result(ea *earlierAnswer) (imap.UIDSet, bool) {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	return ea.gone, ea.written && ea.done
}

// changedSinceEnd matches the end of a UID FETCH that go-imap writes with
// CHANGEDSINCE.
var changedSinceEnd = regexp.MustCompile(`^(T\d+) UID FETCH .* \(CHANGEDSINCE \d+\)\r\n$`)

// withVanished rewrites go-imap's UID FETCH line p to ask VANISHED as well,
// and returns its tag; false if p is not such a line.
func withVanished(p []byte) ([]byte, string, bool) {
	m := changedSinceEnd.FindSubmatch(p)
	if m == nil {
		return nil, "", false
	}
	out := make([]byte, 0, len(p)+len(" VANISHED"))
	out = append(out, p[:len(p)-3]...)
	out = append(out, " VANISHED)\r\n"...)
	return out, string(m[1]), true
}

// writeVanished writes q, go-imap's UID FETCH p with VANISHED added, and
// awaits its answer in ea.
func (g *guardConn) writeVanished(ea *earlierAnswer, tag string, p, q []byte) (int, error) {
	g.dmu.Lock()
	ea.tag, ea.written = tag, true
	g.earlier = append(g.earlier, ea)
	g.dmu.Unlock()
	if _, err := g.Conn.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// tagPassed notes a tagged answer passing to go-imap: the oldest FETCH
// waiting for VANISHED (EARLIER) is answered when it is its own.
func (g *guardConn) tagPassed(tag []byte) {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	if len(g.earlier) > 0 && g.earlier[0].tag == string(tag) {
		g.earlier[0].done = true
		g.earlier = g.earlier[1:]
	}
}

// vanished takes a VANISHED response, the whole line without its CRLF.
func (g *guardConn) vanished(line []byte) error {
	earlier, set, err := parseVanished(line)
	if err != nil {
		return fmt.Errorf("server sent a malformed VANISHED response (%.60q): %w; giving up on this connection", line, err)
	}
	if !earlier {
		if g.onVanished != nil {
			g.onVanished()
		}
		return nil
	}
	g.dmu.Lock()
	defer g.dmu.Unlock()
	if len(g.earlier) == 0 {
		return nil // asked by no FETCH of ours: nothing to learn from it
	}
	ea := g.earlier[0]
	ea.gone = append(ea.gone, set...)
	return nil
}

// parseVanished reads a VANISHED response: "* VANISHED [(EARLIER) ]set".
func parseVanished(line []byte) (earlier bool, set imap.UIDSet, err error) {
	rest := string(line[len(vanishedPrefix):])
	if r, ok := cutPrefixFold(rest, "(EARLIER) "); ok {
		earlier, rest = true, r
	}
	set, err = parseUIDRanges(rest)
	return earlier, set, err
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// parseUIDRanges reads a UID set in IMAP syntax ("1:5,7,9:12"; no "*"),
// without expanding it; each range has Start <= Stop.
func parseUIDRanges(s string) (imap.UIDSet, error) {
	if s == "" {
		return nil, errors.New("empty UID set")
	}
	var set imap.UIDSet
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, ":")
		lo, err := parseUID(a)
		if err != nil {
			return nil, fmt.Errorf("UID set %.60q: %w", s, err)
		}
		hi := lo
		if isRange {
			if hi, err = parseUID(b); err != nil {
				return nil, fmt.Errorf("UID set %.60q: %w", s, err)
			}
			if hi < lo {
				lo, hi = hi, lo
			}
		}
		set = append(set, imap.UIDRange{Start: imap.UID(lo), Stop: imap.UID(hi)})
	}
	return set, nil
}

// parseUID reads a nz-number: a UID is never 0.
func parseUID(s string) (uint32, error) {
	u, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if u == 0 {
		return 0, errors.New("UID 0")
	}
	return uint32(u), nil
}

// UIDsIn returns the UIDs of uids, which must be ascending, that set
// holds.
func UIDsIn(uids []uint32, set imap.UIDSet) []uint32 {
	rs := slices.Clone(set)
	slices.SortFunc(rs, func(a, b imap.UIDRange) int { return int(a.Start) - int(b.Start) })
	var out []uint32
	j := 0
	for _, u := range uids {
		for j < len(rs) && uint32(rs[j].Stop) < u {
			j++
		}
		if j == len(rs) {
			break
		}
		// Ranges may overlap: a later one can reach further back.
		for k := j; k < len(rs) && uint32(rs[k].Start) <= u; k++ {
			if u <= uint32(rs[k].Stop) {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// enableQResync writes ENABLE QRESYNC past go-imap, which refuses to
// enable it, without waiting for the answer (QResync reads it). It goes
// behind the login, before anything else is written.
func (c *Conn) enableQResync() error {
	if c.g == nil {
		return nil
	}
	tag := c.nextRawTag()
	c.qresyncTag, c.qresyncAnswer = tag, c.g.divert(tag)
	if err := c.writeRawLine(tag, "ENABLE QRESYNC"); err != nil {
		c.qresyncAnswer = nil
		return err
	}
	return nil
}

// QResync reports whether QRESYNC is enabled on the connection: the
// server has it, and took ENABLE QRESYNC. The answer went out behind the
// login; the first call waits for it, within the timeout.
func (c *Conn) QResync() bool {
	c.qresyncOnce.Do(func() {
		if c.qresyncAnswer == nil {
			return
		}
		defer c.busy()()
		res := <-c.qresyncAnswer
		t, ok := parseTagged(res.line, c.qresyncTag)
		c.qresync = res.err == nil && ok && t.status == "OK" && c.caps.Has(imap.CapQResync)
	})
	return c.qresync
}

// isVanishedStart reports whether held, the start of a '*' line, may
// still be, or is, the start of a VANISHED response.
func isVanishedStart(held []byte) bool {
	n := len(held)
	return n <= len(vanishedPrefix) && bytes.EqualFold(held, []byte(vanishedPrefix[:n]))
}
