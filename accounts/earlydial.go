package accounts

import (
	"context"
	gosync "sync"

	msync "mailsync/sync"
)

// earlyDial is a connection being opened ahead of the engine's first dial.
type earlyDial struct {
	next   func(context.Context) (msync.Remote, error)
	result chan dialResult
	// cancel ends the dial's context, and with it the connection: only
	// after the engine is done with it (or never took it).
	cancel context.CancelFunc
	mu     gosync.Mutex
	taken  bool
}

type dialResult struct {
	conn msync.Remote
	err  error
}

// startDial opens a connection with first, to be handed out by the
// engine's first dial; later dials call next.
func startDial(ctx context.Context, first, next func(context.Context) (msync.Remote, error)) *earlyDial {
	dial := first
	ctx, cancel := context.WithCancel(ctx)
	d := &earlyDial{next: next, result: make(chan dialResult, 1), cancel: cancel}
	go func() {
		c, err := dial(ctx)
		d.result <- dialResult{c, err}
	}()
	return d
}

// take reports whether this is the first call of dial or discard: the one
// that gets the early connection.
func (d *earlyDial) take() (first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	first = !d.taken
	d.taken = true
	return first
}

// dial hands out the early connection once, then dials anew.
func (d *earlyDial) dial(ctx context.Context) (msync.Remote, error) {
	if !d.take() {
		return d.next(ctx)
	}
	select {
	case r := <-d.result:
		return r.conn, r.err
	case <-ctx.Done():
		go d.drain()
		return nil, ctx.Err()
	}
}

// discard ends the early dial. If the engine never took the connection
// (the lock was held, the state could not be opened), it is abandoned
// without waiting for a slow server; the engine closes the ones it took.
func (d *earlyDial) discard() {
	first := d.take()
	d.cancel()
	if first {
		d.drain()
	}
}

func (d *earlyDial) drain() {
	if r := <-d.result; r.err == nil {
		r.conn.Close()
	}
}
