package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
)

// CanIdle reports IDLE support (RFC 2177, part of IMAP4rev2).
func (c *Conn) CanIdle() bool { return c.caps.Has(imap.CapIdle) || c.caps.Has(imap.CapIMAP4rev2) }

// Idle waits in IDLE on the selected mailbox until the server reports a
// change to it (a new message, an expunge, a flag change), keepalive has
// passed, or ctx ends; changed tells whether a change ended it. A change
// reported since the mailbox was selected, or since the last Idle or Poll,
// ends it at once.
//
// The wait itself is not a command in flight: a quiet server is what IDLE
// expects, and the timeout does not apply. Entering IDLE and leaving it
// (DONE, then the tagged answer) are bound by the timeout, so a connection
// that died unnoticed fails within keepalive plus timeout. Callers re-issue
// Idle in a loop; each return that is not an error is a fresh IDLE next.
func (c *Conn) Idle(ctx context.Context, keepalive time.Duration) (changed bool, err error) {
	if c.takeChange() {
		return true, nil
	}
	enter := c.busy()
	cmd, err := c.c.Idle()
	enter()
	if err != nil {
		return false, fmt.Errorf("IDLE: %w", err)
	}
	timer := time.NewTimer(keepalive)
	defer timer.Stop()
	select {
	case <-c.changes:
		changed = true
	case <-timer.C:
	case <-ctx.Done():
	case <-c.c.Closed():
	}
	defer c.busy()()
	if err := cmd.Close(); err != nil {
		return changed, fmt.Errorf("IDLE: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return changed, fmt.Errorf("IDLE: %w", err)
	}
	// What arrived between the wake-up and DONE's answer is seen next time.
	return changed, ctx.Err()
}

// Poll sends a NOOP, which lets a server without IDLE report changes, and
// reports whether a change to the selected mailbox was reported since it
// was selected or since the last Idle or Poll.
func (c *Conn) Poll(ctx context.Context) (changed bool, err error) {
	if err := c.Noop(ctx); err != nil {
		return false, fmt.Errorf("NOOP: %w", err)
	}
	return c.takeChange(), nil
}

func (c *Conn) takeChange() bool {
	select {
	case <-c.changes:
		return true
	default:
		return false
	}
}
