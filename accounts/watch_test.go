package accounts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	msync "mailsync/sync"
)

// testWatch is a localWatch of INBOX's new/ and cur/ and Work's cur/
// under /m, without a watcher: event, ownChange, take and delay use
// only the maps.
func testWatch() *localWatch {
	return &localWatch{
		dirs: map[string]string{
			"/m/INBOX/new": "INBOX",
			"/m/INBOX/cur": "INBOX",
			"/m/Work/cur":  "Work",
		},
		own:     map[string]pendingOwn{},
		changed: map[string]bool{},
	}
}

func ev(op fsnotify.Op, path string) fsnotify.Event { return fsnotify.Event{Name: path, Op: op} }

func TestLocalWatchEvents(t *testing.T) {
	t.Run("a client's change", func(t *testing.T) {
		lw := testWatch()
		if !lw.event(ev(fsnotify.Create, "/m/INBOX/new/1")) {
			t.Fatal("a client's new file is not a change")
		}
		if !lw.event(ev(fsnotify.Rename, "/m/Work/cur/2:2,S")) {
			t.Fatal("a client's rename is not a change")
		}
		if got := slices.Sorted(slices.Values(lw.take())); !slices.Equal(got, []string{"INBOX", "Work"}) {
			t.Errorf("take() = %v, want INBOX and Work", got)
		}
		if got := lw.take(); len(got) != 0 {
			t.Errorf("take() again = %v, want nothing", got)
		}
		if !lw.first.IsZero() {
			t.Error("take() left the time of the first change")
		}
	})

	t.Run("own change ignored once", func(t *testing.T) {
		lw := testWatch()
		p := "/m/INBOX/cur/1,U=5:2,S"
		lw.ownChange(p)
		if lw.event(ev(fsnotify.Create, p)) {
			t.Fatal("mailsync's own change counted as a client's")
		}
		if got := lw.take(); len(got) != 0 {
			t.Fatalf("take() after an own change = %v", got)
		}
		if len(lw.own) != 0 {
			t.Errorf("the announcement is kept after its event: %v", lw.own)
		}
		// A second event on the path is not mailsync's.
		if !lw.event(ev(fsnotify.Remove, p)) {
			t.Fatal("a second event on an announced path was ignored")
		}
		if got := lw.take(); !slices.Equal(got, []string{"INBOX"}) {
			t.Errorf("take() = %v, want INBOX", got)
		}
	})

	t.Run("own change announced twice", func(t *testing.T) {
		lw := testWatch()
		p := "/m/Work/cur/1,U=5:2,"
		lw.ownChange(p)
		lw.ownChange(p)
		for i := range 2 {
			if lw.event(ev(fsnotify.Create, p)) {
				t.Fatalf("own event %d counted as a client's", i+1)
			}
		}
		if !lw.event(ev(fsnotify.Create, p)) {
			t.Fatal("a third event on a path announced twice was ignored")
		}
	})

	t.Run("own rename, both names", func(t *testing.T) {
		lw := testWatch()
		from, to := "/m/INBOX/new/1,U=5", "/m/INBOX/cur/1,U=5:2,S"
		lw.ownChange(from)
		lw.ownChange(to)
		if lw.event(ev(fsnotify.Rename, from)) || lw.event(ev(fsnotify.Create, to)) {
			t.Fatal("mailsync's own rename counted as a client's")
		}
		if got := lw.take(); len(got) != 0 {
			t.Errorf("take() = %v", got)
		}
	})

	t.Run("chmod ignored", func(t *testing.T) {
		lw := testWatch()
		if lw.event(ev(fsnotify.Chmod, "/m/INBOX/cur/1:2,S")) {
			t.Fatal("a chmod counted as a change")
		}
		// Nor does it use up an announcement.
		p := "/m/INBOX/cur/2:2,S"
		lw.ownChange(p)
		lw.event(ev(fsnotify.Chmod, p))
		if lw.event(ev(fsnotify.Create, p)) {
			t.Fatal("a chmod used up the announcement of an own change")
		}
		if got := lw.take(); len(got) != 0 {
			t.Errorf("take() = %v", got)
		}
	})

	t.Run("unwatched directory", func(t *testing.T) {
		lw := testWatch()
		for _, p := range []string{"/m/INBOX/tmp/1", "/m/Work/new/1", "/m/Other/cur/1", "/m/INBOX/cur"} {
			if lw.event(ev(fsnotify.Create, p)) {
				t.Errorf("%s counted as a change", p)
			}
		}
		if got := lw.take(); len(got) != 0 {
			t.Errorf("take() = %v", got)
		}
	})

	t.Run("expired announcements forgotten", func(t *testing.T) {
		lw := testWatch()
		old := "/m/INBOX/cur/old"
		lw.own[old] = pendingOwn{n: 1, expires: time.Now().Add(-time.Second)}
		lw.ownChange("/m/INBOX/cur/fresh")
		lw.event(ev(fsnotify.Create, "/m/Work/cur/client"))
		if _, ok := lw.own[old]; ok {
			t.Error("an expired announcement is kept")
		}
		if _, ok := lw.own["/m/INBOX/cur/fresh"]; !ok {
			t.Error("a fresh announcement was dropped")
		}
	})
}

