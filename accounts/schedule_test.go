package accounts

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mailsync/internal/lock"
	msync "mailsync/sync"
)

func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		rnd  float64
		want time.Duration
	}{
		{1, 0, 30 * time.Second},
		{2, 0, time.Minute},
		{3, 0, 2 * time.Minute},
		{5, 0, 8 * time.Minute},
		{6, 0, 15 * time.Minute}, // 16 min, capped
		{100, 0, 15 * time.Minute},
		{1, 0.5, 33 * time.Second},
		// up to a fifth more
		{1, 0.999, 30*time.Second + 5994*time.Millisecond},
		{5, 0.999, 8*time.Minute + 95904*time.Millisecond},
		// the random part does not go over the cap either
		{6, 0.999, 15 * time.Minute},
		{100, 0.999, 15 * time.Minute},
	} {
		got := backoff(tc.n, fixed(tc.rnd))
		// float rounding may cost a nanosecond or so
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.rnd, got, tc.want)
		}
	}
	// With the real random source: between the base and a fifth more.
	for range 50 {
		if got := backoff(2, nil); got < time.Minute || got > time.Minute+12*time.Second {
			t.Fatalf("backoff(2, nil) = %v, want within [1m, 1m12s]", got)
		}
	}
}

func TestJitter(t *testing.T) {
	for _, tc := range []struct {
		max  time.Duration
		rnd  float64
		want time.Duration
	}{
		{0, 0.5, 0},
		{-time.Second, 0.5, 0},
		{10 * time.Second, 0, 0},
		{10 * time.Second, 0.5, 5 * time.Second},
		{10 * time.Second, 0.25, 2500 * time.Millisecond},
	} {
		if got := jitter(tc.max, fixed(tc.rnd)); got != tc.want {
			t.Errorf("jitter(%v, %v) = %v, want %v", tc.max, tc.rnd, got, tc.want)
		}
	}
	for range 50 {
		if got := jitter(time.Second, nil); got < 0 || got >= time.Second {
			t.Fatalf("jitter(1s, nil) = %v, want within [0, 1s)", got)
		}
	}
}

func TestWorkMerge(t *testing.T) {
	a, b := make(chan Result), make(chan Result)
	w := work{folders: folderSet("INBOX"), waiters: []chan<- Result{a}}
	if w.empty() {
		t.Fatal("work with a folder is empty")
	}
	o := work{folders: folderSet("Work"), idle: true, waiters: []chan<- Result{b}}
	w.merge(o)
	want := work{folders: folderSet("INBOX", "Work"), idle: true, waiters: []chan<- Result{a, b}}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("merged %+v, want %+v", w, want)
	}

	// Flags only ever turn on.
	w.merge(work{all: true, full: true, force: true, allowMassDelete: true})
	w.merge(work{})
	if !w.all || !w.full || !w.force || !w.allowMassDelete || !w.idle {
		t.Errorf("flags after merging: %+v", w)
	}

	var z work
	if !z.empty() {
		t.Error("zero work is not empty")
	}
	o = work{folders: folderSet("INBOX")}
	z.merge(o)
	if !reflect.DeepEqual(z.folders, folderSet("INBOX")) {
		t.Errorf("merge into zero work: folders %v", z.folders)
	}
	// z has its own set: what is merged into it later does not reach o.
	z.merge(work{folders: folderSet("Spam")})
	if o.folders["Spam"] {
		t.Error("merge shares the other work's folder set")
	}
	z = work{}
	z.merge(work{all: true})
	if z.empty() {
		t.Error("work for every folder is empty")
	}
}

func TestWorkCycle(t *testing.T) {
	waiter := []chan<- Result{make(chan Result, 1)}
	for _, tc := range []struct {
		name string
		w    work
		mode Mode
		req  msync.Request
	}{
		{"all full", work{all: true, full: true}, ModeFull, msync.Request{}},
		{"all quick", work{all: true}, ModeQuick, msync.Request{Quick: true}},
		// all wins over folders merged in
		{"all with folders", work{all: true, full: true, folders: folderSet("INBOX")}, ModeFull, msync.Request{}},
		{"all, idle merged in", work{all: true, full: true, idle: true, folders: folderSet("INBOX")}, ModeFull, msync.Request{}},
		{"idle", work{folders: folderSet("Work", "INBOX"), full: true, idle: true}, ModeIdle,
			msync.Request{Folders: []string{"INBOX", "Work"}}},
		{"local", work{folders: folderSet("Work", "INBOX", "A"), full: true}, ModeLocal,
			msync.Request{Folders: []string{"A", "INBOX", "Work"}}},
		{"asked full", work{folders: folderSet("Work", "INBOX"), full: true, idle: true, waiters: waiter}, ModeFull,
			msync.Request{Folders: []string{"INBOX", "Work"}}},
		{"asked quick", work{folders: folderSet("INBOX"), waiters: waiter}, ModeQuick,
			msync.Request{Folders: []string{"INBOX"}, Quick: true}},
		{"mass delete", work{all: true, full: true, allowMassDelete: true, waiters: waiter}, ModeFull,
			msync.Request{AllowMassDelete: true}},
		{"mass delete, folders", work{folders: folderSet("INBOX"), allowMassDelete: true, waiters: waiter}, ModeQuick,
			msync.Request{Folders: []string{"INBOX"}, Quick: true, AllowMassDelete: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, req := tc.w.cycle()
			if mode != tc.mode || !reflect.DeepEqual(req, tc.req) {
				t.Errorf("cycle() = %s %+v, want %s %+v", mode, req, tc.mode, tc.req)
			}
		})
	}
}

