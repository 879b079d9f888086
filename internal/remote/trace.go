package remote

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits of the trace. Lines are shown whole up to traceLineMax bytes
// (ESEARCH results and UID sets can run to megabytes); literals are never
// shown at all, only their size, so the tracer holds at most a line and a
// few credentials per connection, whatever the server sends.
const (
	traceLineMax  = 4096
	traceTailSize = 32 // holds any "{N+}\r\n" or "~{N}\r\n" (N is at most 19 digits)
	maxSecrets    = 16
	maxSecretLen  = 1024
)

// Texts that stand in for what the trace must not show.
const (
	redacted     = "<redacted>"
	echoRedacted = "<redacted: the server's line repeats a credential>"
	longRedacted = "<redacted: a line too long to check for credentials>"
)

// traceConn shows the conversation on its connection to a trace func. It
// sits above TLS, where the bytes are plain, and under the guard, so that
// it also sees the commands mailsync writes past go-imap and the answers
// the guard takes out of the stream.
type traceConn struct {
	net.Conn
	t *tracer
}

func newTraceConn(c net.Conn, trace func(fromServer bool, line string)) *traceConn {
	return &traceConn{Conn: c, t: newTracer(trace)}
}

// newPreTLSTrace traces the plaintext exchange on c that precedes a
// STARTTLS upgrade (startTLS's greeting, CAPABILITY and STARTTLS), and
// nothing from the server's answer to STARTTLS on: the rest is the TLS
// handshake and records, which traceConn shows above TLS.
func newPreTLSTrace(c net.Conn, trace func(fromServer bool, line string)) *traceConn {
	t := newTracer(trace)
	t.stopTag = "S1" // startTLS's tag for STARTTLS
	return &traceConn{Conn: c, t: t}
}

func (c *traceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.t.feed(true, p[:n])
	// A timeout may be retried; any other error ends the stream.
	if ne := net.Error(nil); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		c.t.eof()
	}
	return n, err
}

// Write traces p before writing it: traced after, the server's answer
// could be read and traced first, and the answer to a LOGIN would then
// come before the tracer knew to look out for it.
func (c *traceConn) Write(p []byte) (int, error) {
	c.t.feed(false, p)
	return c.Conn.Write(p)
}

// tracer splits each direction of an IMAP conversation into lines, shows a
// literal as its size, and redacts credentials: the arguments of LOGIN,
// everything after the mechanism of AUTHENTICATE and every line the client
// sends until the AUTHENTICATE is answered. While a LOGIN or AUTHENTICATE
// awaits its answer, it also redacts a server line that repeats one of the
// credentials: a server's challenge or refusal is free text, and the trace
// must not depend on the server's discretion.
type tracer struct {
	emit func(fromServer bool, line string)

	// mu serialises the reading and the writing goroutine: the
	// credentials seen in one direction decide what is shown in the
	// other, and the lines come out in the order the tracer saw them.
	mu     sync.Mutex
	client traceSide
	server traceSide

	// The LOGIN or AUTHENTICATE whose answer is awaited.
	credTag string // its tag; "" when none is
	sasl    bool   // an AUTHENTICATE, with no initial response or asked for more: every client line is a SASL response
	// authenticate: the command is an AUTHENTICATE, whose
	// continuations ask for SASL responses.
	authenticate bool
	secrets      [][]byte

	// The tracer stops for good after the server's line tagged stopTag,
	// if set.
	stopTag string
	stopped bool
}

// traceSide is the state of one direction.
type traceSide struct {
	line []byte // the segment so far, at most traceLineMax bytes
	more int64  // bytes of the segment beyond line
	tail []byte // its last traceTailSize bytes, to see a literal's announcement
	// The literal being passed over, and whether the segment being read
	// continues a line after one.
	litLeft  int64
	litSize  int64
	afterLit bool
	// Client side: the rest of a LOGIN command is redacted, and its
	// literals are credentials.
	redact bool
	keep   bool   // keep the literal being passed over (in lit)
	lit    []byte // its first maxSecretLen bytes
}

func newTracer(emit func(fromServer bool, line string)) *tracer {
	return &tracer{emit: emit}
}

// feed traces b, the next bytes in one direction.
func (t *tracer) feed(fromServer bool, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.client
	if fromServer {
		s = &t.server
	}
	for len(b) > 0 && !t.stopped {
		if t.stopTag != "" && !fromServer && b[0] == 0x16 && len(s.line) == 0 && s.more == 0 {
			// A TLS handshake record, not a command: the upgrade's
			// ClientHello, or startTLS probing a silent server for
			// implicit TLS.
			t.stopped = true
			return
		}
		if s.litLeft > 0 {
			k := int64(len(b))
			if k > s.litLeft {
				k = s.litLeft
			}
			if s.keep && len(s.lit) < maxSecretLen {
				s.lit = append(s.lit, b[:min(int(k), maxSecretLen-len(s.lit))]...)
			}
			s.litLeft -= k
			b = b[k:]
			if s.litLeft == 0 {
				t.literalDone(s)
			}
			continue
		}
		chunk := b
		end := bytes.IndexByte(b, '\n')
		if end >= 0 {
			chunk = b[:end+1]
		}
		s.add(chunk)
		b = b[len(chunk):]
		if end >= 0 {
			t.segment(fromServer, s, false)
		}
	}
}

