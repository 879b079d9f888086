package progress

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/creack/pty"

	msync "mailsync/sync"
)

// frameSep is what mpb writes before redrawing: cursor up over the last
// frame, then erase to the end of the screen.
var frameSep = regexp.MustCompile("\x1b\\[\\d+A\x1b\\[J")

// recorder is the display's output: mpb writes each frame, log lines
// above it included, in one Write.
type recorder struct {
	mu     gosync.Mutex
	all    bytes.Buffer
	writes chan string
}

func newRecorder() *recorder { return &recorder{writes: make(chan string, 100)} }

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all.Write(b)
	r.writes <- string(b)
	return len(b), nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all.String()
}

// harness drives a Display frame by frame.
type harness struct {
	t     *testing.T
	d     *Display
	out   *recorder
	ticks chan time.Time
	clock *clock
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, out: newRecorder(), ticks: make(chan time.Time), clock: newClock()}
	h.d = New(h.out, Options{Now: h.clock.now, Frames: h.ticks, Width: 120})
	t.Cleanup(h.d.Stop)
	return h
}

// frame asks for a frame and returns it, without the escape codes that
// move back over the one before.
func (h *harness) frame() string {
	h.t.Helper()
	h.ticks <- h.clock.now()
	return h.written()
}

// written returns the display's next write.
func (h *harness) written() string {
	h.t.Helper()
	select {
	case s := <-h.out.writes:
		return frameSep.ReplaceAllString(s, "")
	case <-time.After(10 * time.Second):
		h.t.Fatalf("no frame drawn; output so far %q", h.out.String())
		return ""
	}
}

func (h *harness) event(acct string, e msync.Event) {
	e.Account = acct
	h.d.Event(e)
}

// lines splits a frame into its lines.
func lines(frame string) []string { return strings.Split(strings.TrimSuffix(frame, "\n"), "\n") }

// TestFramesFollowEvents: each account has a line of its own with its
// folder and growing counts, and the last frame, drawn by Stop, has the
// totals.
func TestFramesFollowEvents(t *testing.T) {
	h := newHarness(t)
	h.event("home", ev(msync.FolderStarted, "INBOX"))
	h.event("home", planned("INBOX", 300, 0))
	h.event("work", ev(msync.FolderStarted, "Sent"))
	h.event("work", planned("Sent", 0, 4))
	h.clock.advance(time.Second)
	h.event("home", moved("INBOX", msync.Pull, 32, 64<<10))

	f := lines(h.frame())
	if len(f) != 2 {
		t.Fatalf("frame has %d lines, want one per account: %q", len(f), f)
	}
	for i, want := range []string{`^home +INBOX +\[.*\] ↓ 32/300 64\.0 KiB 64\.0 KiB/s ETA 8s$`, `^work +Sent +\[.*\] ↑ 0/4 0 B ETA -$`} {
		if !regexp.MustCompile(want).MatchString(f[i]) {
			t.Errorf("line %d: %q does not match %s", i, f[i], want)
		}
	}

	h.clock.advance(time.Second)
	h.event("home", moved("INBOX", msync.Pull, 100, 200<<10))
	h.event("work", moved("Sent", msync.Push, 4, 4<<10))
	h.event("work", ev(msync.FolderFinished, "Sent"))
	f = lines(h.frame())
	if len(f) != 2 || !strings.Contains(f[0], "↓ 132/300 ") || !strings.Contains(f[1], "↑ 4/4 ") {
		t.Errorf("second frame: %q; want 132/300 pulled and 4/4 pushed", f)
	}

	h.event("home", moved("INBOX", msync.Pull, 168, 336<<10))
	h.event("home", ev(msync.FolderFinished, "INBOX"))
	h.d.Stop()
	f = lines(h.written())
	if len(f) != 2 || !strings.Contains(f[0], "done") || !strings.Contains(f[0], "↓ 300/300 600.0 KiB") ||
		!strings.Contains(f[1], "↑ 4/4 4.0 KiB") || strings.Contains(f[0]+f[1], "ETA") {
		t.Errorf("last frame: %q; want both accounts done with their totals and no ETA", f)
	}
	// The last frame's bars are full.
	if !strings.Contains(f[0], "[====") || strings.Contains(f[0], "-]") {
		t.Errorf("last frame's bar is not full: %q", f[0])
	}
}

