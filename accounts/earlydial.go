package accounts

import (
	"context"
	gosync "sync"

	msync "mailsync/sync"
)

// earlyDial is a connection being opened ahead of the engine's first dial,
// and those opened ahead of its later dials (prewarm).
type earlyDial struct {
	next   func(context.Context) (msync.Remote, error)
	result chan dialResult
	// ctx is the dials' context; cancel ends it, and with it the
	// connections: only after the engine is done with them (or never
	// took them).
	ctx    context.Context
	cancel context.CancelFunc
	mu     gosync.Mutex
	taken  bool
	spare  []chan dialResult // the prewarmed dials not handed out yet
}

type dialResult struct {
	conn msync.Remote
	err  error
}

// startDial opens a connection with first, to be handed out by the
// engine's first dial; later dials call next.
func startDial(ctx context.Context, first, next func(context.Context) (msync.Remote, error)) *earlyDial {
	ctx, cancel := context.WithCancel(ctx)
	d := &earlyDial{next: next, result: make(chan dialResult, 1), ctx: ctx, cancel: cancel}
	go func() {
		c, err := first(ctx)
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

// prewarm starts n more dials with dial, whose connections the later
// calls of dial hand out before they dial anew (sync.Options.DialAhead).
func (d *earlyDial) prewarm(n int, dial func(context.Context) (msync.Remote, error)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range n {
		ch := make(chan dialResult, 1)
		d.spare = append(d.spare, ch)
		go func() {
			c, err := dial(d.ctx)
			ch <- dialResult{c, err}
		}()
	}
}

// dial hands out the early connection once, then the prewarmed ones, then
// dials anew.
func (d *earlyDial) dial(ctx context.Context) (msync.Remote, error) {
	result := d.result
	if !d.take() {
		d.mu.Lock()
		if len(d.spare) == 0 {
			d.mu.Unlock()
			return d.next(ctx)
		}
		result = d.spare[0]
		d.spare = d.spare[1:]
		d.mu.Unlock()
	}
	select {
	case r := <-result:
		return r.conn, r.err
	case <-ctx.Done():
		go drain(result)
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
		drain(d.result)
	}
	d.mu.Lock()
	spare := d.spare
	d.spare = nil
	d.mu.Unlock()
	for _, ch := range spare {
		drain(ch)
	}
}

// drain closes the connection a dial delivers on result, if it opens one.
func drain(result <-chan dialResult) {
	if r := <-result; r.err == nil {
		r.conn.Close()
	}
}
