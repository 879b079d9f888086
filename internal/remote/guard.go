package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
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
// literal exceeds its limit. It never changes the bytes.
type guardConn struct {
	net.Conn
	prefix  []byte // bytes to return before the connection's own
	lineLen int
	tail    []byte // the end of the current line segment, to classify literals
	litLeft int64
	inCaps  bool // inside capability data ("* CAPABILITY ..." or "[CAPABILITY ...]")
	err     error
}

const tailCap = 256

func newGuardConn(c net.Conn, prefix []byte) *guardConn {
	return &guardConn{Conn: c, prefix: prefix, tail: make([]byte, 0, tailCap)}
}

// bodyLiteral matches what precedes a body literal in a FETCH response:
// BODY[...], BINARY[...] (with an optional <origin>), RFC822, RFC822.TEXT,
// RFC822.HEADER.
var bodyLiteral = regexp.MustCompile(`(?i)(?:(?:BODY|BINARY)\[[^\]]*\](?:<\d+>)?|RFC822(?:\.TEXT|\.HEADER)?) $`)

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	var n int
	var err error
	if len(g.prefix) > 0 {
		n = copy(p, g.prefix)
		g.prefix = g.prefix[n:]
	} else {
		n, err = g.Conn.Read(p)
	}
	if verr := g.scan(p[:n]); verr != nil {
		g.err = verr
		return 0, verr
	}
	return n, err
}

func (g *guardConn) scan(b []byte) error {
	for i := 0; i < len(b); {
		if g.litLeft > 0 {
			skip := int64(len(b) - i)
			if skip > g.litLeft {
				skip = g.litLeft
			}
			g.litLeft -= skip
			i += int(skip)
			continue
		}
		c := b[i]
		i++
		g.lineLen++
		if g.lineLen > maxLine {
			return fmt.Errorf("server sent a response line longer than %d bytes; giving up on this connection", maxLine)
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
			return errors.New("server sent '(' inside its capability list; giving up on this connection")
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
		if !ok {
			continue
		}
		if size > maxStringLiteral && !bodyLiteral.Match(before) {
			return fmt.Errorf("server announced a %d-byte literal where a short string was expected; giving up on this connection", size)
		}
		g.litLeft = size
	}
	return nil
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
