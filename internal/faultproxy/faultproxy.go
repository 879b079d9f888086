// Package faultproxy is a TCP proxy for tests that breaks IMAP connections on purpose.
//
// A Proxy listens on 127.0.0.1:0 and forwards every connection to a target
// (a real IMAP server). Each new connection gets a Fault from the proxy's
// plan, which may:
//
//   - Cut the connection (close both sides) once a Trigger fires: after N
//     bytes in one direction, at the Nth line containing some text (the
//     line itself is not forwarded), or K bytes into the Nth literal.
//   - Stall it once a Trigger fires: from then on the proxy keeps reading
//     both sides (so nobody's writes block) but forwards and answers
//     nothing, like a server that hung.
//   - Delay every chunk by Latency in both directions (a link delay, not a
//     throughput limit: chunks in flight overlap).
//   - Strip capabilities from the server's CAPABILITY responses (the
//     greeting's and a tagged OK's [CAPABILITY ...] code and "* CAPABILITY"
//     lines). Stripping UIDPLUS also removes the APPENDUID and COPYUID
//     response codes, which a server without UIDPLUS never sends.
//   - Answer chosen client commands with "TAG NO ..." or "TAG BAD ..."
//     instead of forwarding them.
//
// To do the last three the proxy follows the IMAP framing in both
// directions: lines, and literals ({n}, {n+}, ~{n}) announced at the end of
// a line. It does not parse anything else; bytes it does not change are
// forwarded exactly. A line is forwarded once it is complete (literal data
// as it arrives); a partial line is forwarded when its sender closes. A synchronising client literal ({n}) is sent by the
// client only after the server's "+" continuation, so the proxy watches the
// server's answer to tell whether the literal will follow.
package faultproxy

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is one half of a connection.
type Direction int

const (
	// ServerToClient is what the server sends: greeting, responses, literals.
	ServerToClient Direction = iota
	// ClientToServer is what the client sends: commands and their literals.
	ClientToServer
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client→server"
	}
	return "server→client"
}

// Trigger says when, in the byte stream of one direction, a fault happens.
//
// Without Match and Literal it fires after Skip bytes of the direction.
// With Match (and not Literal) it fires at the first byte of the Nth line
// segment (the text of a command or response between literals) containing
// Match, plus Skip bytes: with Skip 0 that line is never forwarded. With
// Literal it fires Skip bytes into the data of the Nth literal, counting
// only literals whose announcing line contains Match (if Match is set).
//
// Lines are matched byte for byte (IMAP is case-insensitive, but clients
// and servers send commands and keywords in capitals). Bytes are counted as
// forwarded, after any rewriting.
type Trigger struct {
	Dir     Direction
	Match   string
	Literal bool
	Nth     int   // which occurrence; 0 means 1
	Skip    int64 // bytes let through after the occurrence begins
}

func (t Trigger) String() string {
	nth := t.Nth
	if nth <= 0 {
		nth = 1
	}
	switch {
	case t.Literal && t.Match != "":
		return fmt.Sprintf("%s: %d bytes into literal #%d announced by a line containing %q", t.Dir, t.Skip, nth, t.Match)
	case t.Literal:
		return fmt.Sprintf("%s: %d bytes into literal #%d", t.Dir, t.Skip, nth)
	case t.Match != "":
		return fmt.Sprintf("%s: %d bytes into line #%d containing %q", t.Dir, t.Skip, nth, t.Match)
	default:
		return fmt.Sprintf("%s: after %d bytes", t.Dir, t.Skip)
	}
}

// Reject answers a client command in place of the server.
type Reject struct {
	// Command is the command name, one or two words ("APPEND",
	// "UID STORE"); case-insensitive. "STORE" does not match "UID STORE".
	Command string
	// Nth selects which occurrence on the connection is rejected; 0
	// rejects every one.
	Nth int
	// Status is "NO" or "BAD" (default "NO").
	Status string
	// Text follows the status, e.g. "[CANNOT] refused by the test".
	Text string
}

