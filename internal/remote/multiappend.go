package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/mutf7"
)

// go-imap v2.0.0-beta.8 sends one message per APPEND and waits for the
// server's continuation before every literal over 4 KiB, even when the
// server announced LITERAL+. Dovecot then updates the mailbox after each
// message: 20 messages into a 4,000-message maildir take about 45 ms one by
// one, and 4 ms as one MULTIAPPEND (RFC 3502). So mailsync writes that one
// command itself, past go-imap, and the guard under go-imap takes its
// answer out of the stream (guardConn.divert).

// AppendMessage is one message of a MultiAppend.
type AppendMessage struct {
	Flags []imap.Flag
	Date  time.Time // INTERNALDATE; none if zero
	Size  int64     // exact length of Body, line ends CRLF
	Body  io.Reader
}

// ErrAppendRejected marks a MultiAppend the server refused (NO). The
// connection is still usable, and nothing of the batch was appended
// (RFC 3502 makes the command atomic).
var ErrAppendRejected = errors.New("server refused the APPEND")

// CanMultiAppend reports whether MultiAppend may be used: the server takes
// several messages in one APPEND (MULTIAPPEND), needs no round trip per
// literal (LITERAL+) and reports the new UIDs (UIDPLUS).
func (c *Conn) CanMultiAppend() bool {
	return c.g != nil && c.caps.Has(imap.CapMultiAppend) && c.caps.Has(imap.CapLiteralPlus) && c.UIDPlus()
}

// MultiAppend appends msgs to mailbox in one command and returns their
// UIDs, in order. It returns no UIDs and no error when the server did not
// report them all. On ErrAppendRejected nothing was appended. An error
// found before anything is sent (a flag that can't be sent, a negative size,
// a server without the capabilities) leaves the connection as it was; on any
// other error the connection is closed, and the server may or may not have
// taken the whole batch. A date outside the years 1 to 9999 is not sent (the
// server then uses the time of arrival).
//
// Other folders' commands may be written before and after it, never
// inside it (Folder).
func (c *Conn) MultiAppend(ctx context.Context, mailbox string, msgs []AppendMessage) ([]uint32, error) {
	if !c.CanMultiAppend() {
		return nil, errors.New("MultiAppend: the server lacks MULTIAPPEND, LITERAL+ or UIDPLUS")
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	// Nothing is sent unless every part of the command is valid: Dovecot
	// answers BAD in the middle of a command and then reads the rest of
	// the messages, LITERAL+ as they are, as commands.
	for _, m := range msgs {
		for _, f := range m.Flags {
			if !sendableFlag(f) {
				return nil, fmt.Errorf("APPEND to %q: flag %q can't be sent", mailbox, f)
			}
		}
		if m.Size < 0 {
			return nil, fmt.Errorf("APPEND to %q: negative message size", mailbox)
		}
	}
	box := quoteMailbox(mailbox)
	var size int64
	for _, m := range msgs {
		size += m.Size
	}
	defer c.busy()()
	// The command is written under the connection's write lock, between
	// other folders' units, and its answer awaited outside it.
	c.wmu.Lock()
	if err := c.compressForUpload(ctx, size); err != nil {
		c.wmu.Unlock()
		return nil, fmt.Errorf("APPEND to %q: %w", mailbox, err)
	}
	tag := c.nextRawTag()
	answer := c.g.divert(tag)
	err := c.writeMultiAppend(tag, box, msgs)
	c.wmu.Unlock()
	if err != nil {
		// A literal cut short can't be resumed: the server would read the
		// next command as message text.
		c.g.undivert(tag)
		return nil, c.drop(fmt.Errorf("APPEND to %q: %w", mailbox, err))
	}
	res, err := c.awaitRaw(ctx, tag, answer)
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		c.c.Close()
		return nil, fmt.Errorf("APPEND to %q: %w", mailbox, res.err)
	}
	uids, err := parseAppendAnswer(res.line, tag, len(msgs))
	if err != nil {
		err = fmt.Errorf("APPEND to %q: %w", mailbox, err)
		if !errors.Is(err, ErrAppendRejected) {
			// BAD, or an answer that makes no sense: the server may have
			// lost track of where the messages end.
			err = c.drop(err)
		}
		return nil, err
	}
	return uids, nil
}

// nextRawTag is the tag of the next command mailsync writes past go-imap:
// 'M' and a number, so the guard tells its answer from go-imap's ('T').
// Called with the connection's write lock held, or before any sharing.
func (c *Conn) nextRawTag() string {
	c.rawTag++
	return "M" + strconv.Itoa(c.rawTag)
}

