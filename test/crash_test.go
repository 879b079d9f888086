package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestT03KillDuringPull: SIGKILL while a large pull is running never leaves
// a partial file in cur/ or new/, and the next run completes the pull
// without losing or duplicating anything and without downloading again the
// files that were already delivered (they are adopted by their U=).
//
// The kill points hit different windows: right after the first delivery,
// early and late in the first batch of state records (mailsync commits them
// 256 at a time), so delivered files are missing from the state and must be
// recognised by their names. (The poll lags behind a busy pull by up to a
// hundred files on a loaded machine, so the last point stays well before the
// end.)
func TestT03KillDuringPull(t *testing.T) {
	t.Parallel()
	const total = 400
	for _, killAt := range []int{1, 30, 200} {
		t.Run(fmt.Sprintf("after%dFiles", killAt), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			inbox := folderPair{"INBOX", "INBOX"}
			// ~30 KB each, so the pull takes a noticeable moment (about 2 s
			// here with fsync) and the poll below can stop it midway.
			e.seedServer("INBOX", seeds("pull", total, 30000))

			p := e.start("sync")
			dir := e.localDir("INBOX")
			reached := waitFor(p, 60*time.Second, func() bool { return countLocal(dir) >= killAt })
			interrupted := p.kill9()
			if !reached || !interrupted {
				t.Fatalf("could not kill mailsync after %d delivered files (reached=%v, interrupted=%v; %d files); %s",
					killAt, reached, interrupted, countLocal(dir), p.res)
			}

			// Every file that made it into cur/ or new/ is complete.
			complete := e.checkComplete(t, inbox)
			t.Logf("killed with %d of %d files delivered", complete, total)
			if t.Failed() {
				t.FailNow()
			}

			before := e.srv.BodyFetches(t, e.user)
			r := e.mustSync("sync")
			fetched := e.srv.BodyFetches(t, e.user) - before
			e.checkInSync(t, inbox)
			e.checkComplete(t, inbox)
			if fetched > total-complete {
				t.Errorf("the rerun fetched %d bodies, but only %d of %d messages were missing locally: "+
					"delivered files were downloaded again instead of adopted. %s", fetched, total-complete, total, r)
			}
			if s := parseSummary(r.stdout); s.pulled > total-complete || s.errors != 0 {
				t.Errorf("rerun: want at most %d pulled and 0 errors; got %s", total-complete, r)
			}

			r = e.mustSync("sync")
			if !strings.Contains(r.stdout, noopSummary) {
				t.Errorf("third run: want %q, got %s", noopSummary, r)
			}
		})
	}
}

// TestT04KillDuringPush: SIGKILL while hundreds of new local messages are
// being uploaded; the next run finishes the job with every message on the
// server exactly once and locally exactly once, the local files renamed to
// carry the server's UID.
func TestT04KillDuringPush(t *testing.T) {
	t.Parallel()
	const total = 300
	// 0 kills as early as possible: right after the process starts.
	for _, killAt := range []int{0, 1, 20, 150} {
		t.Run(fmt.Sprintf("after%dOnServer", killAt), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			inbox := folderPair{"INBOX", "INBOX"}
			e.seedServer("INBOX", seeds("push-old", 5, 2000))
			e.mustSync("sync")

			writeClientMail(t, e, "INBOX", "push", total)

			srvDir := e.srv.MailboxDir(e.user, "INBOX")
			base := countLocal(srvDir) // the 5 seeded messages
			p := e.start("sync")
			if killAt > 0 {
				// Counting the server's Maildir files is the same as STATUS
				// MESSAGES here but costs no doveadm process, so the poll
				// can react within a millisecond.
				reached := waitFor(p, 60*time.Second, func() bool { return countLocal(srvDir)-base >= killAt })
				if !reached {
					t.Fatalf("the server never had %d new messages while mailsync ran: %d; %s", killAt, countLocal(srvDir)-base, p.res)
				}
			}
			if !p.kill9() {
				t.Fatalf("mailsync finished before it could be killed at %d messages; %s", killAt, p.res)
			}
			onServer := int(e.srv.Status(t, e.user, "INBOX").Messages) - 5
			t.Logf("killed with %d of %d messages on the server", onServer, total)

			r := e.mustSync("sync")
			if s := parseSummary(r.stdout); s.errors != 0 {
				t.Errorf("rerun: want 0 errors, got %s", r)
			}
			e.checkInSync(t, inbox)
			if n := e.srv.Status(t, e.user, "INBOX").Messages; n != total+5 {
				t.Errorf("server has %d messages, want %d", n, total+5)
			}

			r = e.mustSync("sync")
			if !strings.Contains(r.stdout, noopSummary) {
				t.Errorf("third run: want %q, got %s", noopSummary, r)
			}
		})
	}
}

// writeClientMail puts n new messages into a local folder as a mail client
// would: LF line endings, unique Message-IDs (prefix-0000...), names
// "<time>.<pid>_<n>.host" without U=; most in new/, every fourth already read
// in cur/.
func writeClientMail(t *testing.T, e *env, folder, prefix string, n int) {
	t.Helper()
	now := time.Now().Unix()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%d.%d_%d.e2ehost", now, os.Getpid(), i)
		sub := "new"
		if i%4 == 0 {
			sub, name = "cur", name+":2,S"
		}
		p := filepath.Join(e.localDir(folder), sub, name)
		if err := os.WriteFile(p, toLF(makeMsg(fmt.Sprintf("%s-%04d", prefix, i), 4000)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