func TestNeedsBackoff(t *testing.T) {
	acctErr := func(err error) error { return &msync.AccountError{Account: "t", Err: err} }
	folderErr := func(folder string, err error) error {
		return &msync.FolderError{Account: "t", Folder: folder, Err: err}
	}
	dropped := errors.New("connection reset by peer")
	massDelete := fmt.Errorf("would delete 30 of 40: %w", msync.ErrMassDelete)
	// failed builds a summary whose folders failed with errs (nil: ok).
	failed := func(errs map[string]error) *msync.Summary {
		s := &msync.Summary{Account: "t"}
		for _, f := range []string{"INBOX", "Work"} {
			err, ok := errs[f]
			if !ok {
				continue
			}
			s.Folders = append(s.Folders, msync.FolderResult{Folder: f, Err: err})
			if err != nil {
				s.Errors = append(s.Errors, err)
			}
		}
		return s
	}
	for _, tc := range []struct {
		name string
		r    Result
		want bool
	}{
		{"ok", Result{Summary: failed(map[string]error{"INBOX": nil, "Work": nil})}, false},
		{"nothing", Result{}, false},
		{"locked", Result{Locked: true, Err: acctErr(lock.ErrHeld)}, false},
		{"account error", Result{Err: acctErr(dropped)}, true},
		{"presync failed", Result{Skipped: true, Err: acctErr(errors.New("presync_hook exited with status 1"))}, true},
		{"unmounted", Result{Err: acctErr(fmt.Errorf("local root: %w", msync.ErrUnmounted))}, true},
		{"every folder dropped", Result{Summary: failed(map[string]error{
			"INBOX": folderErr("INBOX", dropped), "Work": folderErr("Work", dropped)})}, true},
		{"one folder ok", Result{Summary: failed(map[string]error{
			"INBOX": nil, "Work": folderErr("Work", dropped)})}, false},
		{"only safety stops", Result{Summary: failed(map[string]error{
			"INBOX": folderErr("INBOX", massDelete), "Work": folderErr("Work", massDelete)})}, false},
		{"one safety stop", Result{Summary: failed(map[string]error{"INBOX": folderErr("INBOX", massDelete)})}, false},
		// failed while planning: an error, no folder result
		{"planning failed", Result{Summary: &msync.Summary{Errors: []error{folderErr("INBOX", dropped)}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := needsBackoff(tc.r); got != tc.want {
				t.Errorf("needsBackoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 3, 11, 0, time.UTC)
	retry := time.Date(2025, 3, 1, 12, 10, 0, 0, time.UTC)
	for _, tc := range []struct {
		s    AccountStatus
		want string
	}{
		{AccountStatus{Name: "personal", State: StateIdle, Idle: []string{"INBOX"}, LastSync: at, LastResult: "ok"},
			"personal: idle (INBOX), synced 12:03:11"},
		{AccountStatus{Name: "p", State: StateIdle, Idle: []string{"INBOX", "Work"}, LastSync: at, LastResult: "error"},
			"p: idle (INBOX, Work), failed 12:03:11"},
		{AccountStatus{Name: "work", State: StateSyncing, Done: 340, Total: 1200, LastSync: at, LastResult: "ok"},
			"work: syncing 340/1200"},
		{AccountStatus{Name: "work", State: StateSyncing}, "work: syncing"},
		{AccountStatus{Name: "work", State: StateBackoff, NextSync: retry, LastSync: at, LastResult: "error", Failures: 2},
			"work: error, retry at 12:10:00"},
		{AccountStatus{Name: "new", State: StateWaiting}, "new: waiting"},
		{AccountStatus{Name: "w", State: StateWaiting, LastSync: at, LastResult: "ok"}, "w: waiting, synced 12:03:11"},
		{AccountStatus{Name: "s", State: StateStopped, LastSync: at, LastResult: "error"}, "s: stopped, failed 12:03:11"},
	} {
		if got := tc.s.statusLine(); got != tc.want {
			t.Errorf("statusLine() = %q, want %q", got, tc.want)
		}
	}

	got := StatusText([]AccountStatus{
		{Name: "personal", State: StateIdle, Idle: []string{"INBOX"}, LastSync: at, LastResult: "ok"},
		{Name: "work", State: StateSyncing, Done: 340, Total: 1200},
	})
	if want := "personal: idle (INBOX), synced 12:03:11; work: syncing 340/1200"; got != want {
		t.Errorf("StatusText = %q, want %q", got, want)
	}
	if got := StatusText(nil); got != "" {
		t.Errorf("StatusText(nil) = %q", got)
	}
}

// acquireAsync runs s.acquire in a goroutine; its answer comes on the
// channel.
func acquireAsync(ctx context.Context, s *slots, stop <-chan struct{}) <-chan bool {
	ch := make(chan bool, 1)
	go func() { ch <- s.acquire(ctx, stop) }()
	return ch
}

// blocked checks that ch has no answer yet, giving a wrong one a moment
// to show.
func blocked(t *testing.T, ch <-chan bool, what string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("%s: acquire returned %v, want it to wait", what, got)
	case <-time.After(50 * time.Millisecond):
	}
}

func answer(t *testing.T, ch <-chan bool, what string) bool {
	t.Helper()
	select {
	case got := <-ch:
		return got
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: acquire still waits", what)
		return false
	}
}

func TestSlots(t *testing.T) {
	ctx := context.Background()
	never := make(chan struct{})

	t.Run("release wakes a waiter", func(t *testing.T) {
		s := newSlots(1)
		if !s.acquire(ctx, never) {
			t.Fatal("first acquire failed")
		}
		ch := acquireAsync(ctx, s, never)
		blocked(t, ch, "second of one slot")
		s.release()
		if !answer(t, ch, "after release") {
			t.Error("acquire after release returned false")
		}
	})

	t.Run("growing the limit wakes a waiter", func(t *testing.T) {
		s := newSlots(1)
		s.acquire(ctx, never)
		ch := acquireAsync(ctx, s, never)
		blocked(t, ch, "second of one slot")
		s.setLimit(2)
		if !answer(t, ch, "after setLimit(2)") {
			t.Error("acquire after setLimit(2) returned false")
		}
		// Both slots are taken now.
		ch = acquireAsync(ctx, s, never)
		blocked(t, ch, "third of two slots")
		// Shrinking takes no slot back: one release of two leaves the
		// limit of one reached.
		s.setLimit(1)
		s.release()
		blocked(t, ch, "two used, one released, limit 1")
		s.release()
		if !answer(t, ch, "after both released") {
			t.Error("acquire returned false")
		}
	})

	t.Run("limit at least one", func(t *testing.T) {
		s := newSlots(0)
		if !answer(t, acquireAsync(ctx, s, never), "limit 0") {
			t.Fatal("acquire returned false")
		}
		s.setLimit(-1)
		s.release()
		if !answer(t, acquireAsync(ctx, s, never), "limit -1") {
			t.Fatal("acquire returned false")
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		s := newSlots(1)
		s.acquire(ctx, never)
		cctx, cancel := context.WithCancel(ctx)
		ch := acquireAsync(cctx, s, never)
		blocked(t, ch, "before cancel")
		cancel()
		if answer(t, ch, "after cancel") {
			t.Error("acquire returned true after its context ended")
		}
	})

	t.Run("stopped", func(t *testing.T) {
		s := newSlots(1)
		s.acquire(ctx, never)
		stop := make(chan struct{})
		ch := acquireAsync(ctx, s, stop)
		blocked(t, ch, "before stop")
		close(stop)
		if answer(t, ch, "after stop") {
			t.Error("acquire returned true after stop")
		}
		// The failed acquire took no slot.
		s.release()
		if !answer(t, acquireAsync(ctx, s, never), "after release") {
			t.Error("acquire returned false")
		}
	})
}

// fakeClocks are a wall and a monotonic clock that tests move by hand.
type fakeClocks struct {
	wall time.Time
	mono time.Duration
}

func (c *fakeClocks) advance(wall, mono time.Duration) {
	c.wall = c.wall.Add(wall)
	c.mono += mono
}

func TestResumeDetector(t *testing.T) {
	for _, tc := range []struct {
		name       string
		wall, mono time.Duration // how far each clock moves
		resumed    bool
		slept      time.Duration
	}{
		{"no jump", resumeTick, resumeTick, false, 0},
		{"suspended 2 min", resumeTick + 2*time.Minute, resumeTick, true, 2 * time.Minute},
		{"NTP step ahead", resumeTick + time.Second, resumeTick, false, time.Second},
		{"NTP step back", resumeTick - time.Second, resumeTick, false, -time.Second},
		{"just the slack", resumeTick + resumeSlack, resumeTick, false, resumeSlack},
		{"just over the slack", resumeTick + resumeSlack + time.Millisecond, resumeTick, true, resumeSlack + time.Millisecond},
		// a late tick that the wall clock agrees with
		{"late tick", time.Hour, time.Hour, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClocks{wall: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), mono: 42 * time.Second}
			d := newResumeDetector(func() time.Time { return c.wall }, func() time.Duration { return c.mono })
			c.advance(tc.wall, tc.mono)
			slept, resumed := d.check()
			if resumed != tc.resumed || slept != tc.slept {
				t.Errorf("check() = %v, %v; want %v, %v", slept, resumed, tc.slept, tc.resumed)
			}
			// The next tick compares with this one: a resume is told once.
			c.advance(resumeTick, resumeTick)
			if slept, resumed := d.check(); resumed || slept != 0 {
				t.Errorf("the tick after: check() = %v, %v; want 0, false", slept, resumed)
			}
		})
	}
}
