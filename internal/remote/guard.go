package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Limits on what a server may make us hold in memory. go-imap streams body
// literals (which mailsync writes straight to disk), but it buffers every
// other literal and every line. A broken or hostile server could otherwise
// make us allocate without bound.
const (
	maxLine          = 16 << 20 // a response line, between literals
	maxStringLiteral = 1 << 20  // a literal that is not a message body
)

// guardConn reads the server's byte stream just enough to see line and
// literal boundaries, and fails the connection when a line or a non-body
// literal exceeds its limit.
//
// It also takes out of the stream the tagged answer to a command mailsync
// wrote itself, past go-imap (see divert): go-imap would fail the
// connection on a tag it did not send; and every VANISHED response, which
// go-imap cannot parse (vanished.go). Every other byte reaches go-imap
// unchanged.
type guardConn struct {
	net.Conn
	prefix    []byte // bytes to return before the connection's own
	lineLen   int
	lineStart bool   // the next byte starts a response line
	tail      []byte // the end of the current line segment, to classify literals
	litLeft   int64
	inCaps    bool // inside capability data ("* CAPABILITY ..." or "[CAPABILITY ...]")
	err       error

	// The diverted answers. go-imap's tags start with 'T' and the server's
	// other lines with '*' or '+', so a line starting with 'M' can only be
	// the answer to a raw command; its whole tag is looked up at the end.
	// Several may be awaited at once: folders sharing the connection each
	// send their MULTIAPPEND.
	dmu       sync.Mutex
	diverts   map[string]diversion // by tag, while its answer is awaited
	diverting bool
	dline     []byte

	// emptyResponse sends go-imap's next "=" SASL response as the empty
	// line it stands for (see Write in xoauth2.go).
	emptyResponse atomic.Bool

	// VANISHED responses (vanished.go). A line starting with '*' is held
	// back while it may still start one (hold); one that does is diverted
	// (vline). Bytes held across reads that turn out to be another
	// response's wait in pending, which Read returns before anything else.
	holding bool
	hold    []byte
	vline   bool
	pending []byte
	// tagging: the tag of the tagged line being read is collected in tag,
	// while FETCHes wait for their VANISHED (EARLIER) answer (earlier, on
	// dmu, oldest first).
	tagging    bool
	tag        []byte
	earlier    []*earlierAnswer
	vanishNext atomic.Pointer[earlierAnswer] // armed by askEarlier
	onVanished func()                        // a VANISHED nobody asked for
}

// diversion is a raw command's awaited answer.
type diversion struct {
	ch   chan divertResult
	then func(line string, rest []byte) bool
}

// divertResult is the tagged line that answers a raw command, without its
// CRLF, or the reason none will come.
type divertResult struct {
	line string
	err  error
}

const tailCap = 256

func newGuardConn(c net.Conn, prefix []byte) *guardConn {
	return &guardConn{Conn: c, prefix: prefix, lineStart: true, tail: make([]byte, 0, tailCap)}
}

// divert arranges for the tagged line starting with tag (and a space) to be
// taken out of the stream and sent on the returned channel, once. It must
// be called before the command is written.
func (g *guardConn) divert(tag string) <-chan divertResult {
	return g.divertThen(tag, nil)
}

// divertThen is divert, and then, if set, is called with the answer on the
// reading goroutine before anything after it is read: when it returns
// true it has taken rest, the bytes read past the answer, and the stream
// continues from where it got them (COMPRESS changes its encoding there).
func (g *guardConn) divertThen(tag string, then func(line string, rest []byte) bool) <-chan divertResult {
	ch := make(chan divertResult, 1)
	g.dmu.Lock()
	defer g.dmu.Unlock()
	if g.err != nil {
		ch <- divertResult{err: g.err}
		return ch
	}
	if g.diverts == nil {
		g.diverts = make(map[string]diversion)
	}
	g.diverts[tag] = diversion{ch, then}
	return ch
}

// undivert gives up waiting for tag's answer, which will not be read.
func (g *guardConn) undivert(tag string) {
	g.dmu.Lock()
	delete(g.diverts, tag)
	g.dmu.Unlock()
}