func TestLocalWatchDelay(t *testing.T) {
	lw := testWatch()
	lw.event(ev(fsnotify.Create, "/m/INBOX/new/1"))
	if d := lw.delay(); d != watchQuiet {
		t.Errorf("delay after a first change = %v, want %v", d, watchQuiet)
	}
	first := lw.first
	lw.event(ev(fsnotify.Create, "/m/INBOX/new/2"))
	if lw.first != first {
		t.Error("a later change moved the time of the first")
	}
	// Changes kept coming: the wait ends watchMaxWait after the first.
	lw.first = time.Now().Add(-watchMaxWait + 300*time.Millisecond)
	if d := lw.delay(); d <= 0 || d > 300*time.Millisecond {
		t.Errorf("delay 300ms before the bound = %v", d)
	}
	lw.first = time.Now().Add(-2 * watchMaxWait)
	if d := lw.delay(); d != 0 {
		t.Errorf("delay past the bound = %v, want 0", d)
	}
}

// settle waits until lw has handled every event so far: inotify keeps
// them in order, so it moves a file of its own in and out of INBOX/new/,
// announced, and waits for both events to be taken.
func settle(t *testing.T, lw *localWatch, mail string) {
	t.Helper()
	tmp, in := filepath.Join(mail, "INBOX", "tmp", "settle"), filepath.Join(mail, "INBOX", "new", "settle")
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mv := range [][2]string{{tmp, in}, {in, tmp}} {
		lw.ownChange(in)
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the watch to take its event", func() bool {
			lw.mu.Lock()
			defer lw.mu.Unlock()
			_, ok := lw.own[in]
			return !ok
		})
	}
	os.Remove(tmp)
}

// announced is the paths lw waits for events of.
func announced(lw *localWatch) map[string]bool {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	out := map[string]bool{}
	for p := range lw.own {
		out[p] = true
	}
	return out
}

// quiet checks that lw has no change pending and that every change
// announced since before (the paths announced then) had its event.
func quiet(t *testing.T, lw *localWatch, before map[string]bool, after string) {
	t.Helper()
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.changed) != 0 {
		t.Errorf("after %s: changed %v; want none", after, lw.changed)
	}
	for p := range lw.own {
		if !before[p] {
			t.Errorf("after %s: no event came for the announced %s", after, p)
		}
	}
}

// TestDaemonWatchLocal: with watch_local, a file a mail client drops into
// a synced folder is uploaded soon after, in a cycle of mode local, and
// mailsync's own changes there start no cycle.
func TestDaemonWatchLocal(t *testing.T) {
	modes := filepath.Join(t.TempDir(), "modes")
	w := newWorld(t, "watcher", fmt.Sprintf("watch_local = true\nautorefresh = \"1h\"\npostsync_hook = %q\n",
		`echo "$MAILSYNC_MODE" >> `+modes))
	mail := filepath.Join(w.dir, "Mail")
	w.add(t, "INBOX", 1)
	d, _ := startDaemon(t, w.cfg, nil)
	waitFor(t, "the first cycle", func() bool { return len(hookLines(modes)) == 1 })
	l := loopOf(d, "t")
	l.mu.Lock()
	lw := l.watch
	l.mu.Unlock()
	if lw == nil {
		t.Fatal("no local watch")
	}

	// The first cycle's pulls were announced before the folders were
	// watched: their events never come.
	before := announced(lw)

	// A message pulled into the watched folder: mailsync's own change.
	w.add(t, "INBOX", 1)
	res, err := d.Sync(context.Background(), []string{"t"}, msync.Request{Folders: []string{"INBOX"}})
	if err != nil || res[0].Failed() || res[0].Summary.Counts.Pulled != 1 {
		t.Fatalf("sync: %v %+v", err, res)
	}
	settle(t, lw, mail)
	quiet(t, lw, before, "a pull")

	// A client's file: uploaded by a local cycle.
	msg := "Message-ID: <client@accounts.test>\nSubject: from the client\n\nbody\n"
	tmp := filepath.Join(mail, "INBOX", "tmp", "client")
	if err := os.WriteFile(tmp, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(mail, "INBOX", "new", "client")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a local cycle", func() bool { return len(hookLines(modes)) >= 3 })
	// Its renames (the file gets its UID) start no other.
	settle(t, lw, mail)
	quiet(t, lw, before, "the local cycle")
	if got := hookLines(modes); !slices.Equal(got, []string{"full", "full", "local"}) {
		t.Errorf("cycles: %v, want full (first), full (asked), local (the client's file)", got)
	}
	uploaded := false
	for _, sub := range []string{"new", "cur"} {
		es, _ := os.ReadDir(filepath.Join(mail, "INBOX", sub))
		for _, e := range es {
			uploaded = uploaded || strings.HasPrefix(e.Name(), "client") && strings.Contains(e.Name(), ",U=")
		}
	}
	if !uploaded {
		t.Error("the client's file was not uploaded (renamed to carry its UID)")
	}
}

// TestLocalWatchStaleAnnouncements: an announcement that outlived its
// expiry, or one for a directory not watched (a folder the sync is
// creating, whose events never come), does not swallow a client's later
// change to that path.
func TestLocalWatchStaleAnnouncements(t *testing.T) {
	lw := testWatch()
	p := "/m/INBOX/new/1,U=1"
	lw.own[p] = pendingOwn{n: 1, expires: time.Now().Add(-time.Hour)}
	if !lw.event(ev(fsnotify.Remove, p)) {
		t.Error("a client's removal of a file announced an hour ago was taken for mailsync's own")
	}
	unwatched := "/m/New/cur/2,U=2:2,S"
	lw.ownChange(unwatched)
	if len(lw.own) != 0 {
		t.Errorf("an announcement in an unwatched directory was kept: %v", lw.own)
	}
}