// writeRawLine writes the raw command "tag command", a single line, past
// go-imap, whose answer is diverted to tag; the write must make progress
// within the timeout. If it fails, that answer is no longer awaited.
func (c *Conn) writeRawLine(tag, command string) error {
	if c.pc != nil {
		// Armed: the write must make progress within the timeout.
		_ = c.pc.SetWriteDeadline(time.Now())
		defer c.pc.SetWriteDeadline(time.Time{})
	}
	if _, err := c.g.Conn.Write([]byte(tag + " " + command + "\r\n")); err != nil {
		c.g.undivert(tag)
		return err
	}
	return nil
}

// awaitRaw waits for the answer to the raw command tag. If ctx ends first
// it gives up on the connection, whose stream is then mid-answer.
func (c *Conn) awaitRaw(ctx context.Context, tag string, answer <-chan divertResult) (divertResult, error) {
	select {
	case res := <-answer:
		return res, nil
	case <-ctx.Done():
		c.g.undivert(tag)
		c.c.Close()
		return divertResult{}, ctx.Err()
	}
}

func (c *Conn) writeMultiAppend(tag, box string, msgs []AppendMessage) error {
	// Armed for the whole command: each write must make progress.
	_ = c.pc.SetWriteDeadline(time.Now())
	defer c.pc.SetWriteDeadline(time.Time{})
	w := bufio.NewWriterSize(c.g.Conn, 64<<10)
	w.WriteString(tag + " APPEND " + box)
	for _, m := range msgs {
		w.WriteString(" ")
		if len(m.Flags) > 0 {
			w.WriteString("(")
			for i, f := range m.Flags {
				if i > 0 {
					w.WriteString(" ")
				}
				w.WriteString(string(f))
			}
			w.WriteString(") ")
		}
		if d := appendDate(m.Date); !d.IsZero() {
			w.WriteString(`"` + d.Format("_2-Jan-2006 15:04:05 -0700") + `" `)
		}
		w.WriteString("{" + strconv.FormatInt(m.Size, 10) + "+}\r\n")
		n, err := io.CopyN(w, m.Body, m.Size)
		if err == io.EOF {
			return fmt.Errorf("message is %d bytes, announced %d", n, m.Size)
		}
		if err != nil {
			return err
		}
		// A longer message must not reach the server, not even a byte.
		var extra [1]byte
		if k, _ := io.ReadFull(m.Body, extra[:]); k > 0 {
			return fmt.Errorf("message is longer than the %d bytes announced", m.Size)
		}
	}
	w.WriteString("\r\n")
	return w.Flush()
}

// quoteMailbox encodes a mailbox name as go-imap would (modified UTF-7, as
// mailsync does not enable UTF8=ACCEPT; it leaves only printable ASCII) in
// a quoted string.
func quoteMailbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	enc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(mutf7.Encode(name))
	return `"` + enc + `"`
}

// appendDate is t as an APPEND can carry it: zero (none sent, so the
// server uses the time of arrival) outside the years 1 to 9999, which the
// date-time syntax can't express.
func appendDate(t time.Time) time.Time {
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}
	}
	return t
}

// sendableFlag reports whether f may be sent with APPEND: a system flag a
// client may set (RFC 3501 flag syntax; not \Recent), or a keyword atom.
func sendableFlag(f imap.Flag) bool {
	switch strings.ToLower(string(f)) {
	case `\seen`, `\answered`, `\flagged`, `\deleted`, `\draft`:
		return true
	}
	s := string(f)
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseAppendAnswer reads the tagged answer to a MultiAppend of n messages:
// their UIDs from APPENDUID, or none if it is missing or does not name n.
func parseAppendAnswer(line, tag string, n int) ([]uint32, error) {
	t, ok := parseTagged(line, tag)
	if !ok {
		return nil, fmt.Errorf("unexpected answer %.80q", line)
	}
	switch t.status {
	case "NO":
		return nil, fmt.Errorf("%w: NO %s", ErrAppendRejected, t.rest)
	case "BAD":
		return nil, fmt.Errorf("server answered BAD: %s", t.rest)
	}
	f := strings.Fields(t.args)
	if t.code != "APPENDUID" || len(f) != 2 {
		return nil, nil
	}
	uids, ok := parseUIDList(f[1], n)
	if !ok {
		return nil, nil
	}
	return uids, nil
}

// parseUIDList expands an APPENDUID uid-set ("4,7:9") that must name
// exactly n distinct UIDs. They are returned in ascending order, which is
// the order the messages were appended in: a mailbox hands out UIDs in
// increasing order.
func parseUIDList(s string, n int) ([]uint32, bool) {
	if n < 1 {
		return nil, false
	}
	out, err := ParseUIDSet(s, n)
	if err != nil || len(out) != n || slices.Contains(out, 0) {
		return nil, false
	}
	slices.Sort(out)
	if len(slices.Compact(slices.Clone(out))) != n {
		return nil, false
	}
	return out, true
}
