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
type progressConn struct {
	net.Conn
	timeout     time.Duration
	readArmed   atomic.Bool
	writeArmed  atomic.Bool
	lastRefresh atomic.Int64 // unix nanos of the last read deadline refresh
}

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
	if t.IsZero() {
		return c.Conn.SetReadDeadline(t)
	}
	return c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
}

func (c *progressConn) SetWriteDeadline(t time.Time) error {
	c.writeArmed.Store(!t.IsZero())
	if t.IsZero() {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
}

func (c *progressConn) Read(p []byte) (int, error) {
	if c.readArmed.Load() {
		// Refreshing costs a syscall-free timer reset; still, bulk reads of
		// a literal come in many small calls, so refresh at most every
		// 1/16 of the timeout.
		now := time.Now()
		if now.UnixNano()-c.lastRefresh.Load() > int64(c.timeout/16) {
			c.lastRefresh.Store(now.UnixNano())
			_ = c.Conn.SetReadDeadline(now.Add(c.timeout))
		}
	}
	return c.Conn.Read(p)
}

func (c *progressConn) Write(p []byte) (int, error) {
	if c.writeArmed.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	return c.Conn.Write(p)
}