// Fault is what goes wrong on one connection. The zero Fault forwards
// everything untouched.
type Fault struct {
	Cut       *Trigger      // close both sides when it fires
	Stall     *Trigger      // from when it fires, forward nothing either way
	Latency   time.Duration // one-way delay of every chunk, both directions
	StripCaps []string      // capabilities the client must not see
	Reject    []Reject      // client commands the proxy answers itself
	// Refuse closes the connection at once, before the server is reached:
	// to the client the server is down.
	Refuse bool
}

// Once the server accepts COMPRESS DEFLATE (RFC 4978), the proxy forwards
// the connection's bytes as they come, without reading them as IMAP: a
// compressed stream has no lines to wait for. From then on only triggers
// that count bytes (no Match, no Literal) fire, and StripCaps and Reject
// do nothing.

// Plan gives the Fault of each connection accepted after SetPlan, numbered
// from 1.
type Plan func(n int) Fault

// Every applies f to every connection.
func Every(f Fault) Plan { return func(int) Fault { return f } }

// First applies f to the first connection only; later ones pass through.
func First(f Fault) Plan { return Nth(1, f) }

// Nth applies f to the nth connection only.
func Nth(n int, f Fault) Plan {
	return func(i int) Fault {
		if i == n {
			return f
		}
		return Fault{}
	}
}

// Stats counts what a proxy did.
type Stats struct {
	Conns   int // connections accepted
	Cuts    int // connections cut by a Cut trigger
	Stalls  int // connections stalled by a Stall trigger
	Rejects int // client commands answered by the proxy
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	plan     Plan
	planBase int // Conns when the plan was set
	stats    Stats
	events   []string
	live     map[*conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and forwards connections to target
// ("host:port"), passing them through until a plan is set.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, live: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// SetPlan sets the faults of the connections accepted from now on;
// connections already open keep theirs. nil passes everything through.
func (p *Proxy) SetPlan(pl Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = pl
	p.planBase = p.stats.Conns
}

// Set applies f to every connection accepted from now on.
func (p *Proxy) Set(f Fault) { p.SetPlan(Every(f)) }

// PassThrough makes new connections fault-free.
func (p *Proxy) PassThrough() { p.SetPlan(nil) }

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Events lists what the proxy did, one line per fault, for test logs.
func (p *Proxy) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

func (p *Proxy) event(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, fmt.Sprintf(format, args...))
}

// DropAll closes every open connection, both sides, as a server that
// went away would; new connections are handled as the plan says.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	live := make([]*conn, 0, len(p.live))
	for c := range p.live {
		live = append(live, c)
	}
	p.mu.Unlock()
	for _, c := range live {
		c.shutdown()
	}
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	live := make([]*conn, 0, len(p.live))
	for c := range p.live {
		live = append(live, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range live {
		c.shutdown()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		cl, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			cl.Close()
			return
		}
		p.stats.Conns++
		id := p.stats.Conns
		var f Fault
		if p.plan != nil {
			f = p.plan(id - p.planBase)
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.handle(id, cl, f)
		}()
	}
}

func (p *Proxy) handle(id int, cl net.Conn, f Fault) {
	if f.Refuse {
		p.event("conn %d: refused", id)
		cl.Close()
		return
	}
	sv, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		p.event("conn %d: dialing %s: %v", id, p.target, err)
		cl.Close()
		return
	}
	c := &conn{p: p, id: id, f: f, client: cl, server: sv, done: make(chan struct{}),
		down: make(chan item, 64), up: make(chan item, 64)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cl.Close()
		sv.Close()
		return
	}
	p.live[c] = struct{}{}
	p.mu.Unlock()
	c.run()
	p.mu.Lock()
	delete(p.live, c)
	p.mu.Unlock()
}

// item is a piece of a direction's output, due at a time.
type item struct {
	data []byte
	due  time.Time
	cut  bool // after data, shut the connection down
	eof  bool // after data, close this direction (half-close)
}

