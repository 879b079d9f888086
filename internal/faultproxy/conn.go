package faultproxy

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

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

	// held, with Fault.HoldUntil, is closed once the client has sent the
	// line; the server's responses after the greeting wait for it.
	held     chan struct{}
	release  sync.Once
	answered bool // the server reader has passed the greeting

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
