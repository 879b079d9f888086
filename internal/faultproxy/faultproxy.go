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
//   - Hold the server's responses after its greeting until the client has
//     sent a given line: proof that a client pipelines that line behind
//     commands whose answers it has not seen.
//
// To do the last four the proxy follows the IMAP framing in both
// directions: lines, and literals ({n}, {n+}, ~{n}) announced at the end of
// a line. It does not parse anything else; bytes it does not change are
// forwarded exactly. A line is forwarded once it is complete (literal data
// as it arrives); a partial line is forwarded when its sender closes. A synchronising client literal ({n}) is sent by the
// client only after the server's "+" continuation, so the proxy watches the
// server's answer to tell whether the literal will follow.
package faultproxy

import (
	"fmt"
	"net"
	"sync"
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
	// HoldUntil, if set, holds every server response after the greeting
	// until the client has sent a line containing it. A client that waits
	// for an answer before sending that line waits forever, or until its
	// timeout.
	HoldUntil string
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
	if f.HoldUntil != "" {
		c.held = make(chan struct{})
	}
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