// TestLogAboveBars: a log line written while the bars are drawn is printed
// whole, above them, and one written after Stop goes straight out.
func TestLogAboveBars(t *testing.T) {
	h := newHarness(t)
	h.event("home", ev(msync.FolderStarted, "INBOX"))
	h.frame()
	if _, err := io.WriteString(h.d.Log(), "12:00:00 WRN a warning\n"); err != nil {
		t.Fatal(err)
	}
	f := lines(h.frame())
	if len(f) != 2 || f[0] != "12:00:00 WRN a warning" || !strings.HasPrefix(f[1], "home") {
		t.Errorf("frame after a log line: %q; want the line, then the bar", f)
	}
	h.d.Stop()
	h.written() // the last frame
	if _, err := io.WriteString(h.d.Log(), "later\n"); err != nil {
		t.Fatal(err)
	}
	if got := h.written(); got != "later\n" {
		t.Errorf("log line after Stop was written as %q", got)
	}
}

// TestHoldUntilStop: output for another stream is kept while the bars are
// drawn and written after their last frame.
func TestHoldUntilStop(t *testing.T) {
	h := newHarness(t)
	var stdout bytes.Buffer
	held := h.d.Hold(&stdout)
	h.event("home", ev(msync.FolderStarted, "INBOX"))
	if _, err := io.WriteString(held, "home: pulled 1\n"); err != nil {
		t.Fatal(err)
	}
	h.frame()
	if stdout.Len() != 0 {
		t.Fatalf("held output written while the bars are drawn: %q", stdout.String())
	}
	h.d.Stop()
	h.written()
	if stdout.String() != "home: pulled 1\n" {
		t.Errorf("after Stop: %q", stdout.String())
	}
	if _, err := io.WriteString(held, "more\n"); err != nil || stdout.String() != "home: pulled 1\nmore\n" {
		t.Errorf("after Stop, writes go straight through: %q, %v", stdout.String(), err)
	}
}

// TestNoEventsNoOutput: an account whose sync happens elsewhere (a daemon
// serves it) draws nothing.
func TestNoEventsNoOutput(t *testing.T) {
	out := newRecorder()
	d := New(out, Options{})
	d.Stop()
	d.Event(msync.Event{Account: "late", Kind: msync.FolderStarted})
	d.Stop()
	if s := out.String(); s != "" {
		t.Errorf("wrote %q", s)
	}
}

// TestTerminal: on a real terminal the display redraws by itself, and the
// last thing on the screen is the frame with the totals.
func TestTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once tty is closed
		read <- string(b)
	}()
	d := New(tty, Options{})
	d.Event(msync.Event{Account: "home", Folder: "INBOX", Kind: msync.FolderStarted})
	d.Event(msync.Event{Account: "home", Folder: "INBOX", Kind: msync.FolderPlanned, Pulls: 3, Total: 3})
	d.Event(msync.Event{Account: "home", Folder: "INBOX", Kind: msync.Transferred, Dir: msync.Pull, N: 3, Bytes: 3000})
	d.Event(msync.Event{Account: "home", Folder: "INBOX", Kind: msync.FolderFinished})
	d.Stop()
	tty.Close()
	out := <-read
	frames := frameSep.Split(out, -1)
	last := strings.ReplaceAll(frames[len(frames)-1], "\r", "")
	if !regexp.MustCompile(`^home +done +\[=+\] ↓ 3/3 2\.9 KiB .*\n$`).MatchString(last) {
		t.Errorf("last frame %q; all output %q", last, out)
	}
	if w := len([]rune(strings.TrimSuffix(last, "\n"))); w > 100 {
		t.Errorf("line is %d columns on a 100-column terminal", w)
	}
}
