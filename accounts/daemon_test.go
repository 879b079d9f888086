package accounts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/memserver"
	msync "mailsync/sync"
)

// startDaemon runs a Daemon for cfg until the test ends; done is closed
// when Run returns.
func startDaemon(t *testing.T, cfg *config.Config, finish <-chan struct{}) (d *Daemon, done <-chan struct{}) {
	t.Helper()
	d, err := NewDaemon(DaemonOptions{Config: cfg, Log: zerolog.Nop(), Finish: finish})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		d.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return d, ch
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hookLines is the lines a hook appended to path.
func hookLines(path string) []string {
	data, _ := os.ReadFile(path)
	return strings.Fields(string(data))
}

// loopOf is the daemon's loop of account name, or nil.
func loopOf(d *Daemon, name string) *loop {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loops[name]
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestDaemonQuickSchedule: the first cycle is full unless quick = -1,
// and scheduled cycles then run quick ones between full ones as the
// quick key says.
func TestDaemonQuickSchedule(t *testing.T) {
	for _, tc := range []struct {
		quick int
		want  []string
	}{
		{2, []string{"full", "quick", "quick", "full", "quick"}},
		{1, []string{"full", "quick", "full", "quick"}},
		{0, []string{"full", "full", "full"}},
		{-1, []string{"quick", "quick", "quick"}},
	} {
		t.Run(fmt.Sprint("quick=", tc.quick), func(t *testing.T) {
			modes := filepath.Join(t.TempDir(), "modes")
			w := newWorld(t, "sched", fmt.Sprintf("autorefresh = \"1s\"\nquick = %d\npostsync_hook = %q\n",
				tc.quick, `echo "$MAILSYNC_MODE" >> `+modes))
			// Below the configurable minimum, to keep the test short.
			w.cfg.Accounts["t"].Schedule.Autorefresh = 20 * time.Millisecond
			startDaemon(t, w.cfg, nil)
			waitFor(t, fmt.Sprintf("%d cycles", len(tc.want)), func() bool { return len(hookLines(modes)) >= len(tc.want) })
			if got := hookLines(modes)[:len(tc.want)]; !slices.Equal(got, tc.want) {
				t.Errorf("modes %v, want %v", got, tc.want)
			}
		})
	}
}

// twoWorld is one server with users t and u, each with INBOX and Work,
// for accounts t and u with their own Maildirs.
type twoWorld struct {
	t, u  *world
	state string
	// modes is where t's postsync_hook writes each cycle's mode.
	modes string
}

func newTwoWorld(t *testing.T) *twoWorld {
	t.Helper()
	srv, err := memserver.Start([]string{"t", "u"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, user := range []string{"t", "u"} {
		for _, f := range []string{"INBOX", "Work"} {
			if err := srv.Create(user, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := t.TempDir()
	return &twoWorld{
		t:     &world{srv: srv, user: "t", dir: filepath.Join(base, "t")},
		u:     &world{srv: srv, user: "u", dir: filepath.Join(base, "u")},
		state: filepath.Join(base, "state"),
		modes: filepath.Join(base, "modes"),
	}
}

// config has account t, autorefresh as given, with pad (comments, blank
// lines) above it and in its remote table, and account u if withU.
func (tw *twoWorld) config(t *testing.T, autorefresh string, withU bool, pad string) *config.Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(tw.t.srv.Addr)
	account := func(name, extra, pad string) string {
		return fmt.Sprintf(`%s[accounts.%s]
autorefresh = %q
%s
[accounts.%s.remote]
host = %q
port = %s
tls = "none"
allow_plaintext = true
%suser = %q
password = "pw"
[accounts.%s.local]
path = %q
fsync = false
`, pad, name, autorefresh, extra, name, host, port, pad, name, name, filepath.Join(tw.dir(name), "Mail"))
	}
	text := fmt.Sprintf("[general]\nstate_dir = %q\n", tw.state) +
		account("t", fmt.Sprintf("postsync_hook = %q", `echo "$MAILSYNC_MODE" >> `+tw.modes), pad)
	if withU {
		text += account("u", "", "")
	}
	cfg, err := config.Parse(filepath.Join(tw.state, "..", "config.toml"), []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, text)
	}
	return cfg
}

func (tw *twoWorld) dir(name string) string {
	if name == "t" {
		return tw.t.dir
	}
	return tw.u.dir
}

// TestDaemonReload: a reload starts new accounts, restarts changed ones
// with a new first cycle, stops removed ones, and leaves the others be,
// even when their lines moved in the file.
func TestDaemonReload(t *testing.T) {
	tw := newTwoWorld(t)
	tw.t.add(t, "INBOX", 1)
	d, _ := startDaemon(t, tw.config(t, "1h", false, ""), nil)
	waitFor(t, "t's first cycle", func() bool { return len(hookLines(tw.modes)) == 1 })
	if d.Serves("u") {
		t.Fatal("the daemon serves u before it is configured")
	}

	// t changed, u added.
	tw.u.add(t, "INBOX", 2)
	tw.u.add(t, "Work", 1)
	oldT := loopOf(d, "t")
	reloaded := time.Now()
	d.Reload(tw.config(t, "2h", true, ""))
	if !d.Serves("u") {
		t.Fatal("u is not served after the reload that added it")
	}
	waitFor(t, "u's first sync", func() bool { return tw.u.local(t, "INBOX") == 2 && tw.u.local(t, "Work") == 1 })
	waitFor(t, "t's old loop to end", func() bool { return isClosed(oldT.done) })
	waitFor(t, "t's new first cycle", func() bool {
		l := loopOf(d, "t")
		return l != nil && l != oldT && l.snapshot().LastSync.After(reloaded)
	})
	newT := loopOf(d, "t")
	if got := newT.acct.Config().Schedule.Autorefresh; got != 2*time.Hour {
		t.Errorf("t's new loop has autorefresh %v, want 2h", got)
	}
	if got := hookLines(tw.modes); !slices.Equal(got, []string{"full", "full"}) {
		t.Errorf("t's cycles: %v, want a full first cycle in each loop", got)
	}

	// t unchanged but moved, u removed.
	oldU := loopOf(d, "u")
	moved := tw.config(t, "2h", false, "# comment\n\n# more\n\n")
	d.Reload(moved)
	if d.Serves("u") {
		t.Error("u is still served after the reload that removed it")
	}
	if loopOf(d, "t") != newT || isClosed(newT.stop) {
		t.Error("t's loop was restarted, though only its lines moved")
	}
	waitFor(t, "u's loop to end", func() bool { return isClosed(oldU.done) })
	var names []string
	for _, s := range d.Status() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"t"}) {
		t.Errorf("status of %v, want t only", names)
	}
	if got := hookLines(tw.modes); len(got) != 2 {
		t.Errorf("t's cycles after the last reload: %v, want no new one", got)
	}
}

// TestDaemonSync: what the control socket asks of a daemon.
func TestDaemonSync(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "asker", `autorefresh = "1h"`)
	w.add(t, "INBOX", 1)
	d, _ := startDaemon(t, w.cfg, nil)
	waitFor(t, "the first cycle", func() bool {
		s := d.Status()
		return len(s) == 1 && !s[0].LastSync.IsZero()
	})

	// Added before the call: synced when it returns.
	w.add(t, "INBOX", 2)
	w.add(t, "Work", 1)
	res, err := d.Sync(ctx, []string{"t"}, msync.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Account != "t" || res[0].Failed() || res[0].Mode != ModeFull ||
		res[0].Summary == nil || res[0].Summary.Counts.Pulled != 3 {
		t.Fatalf("result: %+v", res)
	}
	if in, work := w.local(t, "INBOX"), w.local(t, "Work"); in != 3 || work != 1 {
		t.Errorf("Maildir holds INBOX %d, Work %d; want 3, 1", in, work)
	}

	// One folder, quick.
	w.add(t, "INBOX", 1)
	w.add(t, "Work", 1)
	res, err = d.Sync(ctx, []string{"t"}, msync.Request{Folders: []string{"Work"}, Quick: true})
	if err != nil || len(res) != 1 || res[0].Failed() || res[0].Mode != ModeQuick || res[0].Summary.Counts.Pulled != 1 {
		t.Fatalf("sync of Work: %v %+v", err, res)
	}
	if in, work := w.local(t, "INBOX"), w.local(t, "Work"); in != 3 || work != 2 {
		t.Errorf("Maildir holds INBOX %d, Work %d; want 3, 2", in, work)
	}

	if _, err := d.Sync(ctx, []string{"nope"}, msync.Request{}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("sync of an account not served: %v", err)
	}
}

// TestDaemonFinish: closing Finish lets the cycle in progress end, hooks
// and all, starts no other, and then Run returns.
func TestDaemonFinish(t *testing.T) {
	dir := t.TempDir()
	started, proceed, post := filepath.Join(dir, "started"), filepath.Join(dir, "go"), filepath.Join(dir, "post")
	// The presync hook holds the first cycle until the test says go.
	w := newWorld(t, "finisher", fmt.Sprintf("autorefresh = \"1s\"\npresync_hook = %q\npostsync_hook = %q\n",
		fmt.Sprintf("echo x >> %s; while [ ! -e %s ]; do sleep 0.01; done", started, proceed),
		`echo "$MAILSYNC_RESULT" >> `+post))
	w.cfg.Accounts["t"].Schedule.Autorefresh = 20 * time.Millisecond
	w.add(t, "INBOX", 1)
	finish := make(chan struct{})
	d, done := startDaemon(t, w.cfg, finish)
	waitFor(t, "the first cycle", func() bool { return len(hookLines(started)) == 1 })

	close(finish)
	select {
	case <-done:
		t.Fatal("Run returned while a cycle was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the cycle in progress")
	}
	if got := hookLines(post); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("postsync_hook saw %v, want the cycle in progress to end ok", got)
	}
	if n := len(hookLines(started)); n != 1 {
		t.Errorf("%d cycles started, want no new one after Finish", n)
	}
	if s := d.Status(); len(s) != 1 || s[0].State != StateStopped {
		t.Errorf("status after Run: %+v", s)
	}
	// With a deadline: a sync handed to a loop that has ended is never
	// answered.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Sync(ctx, []string{"t"}, msync.Request{}); !errors.Is(err, ErrStopping) {
		t.Errorf("sync after Run returned: %v, want ErrStopping", err)
	}
}

// TestDaemonReloadTwice: a second reload while a restarted account's old
// loop still finishes its cycle does not start a loop beside it.
func TestDaemonReloadTwice(t *testing.T) {
	hook, started, proceed := blockingPresync(t)
	w := newWorld(t, "twice", "autorefresh = \"1h\"\n"+hook)
	d, _ := startDaemon(t, w.cfg, nil)
	defer os.WriteFile(proceed, nil, 0o600)
	waitFor(t, "the first cycle", func() bool { return len(hookLines(started)) == 1 })
	d.Reload(w.config(t, "autorefresh = \"2h\"\n"+hook))
	d.Reload(w.config(t, "autorefresh = \"3h\"\n"+hook))
	time.Sleep(300 * time.Millisecond)
	if n := len(hookLines(started)); n != 1 {
		t.Fatalf("%d cycles of account t started while its first one still runs; want 1", n)
	}
	// Released, the old loop ends and one new loop starts, with the
	// configuration in force.
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new loop's first cycle", func() bool { return len(hookLines(started)) == 2 })
	waitFor(t, "the new loop", func() bool { l := loopOf(d, "t"); return l != nil && l.acct.cfg.Schedule.Autorefresh == 3*time.Hour })
	time.Sleep(300 * time.Millisecond)
	if n := len(hookLines(started)); n != 2 {
		t.Errorf("%d cycles after the reloads; want 2", n)
	}
}

// TestAllowMassDeleteRunsAlone: work that lifts the mass-deletion guard
// is never merged with other work, so the guard stays for every folder
// the user did not name.
func TestAllowMassDeleteRunsAlone(t *testing.T) {
	l := &loop{}
	ch := make(chan Result, 1)
	l.queue(work{folders: folderSet("Work"), full: true, idle: true})
	l.queue(work{all: true})
	l.queue(work{folders: folderSet("INBOX"), full: true, force: true, allowMassDelete: true, waiters: []chan<- Result{ch}})
	w, _ := l.take()
	if _, req := w.cycle(); !req.AllowMassDelete || !slices.Equal(req.Folders, []string{"INBOX"}) || len(w.waiters) != 1 {
		t.Errorf("first cycle %+v: want INBOX alone with the guard lifted", req)
	}
	w, _ = l.take()
	if _, req := w.cycle(); req.AllowMassDelete || req.Folders != nil {
		t.Errorf("second cycle %+v: want every folder with the guard", req)
	}
}

// TestSubmitAfterEnd: work given to a loop that has ended is answered at
// once, not left waiting forever.
func TestSubmitAfterEnd(t *testing.T) {
	w := newWorld(t, "ended", "autorefresh = \"1h\"\n")
	finish := make(chan struct{})
	d, done := startDaemon(t, w.cfg, finish)
	waitFor(t, "the first cycle", func() bool { s := d.Status(); return len(s) == 1 && s[0].LastResult == "ok" })
	l := loopOf(d, "t")
	close(finish)
	<-done
	ch := make(chan Result, 1)
	l.submit(work{all: true, waiters: []chan<- Result{ch}})
	select {
	case r := <-ch:
		if !errors.Is(r.Err, ErrStopping) {
			t.Errorf("answer %v, want ErrStopping", r.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("work given to an ended loop was never answered")
	}
}

// TestDaemonReloadCarriesRequests: a sync asked of an account whose loop
// a reload restarts is done by the new loop, not refused.
func TestDaemonReloadCarriesRequests(t *testing.T) {
	hook, started, proceed := blockingPresync(t)
	w := newWorld(t, "carry", "autorefresh = \"1h\"\n"+hook)
	d, _ := startDaemon(t, w.cfg, nil)
	defer os.WriteFile(proceed, nil, 0o600)
	waitFor(t, "the first cycle", func() bool { return len(hookLines(started)) == 1 })
	w.add(t, "INBOX", 1)
	type answer struct {
		rs  []Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		rs, err := d.Sync(context.Background(), []string{"t"}, msync.Request{})
		ch <- answer{rs, err}
	}()
	waitFor(t, "the request to wait", func() bool {
		l := loopOf(d, "t")
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.pending.waiters) == 1
	})
	d.Reload(w.config(t, "autorefresh = \"2h\"\n"+hook))
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-ch:
		if a.err != nil || len(a.rs) != 1 || a.rs[0].Failed() || a.rs[0].Summary == nil {
			t.Fatalf("the request across the reload: %+v %v", a.rs, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request was never answered")
	}
	if n := w.local(t, "INBOX"); n != 1 {
		t.Errorf("INBOX has %d messages after the request, want 1", n)
	}
	if l := loopOf(d, "t"); l == nil || l.acct.cfg.Schedule.Autorefresh != 2*time.Hour {
		t.Error("the request was not answered by the new loop")
	}
}

// blockingPresync is a presync_hook line whose hook appends a line to
// started and then waits until the file proceed exists: it holds a cycle
// at its start for as long as a test needs.
func blockingPresync(t *testing.T) (hook, started, proceed string) {
	dir := t.TempDir()
	started, proceed = filepath.Join(dir, "started"), filepath.Join(dir, "go")
	hook = fmt.Sprintf("presync_hook = %q\n", fmt.Sprintf("echo x >> %s; while [ ! -e %s ]; do sleep 0.01; done", started, proceed))
	return hook, started, proceed
}
