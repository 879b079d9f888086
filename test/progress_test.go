package test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// frameSep is what the progress display writes before each redraw: cursor
// up over the last frame, erase to the end of the screen.
var frameSep = regexp.MustCompile("\x1b\\[\\d+A\x1b\\[J")

// TestProgressOnTerminal: `mailsync sync` with stderr on a terminal draws a
// line per account whose pull count grows through the run, and its last
// frame has the totals of both directions. The pull is held in the middle
// by a paused proxy, so a frame of the run in progress is sure to be drawn
// (what the socket buffers hold when it pauses, some 20 MB, still arrives:
// the pull is larger than that).
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	const pulls, pushes = 1500, 5
	e := newEnv(t, envOptions{proxy: true, remoteExtra: "max_connections = 1"})
	e.seedServer("INBOX", seeds("bar", pulls, 30000))
	for i := 0; i < pushes; i++ {
		writeLocal(t, e.localDir("INBOX"), fmt.Sprintf("1700000000.local%d.host", i), toLF(makeMsg(fmt.Sprintf("local-%d", i), 3000)))
	}
	// A second account on the same server user: it has a line of its own.
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	acct2 := string(cfg[strings.Index(string(cfg), "[accounts."+acct+"]"):])
	acct2 = strings.ReplaceAll(acct2, "[accounts."+acct, "[accounts.other")
	acct2 = strings.ReplaceAll(acct2, strconv.Quote(e.mail), strconv.Quote(e.mail+"2"))
	if err := os.WriteFile(e.cfg, append(cfg, "\n"+acct2...), 0o600); err != nil {
		t.Fatal(err)
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	var screen lockedBuffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&screen, ptmx) // ends with EIO when the last tty fd closes
	}()
	var stdout lockedBuffer
	cmd := exec.Command(binPath, "-c", e.cfg, "--log-level", "debug", "sync")
	cmd.Env = e.binEnv()
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	until := func(cond func() bool) bool {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cond() {
				return true
			}
			if exited() {
				return cond()
			}
		}
		return false
	}

	if !until(func() bool { return countLocal(e.localDir("INBOX")) >= 32 }) {
		t.Fatalf("the pull never got under way; screen %q", screen.String())
	}
	e.proxy.pause()
	midway := func() bool {
		for _, f := range frames(screen.String()) {
			if c, ok := f.pull[acct]; ok && c.folder == "INBOX" && c.done > 0 && c.done < pulls {
				return true
			}
		}
		return false
	}
	if !until(midway) {
		t.Errorf("no frame shows the pull of INBOX in progress; screen %q", screen.String())
	}
	e.proxy.resume()
	if !until(exited) {
		t.Fatalf("mailsync did not end; screen %q", screen.String())
	}
	if waitErr != nil {
		t.Fatalf("mailsync sync: %v; stdout %q; screen %q", waitErr, stdout.String(), screen.String())
	}
	<-read

	all := frames(screen.String())
	if len(all) < 2 {
		t.Fatalf("%d frames; screen %q", len(all), screen.String())
	}
	// The pull count of acct never goes back, and does grow.
	last, seen := -1, map[int]bool{}
	for i, f := range all {
		c, ok := f.pull[acct]
		if !ok {
			continue
		}
		if c.done < last {
			t.Errorf("frame %d: %s pulled %d after %d", i, acct, c.done, last)
		}
		last = c.done
		seen[c.done] = true
	}
	if len(seen) < 2 {
		t.Errorf("the pull count never changed from frame to frame: %v", seen)
	}
	// Log lines print above the bars, never below them where the next
	// frame would draw over them (below the last frame they stay).
	logs := 0
	for i, f := range all {
		logs += f.logs
		if f.logAfterBar && i < len(all)-1 {
			t.Errorf("frame %d has a log line below a bar", i)
		}
	}
	if logs == 0 {
		t.Errorf("no log line on the screen at debug level: the check above proves nothing")
	}
	end := all[len(all)-1]
	if want := fmt.Sprintf("↓ %d/%d ", pulls, pulls); !strings.Contains(end.lines[acct], want) ||
		!strings.Contains(end.lines[acct], fmt.Sprintf("↑ %d/%d ", pushes, pushes)) || !strings.Contains(end.lines[acct], " done ") {
		t.Errorf("last frame's line for %s: %q; want done, %s and ↑ %d/%d", acct, end.lines[acct], want, pushes, pushes)
	}
	if c, ok := end.pull["other"]; !ok || c.done < pulls || c.done != c.total {
		t.Errorf("last frame's line for other: %q; want all its pull done", end.lines["other"])
	}
	// The summary still goes to stdout, plain.
	if s := parseSummary(stdout.String()); !s.found || s.pulled != pulls || s.pushed != pushes {
		t.Errorf("stdout %q: want the summary with %d pulled, %d pushed", stdout.String(), pulls, pushes)
	}
	if strings.Contains(stdout.String(), "\x1b") {
		t.Errorf("stdout has escape codes: %q", stdout.String())
	}
}