// endDivert reports err to the raw commands still waiting for answers.
func (g *guardConn) endDivert(err error) {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	for tag, d := range g.diverts {
		d.ch <- divertResult{err: err}
		delete(g.diverts, tag)
	}
}

func (g *guardConn) Close() error {
	g.endDivert(net.ErrClosed)
	return g.Conn.Close()
}

// bodyLiteral matches what precedes a body literal in a FETCH response:
// BODY[...], BINARY[...] (with an optional <origin>), RFC822, RFC822.TEXT,
// RFC822.HEADER.
var bodyLiteral = regexp.MustCompile(`(?i)(?:(?:BODY|BINARY)\[[^\]]*\](?:<\d+>)?|RFC822(?:\.TEXT|\.HEADER)?) $`)

func (g *guardConn) Read(p []byte) (int, error) {
	for {
		if g.err != nil {
			return 0, g.err
		}
		if len(g.pending) > 0 {
			n := copy(p, g.pending)
			g.pending = g.pending[n:]
			return n, nil
		}
		var n int
		var err error
		if len(g.prefix) > 0 {
			n = copy(p, g.prefix)
			g.prefix = g.prefix[n:]
		} else {
			n, err = g.Conn.Read(p)
		}
		kept, verr := g.scan(p[:n])
		if verr != nil {
			g.dmu.Lock()
			g.err = verr // divert reads it from another goroutine
			g.dmu.Unlock()
			g.endDivert(verr)
			return 0, verr
		}
		if err != nil {
			g.endDivert(err)
		}
		// A read that held only the diverted answer must not look like
		// the end of the stream to go-imap.
		if kept > 0 || err != nil || n == 0 {
			return kept, err
		}
	}
}

// scan checks b and removes the diverted answer from it, returning how
// many bytes remain at its start.
func (g *guardConn) scan(b []byte) (int, error) {
	w := 0 // bytes kept, compacted to the front of b
	for i := 0; i < len(b); {
		if g.litLeft > 0 {
			skip := int64(len(b) - i)
			if skip > g.litLeft {
				skip = g.litLeft
			}
			g.litLeft -= skip
			w += copy(b[w:], b[i:i+int(skip)])
			i += int(skip)
			continue
		}
		c := b[i]
		i++
		if g.lineStart {
			g.lineStart = false
			switch c {
			case 'M':
				g.dmu.Lock()
				g.diverting = len(g.diverts) > 0
				g.dmu.Unlock()
				g.dline = g.dline[:0]
			case '*':
				g.holding, g.hold = true, g.hold[:0]
			case 'T':
				g.dmu.Lock()
				g.tagging = len(g.earlier) > 0
				g.dmu.Unlock()
				g.tag = g.tag[:0]
			}
		}
		switch {
		case g.diverting:
			g.dline = append(g.dline, c)
		case g.holding:
			g.hold = append(g.hold, c)
			if isVanishedStart(g.hold) {
				if len(g.hold) == len(vanishedPrefix) {
					g.holding, g.diverting, g.vline = false, true, true
					g.dline = append(g.dline[:0], g.hold...)
				}
				break
			}
			// Another response: what was held goes on, in its place.
			g.holding = false
			if len(g.hold) > i-w {
				// Part of it was held from an earlier read, and this read
				// has no room for it where it belongs: the rest of it
				// waits in pending, and this byte and those after it are
				// read again after that.
				held := g.hold[:len(g.hold)-1]
				n := copy(b[w:i-1], held)
				g.pending = append(g.pending, held[n:]...)
				g.prefix = append(bytes.Clone(b[i-1:]), g.prefix...)
				return w + n, nil
			}
			w += copy(b[w:], g.hold)
		default:
			b[w] = c
			w++
			if g.tagging {
				if c == ' ' {
					g.tagging = false
					g.tagPassed(g.tag)
				} else if len(g.tag) < 32 {
					g.tag = append(g.tag, c)
				}
			}
		}
		g.lineLen++
		if g.lineLen > maxLine {
			return w, fmt.Errorf("server sent a response line longer than %d bytes; giving up on this connection", maxLine)
		}
		if len(g.tail) == tailCap {
			copy(g.tail, g.tail[1:])
			g.tail = g.tail[:tailCap-1]
		}
		g.tail = append(g.tail, c)
		switch {
		case g.inCaps && c == '(':
			// go-imap v2.0.0-beta.8 loops forever on '(' in capability data
			// (readCapabilities: Decoder.SP accepts '(' without consuming
			// it), and no context can stop that goroutine. Capabilities are
			// atoms, so a '(' there is never valid.
			return w, errors.New("server sent '(' inside its capability list; giving up on this connection")
		case g.inCaps && (c == ']' || c == '\n'):
			g.inCaps = false
		case (c == 'Y' || c == 'y') && startsCapability(g.tail):
			g.inCaps = true
		}
		if c != '\n' {
			continue
		}
		size, before, ok := literalHeader(g.tail)
		g.lineLen, g.tail = 0, g.tail[:0]
		if g.diverting && g.vline {
			if ok {
				return w, errors.New("server sent a literal in a VANISHED response; giving up on this connection")
			}
			g.diverting, g.vline = false, false
			if err := g.vanished(bytes.TrimRight(g.dline, "\r\n")); err != nil {
				return w, err
			}
		}
		if g.diverting {
			if ok {
				return w, errors.New("server sent a literal in a tagged response; giving up on this connection")
			}
			line, then, err := g.delivered()
			if err != nil {
				return w, err
			}
			if then != nil {
				// What follows the answer, in the stream's order: the rest
				// of this read, then what waits to be read again.
				rest, prefix := b[i:len(b):len(b)], g.prefix
				if len(prefix) > 0 {
					rest = append(rest, prefix...)
				}
				g.prefix = nil
				if then(line, rest) {
					g.lineStart = true
					return w, nil
				}
				g.prefix = prefix
			}
		}
		if !ok {
			g.lineStart = true
			continue
		}
		if size > maxStringLiteral && !bodyLiteral.Match(before) {
			return w, fmt.Errorf("server announced a %d-byte literal where a short string was expected; giving up on this connection", size)
		}
		g.litLeft = size
	}
	return w, nil
}