// eof shows what the server sent of a line or literal it did not finish.
func (t *tracer) eof() {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.server
	switch {
	case t.stopped:
	case s.litLeft > 0:
		t.emit(true, "<literal "+strconv.FormatInt(s.litSize, 10)+" bytes, cut off after "+
			strconv.FormatInt(s.litSize-s.litLeft, 10)+"> <end of stream>")
		s.litLeft = 0
	case len(s.line) > 0 || s.afterLit:
		t.segment(true, s, true)
	}
}

// add appends a piece of the current segment.
func (s *traceSide) add(b []byte) {
	room := traceLineMax - len(s.line)
	if room > len(b) {
		room = len(b)
	}
	s.line = append(s.line, b[:room]...)
	s.more += int64(len(b) - room)
	if len(b) >= traceTailSize {
		s.tail = append(s.tail[:0], b[len(b)-traceTailSize:]...)
		return
	}
	s.tail = append(s.tail, b...)
	if over := len(s.tail) - traceTailSize; over > 0 {
		s.tail = s.tail[:copy(s.tail, s.tail[over:])]
	}
}

// literalDone ends the literal after its last byte.
func (t *tracer) literalDone(s *traceSide) {
	s.afterLit = true
	if s.keep {
		t.addSecret(s.lit)
		s.keep, s.lit = false, s.lit[:0]
	}
}

// segment shows the segment just ended (by a line end, or cut off when
// partial) and resets s for the next one.
func (t *tracer) segment(fromServer bool, s *traceSide, partial bool) {
	// The line end is not shown, nor counted in what a cut line leaves
	// out.
	content := int64(len(s.line)) + s.more - int64(len(s.tail)-len(trimEOL(s.tail)))
	text := s.line[:min(int64(len(s.line)), content)]
	s.more = content - int64(len(text))
	var size int64
	lit := false
	if !partial {
		size, lit = literalAnnounced(trimEOL(s.tail))
	}
	var out string
	if fromServer {
		out = t.serverLine(s, text)
	} else {
		out = t.clientLine(s, text, lit)
	}
	if partial {
		out += " <end of stream>"
	}
	t.emit(fromServer, out)
	if fromServer && t.stopTag != "" && !s.afterLit && bytes.HasPrefix(text, []byte(t.stopTag+" ")) {
		t.stopped = true
	}

	s.line, s.more, s.tail = s.line[:0], 0, s.tail[:0]
	s.afterLit = false
	if lit {
		s.litSize, s.litLeft = size, size
		if size == 0 {
			t.literalDone(s)
		}
	}
}

// shown is text as the trace shows it: after the literal it continues, if
// any, and with a cut-off line's length.
func (s *traceSide) shown(text []byte) string {
	var b strings.Builder
	if s.afterLit {
		b.WriteString("<literal " + strconv.FormatInt(s.litSize, 10) + " bytes>")
	}
	writePrintable(&b, text)
	if s.more > 0 {
		b.WriteString(" <" + strconv.FormatInt(s.more, 10) + " more bytes>")
	}
	return b.String()
}

func (t *tracer) clientLine(s *traceSide, text []byte, lit bool) string {
	switch {
	case t.sasl:
		// A SASL response, or "*" to cancel the exchange.
		if string(text) == "*" {
			return "*"
		}
		t.addSASL(text)
		s.keep = lit
		return redacted
	case s.redact:
		// The rest of a LOGIN command, after a literal.
		t.addLoginArgs(text)
		s.redact, s.keep = lit, lit
		return redacted
	case s.afterLit:
		return s.shown(text)
	}
	tag, rest, _ := bytes.Cut(text, []byte(" "))
	verb, args, hasArgs := bytes.Cut(rest, []byte(" "))
	switch {
	case bytes.EqualFold(verb, []byte("LOGIN")):
		t.await(string(tag), false)
		t.addLoginArgs(args)
		s.redact, s.keep = lit, lit
		return printable(tag) + " LOGIN " + redacted
	case bytes.EqualFold(verb, []byte("AUTHENTICATE")):
		mech, ir, hasIR := bytes.Cut(args, []byte(" "))
		// With an initial response, a line the client sends is a SASL
		// response only once the server asks for one: until then it is
		// a command pipelined behind the login (ahead.go).
		t.await(string(tag), !hasIR)
		t.authenticate = true
		out := printable(tag) + " AUTHENTICATE"
		if hasArgs {
			out += " " + printable(mech)
		}
		if hasIR {
			t.addSASL(ir)
			out += " " + redacted
		}
		s.keep = lit
		return out
	}
	return s.shown(text)
}