// TestProgressNotOnPipe: with stderr a pipe, a sync that moves messages
// writes no escape codes there: cron mail and the journal stay clean.
func TestProgressNotOnPipe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("pipe", 300, 5000))
	writeLocal(t, e.localDir("INBOX"), "1700000000.local.host", toLF(makeMsg("local-pipe", 3000)))
	r := e.mustSync("--log-level", "debug", "sync")
	if s := parseSummary(r.stdout); s.pulled != 300 || s.pushed != 1 {
		t.Fatalf("want 300 pulled and 1 pushed: %s", r)
	}
	if r.stderr == "" {
		t.Errorf("no log lines on stderr at debug level: the check below proves nothing")
	}
	if i := strings.IndexByte(r.stderr, 0x1b); i >= 0 {
		t.Errorf("stderr has an escape code at %d: %q", i, r.stderr[max(0, i-80):min(len(r.stderr), i+80)])
	}
	// A run shorter than a redraw would leave one frame and no escape
	// code: no bar may be drawn at all.
	for _, f := range frames(r.stderr) {
		if len(f.lines) > 0 {
			t.Fatalf("a progress bar on a pipe: %q", f.lines)
		}
	}
}

// writeLocal puts a mail client's new message into a local folder.
func writeLocal(t *testing.T, dir, name string, body []byte) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "new", name), body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// frame is one drawing of the progress display.
type frame struct {
	lines       map[string]string    // account → its line
	pull        map[string]pullCount // account → its pull column, where shown
	logs        int                  // log lines
	logAfterBar bool                 // a log line comes after a bar line
}

type pullCount struct {
	folder      string
	done, total int
}

// logLine is a log line in the console format.
var logLine = regexp.MustCompile(`^\d\d:\d\d:\d\d (TRC|DBG|INF|WRN|ERR) `)

// barLine is an account's line: name, folder, bar, counts.
var barLine = regexp.MustCompile(`^(\S+) +(.+?) +\[[^\]]*\] (.*)$`)

var pullCol = regexp.MustCompile(`↓ (\d+)/(\d+) `)

// frames splits the terminal output into the display's frames. A frame
// cut off by the end of the output so far is left out.
func frames(screen string) []frame {
	parts := frameSep.Split(strings.ReplaceAll(screen, "\r", ""), -1)
	var out []frame
	for _, p := range parts {
		if !strings.HasSuffix(p, "\n") {
			continue
		}
		f := frame{lines: map[string]string{}, pull: map[string]pullCount{}}
		for _, l := range strings.Split(strings.TrimSuffix(p, "\n"), "\n") {
			if logLine.MatchString(l) {
				f.logs++
				f.logAfterBar = f.logAfterBar || len(f.lines) > 0
				continue
			}
			m := barLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			f.lines[m[1]] = l
			if c := pullCol.FindStringSubmatch(m[3]); c != nil {
				done, _ := strconv.Atoi(c[1])
				total, _ := strconv.Atoi(c[2])
				f.pull[m[1]] = pullCount{m[2], done, total}
			}
		}
		if len(f.lines) > 0 || f.logs > 0 {
			out = append(out, f)
		}
	}
	return out
}