// delivered hands the complete diverted line to the raw command, and
// returns it with the command's divertThen function.
func (g *guardConn) delivered() (string, func(string, []byte) bool, error) {
	g.diverting = false
	line := string(bytes.TrimRight(g.dline, "\r\n"))
	tag, _, spaced := strings.Cut(line, " ")
	g.dmu.Lock()
	defer g.dmu.Unlock()
	d, ok := g.diverts[tag]
	if !ok || !spaced {
		return "", nil, fmt.Errorf("server answered a command it was not sent (%.40q); giving up on this connection", line)
	}
	d.ch <- divertResult{line: line}
	delete(g.diverts, tag)
	return line, d.then, nil
}

// startsCapability reports whether seg ends with the start of capability
// data: "[CAPABILITY" in a response code, or "* CAPABILITY" at a line start.
func startsCapability(seg []byte) bool {
	const word = "CAPABILITY"
	if len(seg) < len(word)+1 || !bytes.EqualFold(seg[len(seg)-len(word):], []byte(word)) {
		return false
	}
	before := seg[:len(seg)-len(word)]
	return before[len(before)-1] == '[' || bytes.Equal(before, []byte("* "))
}

// literalHeader recognises a segment ending in "{N}\r\n" (or "{N+}\r\n") and
// returns N and the text before the '{'.
func literalHeader(seg []byte) (int64, []byte, bool) {
	if !bytes.HasSuffix(seg, []byte("}\r\n")) {
		return 0, nil, false
	}
	open := bytes.LastIndexByte(seg, '{')
	if open < 0 {
		return 0, nil, false
	}
	num := bytes.TrimSuffix(seg[open+1:len(seg)-3], []byte("+"))
	size, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || size < 0 {
		return 0, nil, false
	}
	return size, seg[:open], true
}