// conn is one proxied connection.
type conn struct {
	p              *Proxy
	id             int
	f              Fault
	client, server net.Conn
	done           chan struct{}
	closeOnce      sync.Once
	down, up       chan item // to the client, to the server
	stalled        atomic.Bool
	eofs           atomic.Int32 // directions whose source has closed

	// compressTag is the tag of the client's COMPRESS DEFLATE, while its
	// answer is awaited; opaque is set at the server's OK to it.
	compressTag atomic.Pointer[string]
	opaque      atomic.Bool

	// respMu is held by the server reader from the first byte of a
	// response to its last, so that a response the proxy makes up (a
	// rejection) never lands in the middle of one of the server's.
	respMu sync.Mutex

	// A synchronising literal announced by the client: whether the server
	// granted it (+) or refused it (tagged response).
	contMu    sync.Mutex
	contTag   string
	contState int
}

const (
	contWaiting = iota
	contGranted
	contRefused
)

func (c *conn) run() {
	var wg sync.WaitGroup
	wg.Add(4)
	down := newStream(c, ServerToClient)
	up := newStream(c, ClientToServer)
	go func() { defer wg.Done(); c.write(c.client, c.down) }()
	go func() { defer wg.Done(); c.write(c.server, c.up) }()
	// Triggers that fire before any byte (Skip 0 from the stream start).
	down.now, up.now = time.Now(), time.Now()
	ok := down.forward(nil) && up.forward(nil)
	if !ok {
		wg.Add(-2)
	} else {
		go func() { defer wg.Done(); down.read(c.server) }()
		go func() { defer wg.Done(); up.read(c.client) }()
	}
	wg.Wait()
}

func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.client.Close()
		c.server.Close()
	})
}

// write sends a direction's items to dst, each at its due time.
func (c *conn) write(dst net.Conn, q chan item) {
	for {
		select {
		case it := <-q:
			if d := time.Until(it.due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
			}
			if len(it.data) > 0 {
				if _, err := dst.Write(it.data); err != nil {
					c.shutdown()
					return
				}
			}
			if it.cut {
				c.shutdown()
				return
			}
			if it.eof {
				// The source closed: pass the close on. Once both
				// directions have ended the connection is over.
				if tc, ok := dst.(*net.TCPConn); ok && c.eofs.Add(1) < 2 {
					if tc.CloseWrite() == nil {
						return
					}
				}
				c.shutdown()
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *conn) queue(d Direction) chan item {
	if d == ClientToServer {
		return c.up
	}
	return c.down
}

// send queues data (copied) for direction d; false once the connection is
// gone.
func (c *conn) send(d Direction, data []byte, read time.Time, cut bool) bool {
	it := item{due: read.Add(c.f.Latency), cut: cut}
	if len(data) > 0 {
		it.data = append([]byte(nil), data...)
	}
	select {
	case c.queue(d) <- it:
		return true
	case <-c.done:
		return false
	}
}

func (c *conn) sendEOF(d Direction, read time.Time) {
	select {
	case c.queue(d) <- item{due: read.Add(c.f.Latency), eof: true}:
	case <-c.done:
	}
}

// inject sends a response the proxy made up to the client, between two of
// the server's responses.
func (c *conn) inject(line []byte, read time.Time) bool {
	c.respMu.Lock()
	defer c.respMu.Unlock()
	if c.stalled.Load() {
		return true
	}
	return c.send(ServerToClient, line, read, false)
}

func (c *conn) expectCont(tag string) {
	c.contMu.Lock()
	c.contTag, c.contState = tag, contWaiting
	c.contMu.Unlock()
}

// serverLine notes, at the start of each server response, whether it
// decides a pending synchronising literal.
func (c *conn) serverLine(line []byte) {
	c.contMu.Lock()
	defer c.contMu.Unlock()
	if c.contTag == "" || c.contState != contWaiting {
		return
	}
	if len(line) > 0 && line[0] == '+' {
		c.contState = contGranted
		return
	}
	if tag, _, _ := bytes.Cut(line, []byte(" ")); string(tag) == c.contTag {
		c.contState = contRefused
	}
}

// takeCont reports (and forgets) whether the pending literal was granted.
func (c *conn) takeCont() bool {
	c.contMu.Lock()
	defer c.contMu.Unlock()
	ok := c.contState == contGranted
	c.contTag, c.contState = "", contWaiting
	return ok
}

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
