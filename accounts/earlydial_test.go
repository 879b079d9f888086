package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"mailsync/config"
	"mailsync/internal/lock"
	msync "mailsync/sync"
)

// fakeConn stands for a logged-in connection; only Close is used here.
type fakeConn struct {
	msync.Remote
	id     int
	mu     gosync.Mutex
	closed bool
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// countingDialer hands out numbered fakeConns.
type countingDialer struct {
	mu    gosync.Mutex
	conns []*fakeConn
}

func (d *countingDialer) dial(ctx context.Context) (msync.Remote, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &fakeConn{id: len(d.conns) + 1}
	d.conns = append(d.conns, c)
	return c, nil
}

func TestEarlyDialHandsOutItsConnectionOnce(t *testing.T) {
	var d countingDialer
	early := startDial(context.Background(), d.dial, d.dial)
	ctx := context.Background()
	c1, err := early.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := early.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c1.(*fakeConn).id != 1 || c2.(*fakeConn).id != 2 {
		t.Errorf("got connections %d and %d, want the early one (1), then a new one (2)", c1.(*fakeConn).id, c2.(*fakeConn).id)
	}
	early.discard()
	if c1.(*fakeConn).isClosed() {
		t.Error("discard closed a connection the engine had taken")
	}
}

// TestEarlyDialPrewarm: the connections prewarm opens are handed out
// before any is dialed anew, and discard closes those never taken.
func TestEarlyDialPrewarm(t *testing.T) {
	var d countingDialer
	ctx := context.Background()
	early := startDial(ctx, d.dial, d.dial)
	c1, err := early.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	early.prewarm(2, d.dial)
	c2, err := early.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	dialed := len(d.conns)
	d.mu.Unlock()
	if id := c2.(*fakeConn).id; id < 2 || id > 3 || dialed > 3 {
		t.Fatalf("second connection %d of %d dialed; want a prewarmed one (2 or 3) and no new one", id, dialed)
	}
	early.discard()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) != 3 {
		t.Fatalf("%d connections dialed; want the early one and two prewarmed", len(d.conns))
	}
	for _, c := range d.conns {
		if taken := c == c1 || c == c2; c.isClosed() == taken {
			t.Errorf("connection %d: closed %v; discard must close the untaken prewarmed one and only it", c.id, c.isClosed())
		}
	}
}

func TestEarlyDialDiscardClosesAnUntakenConnection(t *testing.T) {
	var d countingDialer
	early := startDial(context.Background(), d.dial, d.dial)
	early.discard()
	if len(d.conns) != 1 || !d.conns[0].isClosed() {
		t.Errorf("early connection not closed by discard: %+v", d.conns)
	}
}

// The account's lock is held by another run: the result says so, and
// no connection is opened at all, nor a hook run.
func TestSyncAccountLockedDialsNothing(t *testing.T) {
	dir := t.TempDir()
	l, err := lock.TryAcquire(filepath.Join(dir, "a.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var d countingDialer
	dial := func(ctx context.Context, _ *config.Account) (msync.Remote, error) { return d.dial(ctx) }
	hooked := filepath.Join(dir, "hooked")
	acct := &config.Account{Name: "a", Hooks: config.Hooks{Presync: "touch " + hooked, Postsync: "touch " + hooked, Timeout: time.Minute}}
	a := &Account{cfg: acct, stateDir: dir, dial: dial}
	r := a.Sync(context.Background(), Cycle{Mode: ModeFull})
	if !r.Locked || !errors.Is(r.Err, lock.ErrHeld) {
		t.Errorf("result %+v, want locked", r)
	}
	if len(d.conns) != 0 {
		t.Errorf("a locked-out cycle opened %d connections", len(d.conns))
	}
	if _, err := os.Stat(hooked); err == nil {
		t.Error("a locked-out cycle ran a hook")
	}
}
