package faultproxy

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"time"
)

// stream is the reading side of one direction: it follows the IMAP
// framing, applies the fault and queues what is to be forwarded.
type stream struct {
	c   *conn
	d   Direction
	buf []byte // a line segment being collected
	lit int64  // literal bytes still to come
	// inUnit: the next line segment continues a command or response
	// (it follows a literal).
	inUnit bool
	// syncLit: the client announced a synchronising literal of this many
	// bytes; whether it follows depends on the server's answer.
	syncLit  int64
	syncWait bool
	holdResp bool   // holds c.respMu (server→client)
	unitTag  string // client: the tag of the command being read
	// Client: the command being read is rejected (its bytes are dropped)
	// and answered with reply at its end.
	drop    bool
	reply   []byte
	rejSeen []int
	trigs   []*trigState
	// out collects what a chunk yields, sent as one item.
	out []byte
	now time.Time
}

type trigState struct {
	t     Trigger
	cut   bool // else stall
	seen  int
	left  int64 // bytes until it fires; -1 while waiting for the occurrence
	fired bool
}

func newStream(c *conn, d Direction) *stream {
	s := &stream{c: c, d: d, rejSeen: make([]int, len(c.f.Reject))}
	add := func(t *Trigger, cut bool) {
		if t == nil || t.Dir != d {
			return
		}
		ts := &trigState{t: *t, cut: cut, left: -1}
		if ts.t.Nth <= 0 {
			ts.t.Nth = 1
		}
		if t.Match == "" && !t.Literal {
			ts.left = t.Skip
		}
		s.trigs = append(s.trigs, ts)
	}
	add(c.f.Cut, true)
	add(c.f.Stall, false)
	return s
}

func (s *stream) read(src net.Conn) {
	defer s.releaseResp()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		s.now = time.Now()
		if n > 0 && !s.feed(buf[:n]) {
			return
		}
		if err != nil {
			// A partial line at the end of the stream is forwarded as it is.
			if len(s.buf) > 0 && !s.drop && !s.c.stalled.Load() && !s.forward(s.buf) {
				return
			}
			if !s.flush(false) {
				return
			}
			s.c.sendEOF(s.d, s.now)
			return
		}
	}
}

// flush queues what was collected; with cut the connection is shut down
// after it. It returns false once the connection is gone.
func (s *stream) flush(cut bool) bool {
	if len(s.out) == 0 && !cut {
		return true
	}
	it := item{data: s.out, due: s.now.Add(s.c.f.Latency), cut: cut}
	s.out = nil
	select {
	case s.c.queue(s.d) <- it:
		return !cut
	case <-s.c.done:
		return false
	}
}

func (s *stream) releaseResp() {
	s.flush(false)
	if s.holdResp {
		s.holdResp = false
		s.c.respMu.Unlock()
	}
}

