package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestT05Lock: a second mailsync on an account whose lock is held exits 75
// (EX_TEMPFAIL), says the account is locked and touches nothing; two runs
// started together never sync at once and leave no duplicates.
func TestT05Lock(t *testing.T) {
	t.Parallel()

	// The lock is an flock(2) on STATE_DIR/ACCOUNT.lock. Here the test
	// process holds it through its own open file description, which to
	// mailsync is exactly another process holding it (what `flock FILE
	// sleep 30` would do), with nothing to clean up afterwards.
	t.Run("heldByAnotherProcess", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		e.seedServer("INBOX", seeds("lock", 5, 1000))
		if err := os.MkdirAll(e.state, 0o700); err != nil {
			t.Fatal(err)
		}
		lockPath := filepath.Join(e.state, acct+".lock")
		f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}

		r := e.run("sync")
		if r.code != 75 || r.signal != 0 {
			t.Errorf("with the lock held: want exit 75, got %s", r)
		}
		if !strings.Contains(r.stderr, "locked") || !strings.Contains(r.stderr, acct) {
			t.Errorf("with the lock held: stderr should say that account %q is locked; got %s", acct, r)
		}
		if _, err := os.Stat(e.mail); err == nil {
			t.Errorf("the locked-out run created the local root %s", e.mail)
		}
		if fetched := e.srv.BodyFetches(t, e.user); fetched != 0 {
			t.Errorf("the locked-out run fetched %d bodies", fetched)
		}

		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
			t.Fatal(err)
		}
		e.mustSync("sync")
		e.checkInSync(t, folderPair{"INBOX", "INBOX"})
	})

	// A first mailsync is caught in the middle of a pull (files are
	// appearing): a second one must be turned away, and the first must
	// finish undisturbed.
	t.Run("heldByRunningSync", func(t *testing.T) {
		t.Parallel()
		// The first run's connections go through a proxy, which holds it
		// mid-pull while the second one runs.
		e := newEnv(t, envOptions{proxy: true})
		e.seedServer("INBOX", seeds("lockrun", 300, 20000))
		first := e.start("sync")
		if !waitFor(first, 60*time.Second, func() bool { return countLocal(e.localDir("INBOX")) >= 1 }) || first.exited() {
			t.Fatalf("the first run did not start pulling, or finished too fast to be overlapped: %s", first.res)
		}
		e.proxy.pause()
		r := e.run("sync")
		e.proxy.resume()
		if r.code != 75 || !strings.Contains(r.stderr, "locked") {
			t.Errorf("second run while the first is pulling: want exit 75 and 'locked' on stderr, got %s", r)
		}
		r1 := first.wait(60 * time.Second)
		if r1.code != 0 || r1.signal != 0 {
			t.Fatalf("first run: want exit 0, got %s", r1)
		}
		if s := parseSummary(r1.stdout); s.pulled != 300 {
			t.Errorf("first run: want pulled 300, got %s", r1)
		}
		e.checkInSync(t, folderPair{"INBOX", "INBOX"})
	})

	// Two runs started at the same moment on a fresh account: one syncs,
	// the other either is locked out (75) or runs after it and finds
	// nothing to do. Either way no message is pulled twice.
	t.Run("concurrentStart", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		const total = 200
		e.seedServer("INBOX", seeds("race", total, 5000))
		a, b := e.start("sync"), e.start("sync")
		ra, rb := a.wait(60*time.Second), b.wait(60*time.Second)
		for _, r := range []result{ra, rb} {
			if r.signal != 0 || (r.code != 0 && r.code != 75) {
				t.Errorf("concurrent runs: want exit 0 or 75, got %s", r)
			}
			if r.code == 75 && !strings.Contains(r.stderr, "locked") {
				t.Errorf("exit 75 without saying the account is locked: %s", r)
			}
		}
		if ra.code != 0 && rb.code != 0 {
			t.Fatalf("neither run synced:\nA: %s\nB: %s", ra, rb)
		}
		pulled := 0
		for _, r := range []result{ra, rb} {
			if r.code == 0 {
				s := parseSummary(r.stdout)
				if s.pulled != 0 && s.pulled != total {
					t.Errorf("a run pulled %d of %d messages: the two runs overlapped.\nA: %s\nB: %s", s.pulled, total, ra, rb)
				}
				pulled += s.pulled
			}
		}
		if pulled != total {
			t.Errorf("the runs pulled %d messages in all, want %d.\nA: %s\nB: %s", pulled, total, ra, rb)
		}
		t.Logf("exit codes %d and %d", ra.code, rb.code)
		e.checkInSync(t, folderPair{"INBOX", "INBOX"})
	})
}
