package progress

import (
	"strings"
	gosync "sync"
	"testing"
	"time"

	msync "mailsync/sync"
)

// clock is a hand-moved time, read by the display's goroutines.
type clock struct {
	mu gosync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ev(k msync.EventKind, f string) msync.Event {
	return msync.Event{Account: "a", Folder: f, Kind: k}
}

func planned(f string, pulls, pushes int) msync.Event {
	e := ev(msync.FolderPlanned, f)
	e.Pulls, e.Pushes, e.Total = pulls, pushes, pulls+pushes
	return e
}

func moved(f string, dir msync.Direction, n int, bytes int64) msync.Event {
	e := ev(msync.Transferred, f)
	e.Dir, e.N, e.Bytes = dir, n, bytes
	return e
}

// TestAccountLine follows an account through two folders in parallel, one
// of which fails part way, and checks each column of its line.
func TestAccountLine(t *testing.T) {
	c := newClock()
	a := newAccount()
	check := func(what, wantFolder, wantCounts string, wantDone, wantTotal int64) {
		t.Helper()
		if got := a.folder(); got != wantFolder {
			t.Errorf("%s: folder column %q, want %q", what, got, wantFolder)
		}
		if got := a.counts(c.now()); got != wantCounts {
			t.Errorf("%s: counts %q, want %q", what, got, wantCounts)
		}
		if done, total := a.fraction(); done != wantDone || total != wantTotal {
			t.Errorf("%s: bar at %d/%d, want %d/%d", what, done, total, wantDone, wantTotal)
		}
	}
	check("before any event", "", "checking", 0, 0)

	a.event(ev(msync.FolderStarted, "INBOX"), c.now())
	a.event(planned("INBOX", 40, 0), c.now())
	check("planned", "INBOX", "↓ 0/40 0 B ETA -", 0, 40)

	c.advance(2 * time.Second)
	a.event(moved("INBOX", msync.Pull, 10, 20<<10), c.now())
	// 10 messages in 2 s: the other 30 take 6 s.
	check("first pull", "INBOX", "↓ 10/40 20.0 KiB 10.0 KiB/s ETA 6s", 10, 40)

	a.event(ev(msync.FolderStarted, "Work"), c.now())
	a.event(planned("Work", 0, 2), c.now())
	check("second folder", "Work +1", "↓ 10/40 20.0 KiB 10.0 KiB/s ETA 6s   ↑ 0/2 0 B ETA -", 10, 42)

	c.advance(time.Second)
	a.event(moved("Work", msync.Push, 2, 3<<20), c.now())
	a.event(ev(msync.FolderFinished, "Work"), c.now())
	// The pull's clock ran on (30 outstanding), the push's stopped with
	// nothing left.
	check("push done", "INBOX", "↓ 10/40 20.0 KiB 6.7 KiB/s ETA 9s   ↑ 2/2 3.0 MiB 3.0 MiB/s", 12, 42)

	a.event(moved("INBOX", msync.Pull, 5, 10<<10), c.now())
	a.event(ev(msync.FolderFinished, "INBOX"), c.now())
	// INBOX failed with 25 of its 40 not pulled: they leave the total.
	check("folder failed", "INBOX", "↓ 15/15 30.0 KiB 10.0 KiB/s   ↑ 2/2 3.0 MiB 3.0 MiB/s", 17, 17)

	c.advance(time.Hour)
	a.stop(c.now())
	// An hour with nothing outstanding changes no rate.
	check("stopped", "done", "↓ 15/15 30.0 KiB 10.0 KiB/s   ↑ 2/2 3.0 MiB 3.0 MiB/s", 17, 17)
}

// TestRateSkipsIdleTime: time with nothing outstanding in a direction (the
// folders between that had nothing to pull) is not in its rate.
func TestRateSkipsIdleTime(t *testing.T) {
	c := newClock()
	a := newAccount()
	a.event(ev(msync.FolderStarted, "A"), c.now())
	a.event(planned("A", 2, 0), c.now())
	c.advance(time.Second)
	a.event(moved("A", msync.Pull, 2, 2048), c.now())
	a.event(ev(msync.FolderFinished, "A"), c.now())
	c.advance(time.Minute) // comparing other folders' flags
	a.event(ev(msync.FolderStarted, "B"), c.now())
	a.event(planned("B", 2, 0), c.now())
	c.advance(time.Second)
	a.event(moved("B", msync.Pull, 1, 1024), c.now())
	// 3 messages, 3 KiB in 2 s of pulling.
	if got, want := a.counts(c.now()), "↓ 3/4 3.0 KiB 1.5 KiB/s ETA 1s"; got != want {
		t.Errorf("counts %q, want %q", got, want)
	}
	// A run cut short ends without an ETA.
	a.stop(c.now())
	if got, want := a.counts(c.now()), "↓ 3/4 3.0 KiB 1.5 KiB/s"; got != want {
		t.Errorf("stopped: counts %q, want %q", got, want)
	}
}

// TestNothingToTransfer: a run that moved nothing ends saying so.
func TestNothingToTransfer(t *testing.T) {
	c := newClock()
	a := newAccount()
	a.event(ev(msync.FolderStarted, "INBOX"), c.now())
	a.event(planned("INBOX", 0, 0), c.now())
	a.event(ev(msync.FolderFinished, "INBOX"), c.now())
	a.stop(c.now())
	if got := a.counts(c.now()); got != "nothing to transfer" {
		t.Errorf("counts %q", got)
	}
}

func TestFormats(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{size(0), "0 B"},
		{size(1023), "1023 B"},
		{size(1536), "1.5 KiB"},
		{size(5 << 30), "5.0 GiB"},
		{eta(1400 * time.Millisecond), "1s"},
		{eta(65 * time.Second), "1m5s"},
		{eta(2*time.Hour + 10*time.Minute + 20*time.Second), "2h10m"},
		{truncate("INBOX", 5), "INBOX"},
		{truncate("Archiv/2024/Überweisungen", 10), "Archiv/20…"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if long := strings.Repeat("x", 100); len([]rune(truncate(long, folderWidth))) != folderWidth {
		t.Errorf("truncate: %q is not %d runes", truncate(long, folderWidth), folderWidth)
	}
}