// feed processes one chunk read at time now; false once the connection has
// been cut or closed.
func (s *stream) feed(b []byte) bool {
	for len(b) > 0 {
		if s.c.stalled.Load() {
			s.releaseResp()
			return true // read and dropped
		}
		if s.c.opaque.Load() {
			if !s.forward(b) {
				return false
			}
			break
		}
		if s.syncWait {
			s.syncWait = false
			if s.c.takeCont() {
				s.lit = s.syncLit
			} else {
				// The server refused the literal: the command ended with
				// its tagged response and this is the next one.
				s.inUnit = false
			}
			continue
		}
		if s.lit > 0 {
			m := int64(len(b))
			if m > s.lit {
				m = s.lit
			}
			s.lit -= m
			if !s.drop && !s.forward(b[:m]) {
				return false
			}
			b = b[m:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.buf = append(s.buf, b...)
			break
		}
		seg := append(s.buf, b[:i+1]...)
		s.buf = nil
		b = b[i+1:]
		if !s.segment(seg) {
			return false
		}
	}
	if !s.flush(false) {
		return false
	}
	if !s.inUnit {
		// Between two responses: the proxy may answer a command now.
		s.releaseResp()
	}
	return true
}

// segment handles one complete line segment.
func (s *stream) segment(seg []byte) bool {
	start := !s.inUnit
	size, sync, hasLit := literalHeader(seg)
	if start && !s.hold(seg) {
		return false
	}
	if s.d == ServerToClient {
		if start {
			if !s.holdResp {
				s.c.respMu.Lock()
				s.holdResp = true
			}
			s.c.serverLine(seg)
		}
		if len(s.c.f.StripCaps) > 0 {
			seg = stripCaps(seg, s.c.f.StripCaps)
		}
	} else if start {
		s.checkReject(seg)
	}
	if start && s.d == ClientToServer {
		tag, rest, _ := bytes.Cut(seg, []byte(" "))
		s.unitTag = string(tag)
		if bytes.EqualFold(bytes.TrimRight(rest, "\r\n"), []byte("COMPRESS DEFLATE")) {
			tag := s.unitTag
			s.c.compressTag.Store(&tag)
		}
	}
	if start && s.d == ServerToClient {
		// Before the OK is forwarded: the client compresses once it has it.
		if t := s.c.compressTag.Load(); t != nil && bytes.HasPrefix(seg, []byte(*t+" ")) {
			s.c.compressTag.Store(nil)
			if ok := seg[len(*t)+1:]; len(ok) >= 2 && bytes.EqualFold(ok[:2], []byte("OK")) {
				s.c.opaque.Store(true)
			}
		}
	}
	if hasLit && s.d == ClientToServer && sync && !s.drop {
		// Before the line reaches the server, so its answer can't be missed.
		s.c.expectCont(s.unitTag)
	}
	if !s.drop {
		for _, ts := range s.trigs {
			if !ts.fired && ts.left < 0 && !ts.t.Literal && ts.t.Match != "" && bytes.Contains(seg, []byte(ts.t.Match)) {
				if ts.seen++; ts.seen == ts.t.Nth {
					ts.left = ts.t.Skip
				}
			}
		}
		if !s.forward(seg) {
			return false
		}
		if hasLit && size > 0 {
			for _, ts := range s.trigs {
				if !ts.fired && ts.left < 0 && ts.t.Literal && (ts.t.Match == "" || bytes.Contains(seg, []byte(ts.t.Match))) {
					if ts.seen++; ts.seen == ts.t.Nth {
						ts.left = ts.t.Skip
					}
				}
			}
			if !s.forward(nil) {
				return false
			}
		}
	}
	if !hasLit {
		return s.endUnit()
	}
	s.inUnit = true
	if s.d == ClientToServer && sync {
		if s.drop {
			// Rejected: the client waits for a continuation that never
			// comes, gets our answer instead and sends no literal.
			return s.endUnit()
		}
		s.syncLit, s.syncWait = size, true
		return true
	}
	s.lit = size
	return true
}

// hold applies Fault.HoldUntil at the start of each command or response:
// the client's line containing it releases the server's responses after
// the greeting, which wait for it. It returns false once the connection is
// gone. A held response waits before it takes respMu, so that the client's
// reader, which may need respMu to answer a rejected command, goes on to
// the line that releases it.
func (s *stream) hold(seg []byte) bool {
	c := s.c
	if c.held == nil {
		return true
	}
	if s.d == ClientToServer {
		if bytes.Contains(seg, []byte(c.f.HoldUntil)) {
			c.release.Do(func() { close(c.held) })
		}
		return true
	}
	if !c.answered {
		c.answered = true // the greeting goes through
		return true
	}
	// What came before goes out, and respMu is let go: this is a
	// response's start.
	s.releaseResp()
	select {
	case <-c.held:
		return true
	case <-c.done:
		return false
	}
}

func (s *stream) endUnit() bool {
	s.inUnit = false
	if s.d == ServerToClient {
		return true // respMu is released at the end of the chunk
	}
	if s.drop {
		s.drop = false
		reply := s.reply
		s.reply = nil
		return s.c.inject(reply, s.now)
	}
	return true
}

// checkReject decides whether the command starting with line is answered
// by the proxy.
func (s *stream) checkReject(line []byte) {
	fields := strings.Fields(string(line))
	if len(fields) < 2 {
		return
	}
	tag := fields[0]
	for i, r := range s.c.f.Reject {
		words := strings.Fields(r.Command)
		if len(words) == 0 || len(fields) < 1+len(words) {
			continue
		}
		match := true
		for j, w := range words {
			if !strings.EqualFold(fields[1+j], w) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		s.rejSeen[i]++
		if r.Nth != 0 && s.rejSeen[i] != r.Nth {
			continue
		}
		status := r.Status
		if status == "" {
			status = "NO"
		}
		s.drop = true
		s.reply = []byte(tag + " " + status + " " + r.Text + "\r\n")
		s.c.p.mu.Lock()
		s.c.p.stats.Rejects++
		s.c.p.mu.Unlock()
		s.c.p.event("conn %d: answered %s %s with %s %s", s.c.id, tag, r.Command, status, r.Text)
		return
	}
}

// forward queues b, firing triggers whose countdown ends within it. An
// empty b only fires triggers that are due now. It returns false once the
// connection is cut.
func (s *stream) forward(b []byte) bool {
	var first *trigState
	for _, ts := range s.trigs {
		if !ts.fired && ts.left >= 0 && ts.left <= int64(len(b)) && (first == nil || ts.left < first.left) {
			first = ts
		}
	}
	if first == nil {
		for _, ts := range s.trigs {
			if !ts.fired && ts.left >= 0 {
				ts.left -= int64(len(b))
			}
		}
		s.out = append(s.out, b...)
		return true
	}
	// A cut ends the connection and a stall all forwarding: the rest of b
	// and any other trigger no longer matter.
	first.fired = true
	s.out = append(s.out, b[:first.left]...)
	p := s.c.p
	if first.cut {
		p.mu.Lock()
		p.stats.Cuts++
		p.mu.Unlock()
		p.event("conn %d: cut (%s)", s.c.id, first.t)
		s.flush(true)
		return false
	}
	if !s.flush(false) {
		return false
	}
	p.mu.Lock()
	p.stats.Stalls++
	p.mu.Unlock()
	p.event("conn %d: stalled (%s)", s.c.id, first.t)
	s.c.stalled.Store(true)
	return true
}

// literalHeader parses the literal announced at the end of a line:
// "{n}", "{n+}" or "~{n}" followed by CRLF (or LF).
func literalHeader(line []byte) (size int64, sync, ok bool) {
	l := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false, false
	}
	open := bytes.LastIndexByte(l, '{')
	if open < 0 {
		return 0, false, false
	}
	num := l[open+1 : len(l)-1]
	sync = true
	if n := len(num); n > 0 && (num[n-1] == '+' || num[n-1] == '-') {
		num, sync = num[:n-1], false
	}
	if len(num) == 0 || len(num) > 19 {
		return 0, false, false
	}
	for _, ch := range num {
		if ch < '0' || ch > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, sync, true
}

// stripCaps removes caps from a "* CAPABILITY" line and from a
// [CAPABILITY ...] response code; without UIDPLUS it also drops the
// [APPENDUID ...] and [COPYUID ...] codes.
func stripCaps(line []byte, caps []string) []byte {
	drop := func(tok string) bool {
		for _, c := range caps {
			if strings.EqualFold(tok, c) {
				return true
			}
		}
		return false
	}
	filter := func(list string) string {
		var kept []string
		for _, tok := range strings.Fields(list) {
			if !drop(tok) {
				kept = append(kept, tok)
			}
		}
		return strings.Join(kept, " ")
	}
	s := string(line)
	body := strings.TrimRight(s, "\r\n")
	eol := s[len(body):]
	const untagged = "* CAPABILITY "
	if len(body) >= len(untagged) && strings.EqualFold(body[:len(untagged)], untagged) {
		return []byte(body[:len(untagged)] + filter(body[len(untagged):]) + eol)
	}
	upper := strings.ToUpper(body)
	if i := strings.Index(upper, "[CAPABILITY "); i >= 0 {
		if j := strings.IndexByte(body[i:], ']'); j >= 0 {
			from, to := i+len("[CAPABILITY "), i+j
			body = body[:from] + filter(body[from:to]) + body[to:]
			upper = strings.ToUpper(body)
		}
	}
	if drop("UIDPLUS") {
		for _, code := range []string{"[APPENDUID ", "[COPYUID "} {
			if i := strings.Index(upper, code); i >= 0 {
				if j := strings.IndexByte(body[i:], ']'); j >= 0 {
					end := i + j + 1
					if end < len(body) && body[end] == ' ' {
						end++
					}
					body = body[:i] + body[end:]
					upper = strings.ToUpper(body)
				}
			}
		}
	}
	return []byte(body + eol)
}