func (t *tracer) serverLine(s *traceSide, text []byte) string {
	if t.credTag == "" {
		return s.shown(text)
	}
	if t.authenticate && !s.afterLit && len(text) > 0 && text[0] == '+' {
		// A continuation: the client's next lines answer it.
		t.sasl = true
	}
	out := s.shown(text)
	switch {
	case t.echoes(text):
		out = echoRedacted
	case s.more > 0:
		// The cut could fall inside a credential, which Contains would
		// then miss.
		out = longRedacted
	}
	// The tagged answer ends the exchange. Only a line's first segment
	// can carry a tag.
	if !s.afterLit && len(text) > len(t.credTag) && text[len(t.credTag)] == ' ' &&
		string(text[:len(t.credTag)]) == t.credTag {
		t.credTag, t.sasl, t.authenticate = "", false, false
		clear(t.secrets)
		t.secrets = t.secrets[:0]
	}
	return out
}

// await notes a command that carries credentials; tag's answer ends it.
func (t *tracer) await(tag string, sasl bool) {
	t.credTag, t.sasl, t.authenticate = tag, sasl, false
	clear(t.secrets)
	t.secrets = t.secrets[:0]
}

// addSecret remembers a credential the server must not be shown to
// repeat. A long one is cut: a server line holding its start still holds
// part of the secret.
func (t *tracer) addSecret(b []byte) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(t.secrets) >= maxSecrets {
		return
	}
	t.secrets = append(t.secrets, bytes.Clone(b[:min(len(b), maxSecretLen)]))
}

// addLoginArgs remembers the (quoted) strings of LOGIN's arguments.
func (t *tracer) addLoginArgs(args []byte) {
	for len(args) > 0 {
		args = bytes.TrimLeft(args, " ")
		if len(args) == 0 {
			return
		}
		if args[0] != '"' {
			word, rest, _ := bytes.Cut(args, []byte(" "))
			if _, ok := literalAnnounced(word); !ok {
				t.addSecret(word)
			}
			args = rest
			continue
		}
		var b []byte
		i := 1
		for ; i < len(args) && args[i] != '"'; i++ {
			if args[i] == '\\' && i+1 < len(args) {
				i++
			}
			b = append(b, args[i])
		}
		t.addSecret(b)
		args = args[min(i+1, len(args)):]
	}
}

// addSASL remembers a SASL response: its base64 form, and the fields of
// its decoded form (PLAIN's are NUL-separated; XOAUTH2's and
// OAUTHBEARER's are ^A-separated, of which only the token is a secret).
func (t *tracer) addSASL(resp []byte) {
	resp = bytes.TrimSpace(resp)
	if string(resp) == "=" {
		return // an empty initial response (RFC 4959)
	}
	t.addSecret(resp)
	// A response longer than the line buffer arrives cut; its start
	// still decodes.
	dec, err := base64.StdEncoding.AppendDecode(nil, resp[:len(resp)/4*4])
	if err != nil || len(dec) == 0 {
		return
	}
	if !bytes.ContainsAny(dec, "\x00\x01") {
		t.addSecret(dec) // LOGIN's user name or password
		return
	}
	for _, f := range bytes.Split(dec, []byte{0}) {
		if !bytes.Contains(f, []byte{1}) {
			t.addSecret(f)
			continue
		}
		for _, kv := range bytes.Split(f, []byte{1}) {
			if v, ok := bytes.CutPrefix(kv, []byte("auth=")); ok {
				t.addSecret(v)
				if i := bytes.LastIndexByte(v, ' '); i >= 0 {
					t.addSecret(v[i+1:])
				}
			}
		}
	}
}

// echoes reports whether a server line repeats a credential, as it is or,
// in a continuation, base64-encoded.
func (t *tracer) echoes(line []byte) bool {
	hay := [][]byte{line}
	if p, ok := bytes.CutPrefix(line, []byte("+ ")); ok {
		if dec, err := base64.StdEncoding.AppendDecode(nil, bytes.TrimSpace(p)); err == nil {
			hay = append(hay, dec)
		}
	}
	for _, h := range hay {
		for _, s := range t.secrets {
			if bytes.Contains(h, s) {
				return true
			}
		}
	}
	return false
}

// literalAnnounced reports whether seg (without its line end) ends by
// announcing a literal, "{N}" or "{N+}" (also in "~{N}"), and its size.
func literalAnnounced(seg []byte) (int64, bool) {
	if !bytes.HasSuffix(seg, []byte("}")) {
		return 0, false
	}
	open := bytes.LastIndexByte(seg, '{')
	if open < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(seg[open+1:len(seg)-1], []byte("+"))
	if len(num) == 0 || num[0] < '0' || num[0] > '9' {
		return 0, false // ParseInt would take a sign
	}
	size, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false
	}
	return size, true
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func printable(b []byte) string {
	var w strings.Builder
	writePrintable(&w, b)
	return w.String()
}

// writePrintable writes b with control characters (C0, DEL, C1) and
// invalid UTF-8 escaped: a server's line must not be able to send the
// terminal that shows the trace escape sequences.
func writePrintable(w *strings.Builder, b []byte) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(w, `\x%02x`, b[0])
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(w, `\u%04x`, r)
		default:
			w.Write(b[:n])
		}
		b = b[n:]
	}
}
