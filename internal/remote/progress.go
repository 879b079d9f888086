package remote

import (
	"net"
	"sync/atomic"
	"time"
)

// progressConn turns the deadlines go-imap sets (30 s for a response, 5 min
// for a literal) into one rule: while a deadline is armed, each Read or Write
// must make progress within timeout. A large literal that keeps arriving is
// never cut off, and a stalled server fails after timeout rather than after
// whatever go-imap chose.
//
// It wraps the TCP connection under TLS, so the handshake and every TLS
// record are covered too.
//
// go-imap clears its read deadline between responses and then waits for the
// next one without any, so mailsync also marks the spans in which one of its
// commands is outstanding (begin/end): in those, reads are always bound by
// timeout, whatever go-imap set. An idle connection between commands has no
// deadline.
type progressConn struct {
	net.Conn
	timeout     time.Duration
	readArmed   atomic.Bool // go-imap armed a read deadline
	writeArmed  atomic.Bool
	inflight    atomic.Int32 // mailsync commands outstanding
	lastRefresh atomic.Int64 // unix nanos of the last read deadline refresh
	// activity is called after every read or write that moved bytes.
	activity func()
	// stalled is the timeout that ended a read: go-imap's reader tries
	// again after an error, and each try would wait another full timeout
	// (a silent server failed a NOOP after four), so every later read
	// fails with it at once. Only the reading goroutine touches it.
	stalled error
}

// begin marks a command as outstanding; the returned func ends the span.
// It also bounds a read that is already blocked waiting for the server.
func (c *progressConn) begin() func() {
	if c.inflight.Add(1) == 1 {
		now := time.Now()
		c.lastRefresh.Store(now.UnixNano())
		_ = c.Conn.SetReadDeadline(now.Add(c.timeout))
	}
	return func() {
		if c.inflight.Add(-1) == 0 && !c.readArmed.Load() {
			_ = c.Conn.SetReadDeadline(time.Time{})
		}
	}
}

func (c *progressConn) readBound() bool { return c.readArmed.Load() || c.inflight.Load() > 0 }

func newProgressConn(c net.Conn, timeout time.Duration) *progressConn {
	return &progressConn{Conn: c, timeout: timeout}
}

func (c *progressConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *progressConn) SetReadDeadline(t time.Time) error {
	c.readArmed.Store(!t.IsZero())
	if t.IsZero() && c.inflight.Load() == 0 {
		return c.Conn.SetReadDeadline(t)
	}
	now := time.Now()
	c.lastRefresh.Store(now.UnixNano())
	return c.Conn.SetReadDeadline(now.Add(c.timeout))
}

func (c *progressConn) SetWriteDeadline(t time.Time) error {
	c.writeArmed.Store(!t.IsZero())
	if t.IsZero() {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
}

func (c *progressConn) Read(p []byte) (int, error) {
	if c.stalled != nil {
		return 0, c.stalled
	}
	if c.readBound() {
		// Refreshing costs a syscall-free timer reset; still, bulk reads of
		// a literal come in many small calls, so refresh at most every
		// 1/16 of the timeout.
		now := time.Now()
		if now.UnixNano()-c.lastRefresh.Load() > int64(c.timeout/16) {
			c.lastRefresh.Store(now.UnixNano())
			_ = c.Conn.SetReadDeadline(now.Add(c.timeout))
		}
	}
	n, err := c.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.stalled = err
	}
	if n > 0 && c.activity != nil {
		c.activity()
	}
	return n, err
}

func (c *progressConn) Write(p []byte) (int, error) {
	if c.writeArmed.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Write(p)
	if n > 0 && c.activity != nil {
		c.activity()
	}
	return n, err
}
