package test

// Server trouble: a server that refuses commands, one without UIDPLUS, and
// changes behind mailsync's back between runs (UIDVALIDITY reset with new
// content, a folder renamed or deleted). The proxy-based helpers are in
// fault_network_test.go; helpers of this file are prefixed srv.

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
)

// TestFaultSrvRejectedCommands: the server answers NO to UID STORE (a
// flag push in Work) and BAD to APPEND (an upload in Other). Both folders
// fail with the server's text; INBOX, which needs neither, is synced in
// the same run; a rerun against a well-behaved server converges.
func TestFaultSrvRejectedCommands(t *testing.T) {
	t.Parallel()
	e, p := netEnv(t, "")
	inbox, work, other := folderPair{"INBOX", "INBOX"}, folderPair{"Work", "Work"}, folderPair{"Other", "Other"}
	in, wk, ot := seeds("rej-inbox", 6, 2000), seeds("rej-work", 6, 2000), seeds("rej-other", 6, 2000)
	e.seedServer("INBOX", in)
	e.seedServer("Work", wk)
	e.seedServer("Other", ot)
	e.mustSync("sync")

	// INBOX: changes on the server only (pull, flags down, deletion down).
	e.srv.Append(t, e.user, "INBOX", makeMsg("rej-inbox-new", 1500), `\Flagged`)
	e.srv.AddFlags(t, e.user, "INBOX", netServerUID(t, e, "INBOX", msgID("rej-inbox-0001")), `\Seen`)
	e.srv.Expunge(t, e.user, "INBOX", netServerUID(t, e, "INBOX", msgID("rej-inbox-0002")))
	// Work: local flag changes, to be stored on the server.
	netSetLocalFlags(t, e, "Work", msgID("rej-work-0001"), "F")
	netSetLocalFlags(t, e, "Work", msgID("rej-work-0002"), "FS")
	// Other: new local mail, to be appended.
	writeClientMail(t, e, "Other", "rej-other-new", 2)

	p.Set(faultproxy.Fault{Reject: []faultproxy.Reject{
		{Command: "UID STORE", Status: "NO", Text: "[SERVERBUG] flag store refused by the test server"},
		{Command: "APPEND", Status: "BAD", Text: "append refused by the test server"},
	}})
	r := e.run("sync")
	netMustFail(t, r, netFolder("Work"), `flag store refused by the test server`)
	netMustFail(t, r, netFolder("Other"), `append refused by the test server`)
	if s := netSummary(r.stdout); !s.found || s.errors != 2 {
		t.Errorf("want 2 errors (Work and Other), got %s", r)
	}
	if s := p.Stats(); s.Rejects < 2 {
		t.Errorf("the proxy rejected %d commands, want at least 2; %s", s.Rejects, r)
	}
	// INBOX was synced despite the other folders' failures.
	inboxIDs := append(netWithout(netIDs(in), msgID("rej-inbox-0002")), msgID("rej-inbox-new"))
	netConverged(t, e, inbox, inboxIDs)
	// Nothing reached the server from the failed folders.
	for _, m := range e.srv.Messages(t, e.user, "Work") {
		if strings.Contains(serverLetters(m.Flags), "F") && m.MessageID != msgID("rej-work-0000") {
			t.Errorf("Work: %s got \\Flagged on the server although the STORE was refused", m.MessageID)
		}
	}
	if n := len(e.srv.Messages(t, e.user, "Other")); n != len(ot) {
		t.Errorf("Other has %d messages on the server after refused APPENDs, want %d", n, len(ot))
	}

	netRerun(t, e, p)
	netConverged(t, e, inbox, inboxIDs)
	netConverged(t, e, work, netIDs(wk))
	netConverged(t, e, other, append(netIDs(ot), netClientIDs("rej-other-new", 2)...))
	for _, id := range []string{"rej-work-0001", "rej-work-0002"} {
		if l := netLocalFile(t, e, "Work", msgID(id)); !strings.Contains(l.flags, "F") {
			t.Errorf("Work: %s lost its local \\Flagged: %s", id, l.file)
		}
	}
	netFolderSets(t, e)
	netNothingLeft(t, e)
}

// srvNoUIDPLUS is a server without UIDPLUS: the capability is stripped
// (with the APPENDUID codes), and UID EXPUNGE is unknown to it.
var srvNoUIDPLUS = faultproxy.Fault{
	StripCaps: []string{"UIDPLUS"},
	Reject:    []faultproxy.Reject{{Command: "UID EXPUNGE", Status: "BAD", Text: "Unknown command UID EXPUNGE (no UIDPLUS)"}},
}

// TestFaultSrvNoUIDPLUS: without UIDPLUS an APPEND does not tell the new
// UID. Uploads must still be paired with their server copy (so the next
// run downloads nothing), including a message without Message-ID (found
// by size and content); deletions fall back to EXPUNGE; and a kill -9 in
// the middle of a push leaves nothing to duplicate.
func TestFaultSrvNoUIDPLUS(t *testing.T) {
	t.Parallel()
	t.Run("PairsUploadsAndDeletes", func(t *testing.T) {
		t.Parallel()
		e, p := netEnv(t, "")
		inbox := folderPair{"INBOX", "INBOX"}
		p.Set(srvNoUIDPLUS)
		old := seeds("nouidplus-old", 6, 2000)
		e.seedServer("INBOX", old)
		e.mustSync("sync")

		writeClientMail(t, e, "INBOX", "nouidplus-new", 4)
		noID := []byte("From: someone@example.org\nTo: rcpt@example.org\nSubject: no Message-ID here\n\n" +
			strings.Repeat("a line of a message without a Message-ID\n", 40))
		if err := os.WriteFile(filepath.Join(e.localDir("INBOX"), "new", fmt.Sprintf("%d.noid.e2ehost", time.Now().Unix())), noID, 0o600); err != nil {
			t.Fatal(err)
		}
		gone := []string{msgID("nouidplus-old-0001"), msgID("nouidplus-old-0004")}
		for _, id := range gone {
			netRemoveLocal(t, e, "INBOX", id)
		}

		r := e.mustSync("sync")
		if s := netSummary(r.stdout); !s.found || s.pushed != 5 || s.delUp != 2 || s.errors != 0 {
			t.Errorf("want pushed 5, deleted 0↓ 2↑, 0 errors; got %s", r)
		}
		if s := p.Stats(); s.Rejects != 0 {
			t.Errorf("mailsync sent UID EXPUNGE to a server without UIDPLUS (%d times)", s.Rejects)
		}
		want := append(netWithout(netIDs(old), gone...), netClientIDs("nouidplus-new", 4)...)
		want = append(want, "") // the message without Message-ID
		netConverged(t, e, inbox, want)

		before := e.srv.BodyFetches(t, e.user)
		netNothingLeft(t, e)
		if d := e.srv.BodyFetches(t, e.user) - before; d != 0 {
			t.Errorf("the run after the uploads fetched %d bodies: uploads were not paired with their server copies", d)
		}
		// A server that has UIDPLUS again changes nothing.
		p.PassThrough()
		netNothingLeft(t, e)
	})

	// Two identical copies of one message uploaded in one run: without
	// APPENDUID both are found by Message-ID and size, and each must be
	// paired with its own server copy, not both with the first.
	t.Run("IdenticalCopies", func(t *testing.T) {
		t.Parallel()
		e, p := netEnv(t, "")
		p.Set(srvNoUIDPLUS)
		e.seedServer("INBOX", seeds("nouidplus-dup-old", 2, 2000))
		e.mustSync("sync")
		msg := toLF(makeMsg("nouidplus-dup", 3000))
		for i := 0; i < 2; i++ {
			name := filepath.Join(e.localDir("INBOX"), "new", fmt.Sprintf("%d.dup%d.e2ehost", time.Now().Unix(), i))
			if err := os.WriteFile(name, msg, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := e.mustSync("sync")
		if s := netSummary(r.stdout); !s.found || s.pushed != 2 || s.errors != 0 {
			t.Errorf("want pushed 2, 0 errors; got %s", r)
		}
		onServer := map[uint32]bool{}
		for _, m := range e.srv.Messages(t, e.user, "INBOX") {
			if m.MessageID == msgID("nouidplus-dup") {
				onServer[m.UID] = true
			}
		}
		paired := map[uint32]bool{}
		for _, l := range e.local("INBOX") {
			if l.messageID == msgID("nouidplus-dup") {
				paired[l.uid] = true
			}
		}
		if len(onServer) != 2 || len(paired) != 2 || !reflect.DeepEqual(onServer, paired) {
			t.Errorf("want both copies on the server, each local file paired with its own: server UIDs %v, local U= %v", onServer, paired)
		}
		netNothingLeft(t, e)
	})

	t.Run("KillDuringPush", func(t *testing.T) {
		t.Parallel()
		e, p := netEnv(t, "")
		inbox := folderPair{"INBOX", "INBOX"}
		p.Set(srvNoUIDPLUS)
		old := seeds("nouidplus-kill-old", 3, 2000)
		e.seedServer("INBOX", old)
		e.mustSync("sync")
		const total = 100
		writeClientMail(t, e, "INBOX", "nouidplus-kill", total)

		srvDir := e.srv.MailboxDir(e.user, "INBOX")
		base := countLocal(srvDir)
		pr := e.start("sync")
		if !waitFor(pr, 60*time.Second, func() bool { return countLocal(srvDir)-base >= 15 }) {
			t.Fatalf("the server never had 15 new messages while mailsync ran: %d; %s", countLocal(srvDir)-base, pr.res)
		}
		if !pr.kill9() {
			t.Fatalf("mailsync finished before it could be killed; %s", pr.res)
		}
		t.Logf("killed with %d of %d messages on the server", len(e.srv.Messages(t, e.user, "INBOX"))-len(old), total)

		// Still without UIDPLUS: the journal must find what was appended.
		r := e.mustSync("sync")
		if s := netSummary(r.stdout); !s.found || s.errors != 0 {
			t.Errorf("rerun: want 0 errors, got %s", r)
		}
		netConverged(t, e, inbox, append(netIDs(old), netClientIDs("nouidplus-kill", total)...))
		netNothingLeft(t, e)
		p.PassThrough()
		netNothingLeft(t, e)
	})
}

// TestFaultSrvUIDValidityRefilled: between two runs the server's Work is
// emptied and refilled with different messages under a new UIDVALIDITY (a
// restore of the wrong backup, a mailbox re-created by an admin). Nothing
// can be matched, so the run must stop on that folder with a clear
// UIDVALIDITY message and delete nothing on either side, while the other
// folders sync. Following the message's advice (move the local folder
// aside) must then lead to a clean sync.
func TestFaultSrvUIDValidityRefilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	inbox, work := folderPair{"INBOX", "INBOX"}, folderPair{"Work", "Work"}
	in, oldWork := seeds("uvr-inbox", 3, 2000), seeds("uvr-old", 8, 3000)
	e.seedServer("INBOX", in)
	e.seedServer("Work", oldWork)
	e.mustSync("sync")
	old := e.srv.Status(t, e.user, "Work").UIDValidity

	e.srv.DeleteMailbox(t, e.user, "Work")
	newWork := seeds("uvr-new", 8, 3000)
	e.seedServer("Work", newWork)
	e.srv.SetUIDValidity(t, e.user, "Work", old+1000)
	e.srv.Append(t, e.user, "INBOX", makeMsg("uvr-inbox-new", 1500))

	localBefore := tree(t, e.localDir("Work"))
	srvBefore := e.srv.Messages(t, e.user, "Work")
	check := func(what string) {
		t.Helper()
		r := e.run("sync")
		netMustFail(t, r, netFolder("Work"), `UIDVALIDITY`)
		if s := netSummary(r.stdout); !s.found || s.delDown != 0 || s.delUp != 0 || s.errors != 1 {
			t.Errorf("%s: want no deletions and 1 error, got %s", what, r)
		}
		if after := tree(t, e.localDir("Work")); !reflect.DeepEqual(after, localBefore) {
			t.Errorf("%s: the local Work changed:\n%s", what, treeDiff(localBefore, after))
		}
		if after := e.srv.Messages(t, e.user, "Work"); !reflect.DeepEqual(after, srvBefore) {
			t.Errorf("%s: the server's Work changed: %d messages before, %d after", what, len(srvBefore), len(after))
		}
		netConverged(t, e, inbox, append(netIDs(in), msgID("uvr-inbox-new")))
	}
	check("first run")
	// It stays stopped: a second run neither guesses nor deletes.
	check("second run")
	var oldIDs []string
	for _, l := range e.local("Work") {
		oldIDs = append(oldIDs, l.messageID)
	}
	if !reflect.DeepEqual(srvSorted(oldIDs), srvSorted(netIDs(oldWork))) {
		t.Errorf("the local Work holds %v, want the old messages %v", oldIDs, netIDs(oldWork))
	}
	if t.Failed() {
		return
	}

	// The message says: "To start this folder afresh, move .../Work out of
	// the Maildir tree (e.g. to a backup directory) and run `mailsync sync`
	// again". That must work: the server's new Work is downloaded, the old
	// local messages stay in the copy moved aside.
	t.Run("MoveAsideAsAdvised", func(t *testing.T) {
		aside := filepath.Join(e.dir, "Work.aside")
		if err := os.Rename(e.localDir("Work"), aside); err != nil {
			t.Fatal(err)
		}
		r := e.run("sync")
		if r.code != 0 {
			t.Errorf("after moving the local Work aside as the UIDVALIDITY message advises: want exit 0, got %s", r)
		}
		netConverged(t, e, work, netIDs(newWork))
		netConverged(t, e, inbox, append(netIDs(in), msgID("uvr-inbox-new")))
		if got := len(tree(t, filepath.Join(aside, "cur"))) + len(tree(t, filepath.Join(aside, "new"))) - 2; got != len(oldWork) {
			t.Errorf("the folder moved aside holds %d messages, want %d", got, len(oldWork))
		}
		if t.Failed() {
			return
		}
		netFolderSets(t, e)
		netNothingLeft(t, e)
	})
}

func srvSorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

// TestFaultSrvFolderVanished: a synced folder disappears from the server
// between runs, renamed (Work → Work2) or deleted. The local copy is kept
// (never deleted, nothing uploaded to re-create it), the run reports the
// vanished folder by name and exits 1, the rest is synced (the renamed
// folder is downloaded under its new name). Following the message's
// advice then leads to a clean sync with no local message lost.
func TestFaultSrvFolderVanished(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, prefix string) (*env, []seed, []seed) {
		e := newEnv(t, envOptions{})
		in, wk := seeds(prefix+"-inbox", 3, 2000), seeds(prefix+"-work", 5, 3000)
		e.seedServer("INBOX", in)
		e.seedServer("Work", wk)
		e.mustSync("sync")
		return e, in, wk
	}
	// vanished checks a run after Work vanished from the server.
	vanished := func(t *testing.T, e *env, localBefore map[string]int64) result {
		t.Helper()
		r := e.run("sync")
		netMustFail(t, r, `"Work"|\bWork\b`, `(?i)gone|vanished|no longer|missing`)
		if s := netSummary(r.stdout); !s.found || s.delDown != 0 || s.delUp != 0 || s.pushed != 0 {
			t.Errorf("want no deletions and no uploads, got %s", r)
		}
		if after := tree(t, e.localDir("Work")); !reflect.DeepEqual(after, localBefore) {
			t.Errorf("the local Work changed:\n%s", treeDiff(localBefore, after))
		}
		for _, m := range e.srv.Mailboxes(t, e.user) {
			if m == "Work" {
				t.Errorf("mailsync re-created Work on the server")
			}
		}
		return r
	}

	t.Run("Renamed", func(t *testing.T) {
		t.Parallel()
		e, in, wk := setup(t, "ren")
		e.srv.RenameMailbox(t, e.user, "Work", "Work2")
		e.srv.Append(t, e.user, "INBOX", makeMsg("ren-inbox-new", 1500))
		inboxIDs := append(netIDs(in), msgID("ren-inbox-new"))
		localBefore := tree(t, e.localDir("Work"))

		r := vanished(t, e, localBefore)
		if s := netSummary(r.stdout); s.pulled != len(wk)+1 {
			t.Errorf("want Work2 (%d) and the new INBOX message pulled, got %s", len(wk), r)
		}
		netConverged(t, e, folderPair{"Work2", "Work2"}, netIDs(wk))
		netConverged(t, e, folderPair{"INBOX", "INBOX"}, inboxIDs)
		vanished(t, e, localBefore) // stable: reported again, still nothing deleted

		// The advice: remove the local folder (its mail is in Work2 now).
		if err := os.RemoveAll(e.localDir("Work")); err != nil {
			t.Fatal(err)
		}
		r = e.mustSync("sync")
		if s := netSummary(r.stdout); !s.found || s.errors != 0 || s.delUp != 0 || s.delDown != 0 {
			t.Errorf("after removing the local Work: want 0 errors, no deletions; got %s", r)
		}
		netConverged(t, e, folderPair{"Work2", "Work2"}, netIDs(wk))
		netConverged(t, e, folderPair{"INBOX", "INBOX"}, inboxIDs)
		netFolderSets(t, e)
		netNothingLeft(t, e)
	})

	t.Run("Deleted", func(t *testing.T) {
		t.Parallel()
		e, in, wk := setup(t, "del")
		e.srv.DeleteMailbox(t, e.user, "Work")
		e.srv.Append(t, e.user, "INBOX", makeMsg("del-inbox-new", 1500))
		inboxIDs := append(netIDs(in), msgID("del-inbox-new"))
		localBefore := tree(t, e.localDir("Work"))

		vanished(t, e, localBefore)
		netConverged(t, e, folderPair{"INBOX", "INBOX"}, inboxIDs)
		vanished(t, e, localBefore)
		if t.Failed() {
			return
		}

		// The advice: "Remove the local folder, or re-create the folder on
		// the server, to continue". Re-creating it must bring the local
		// mail back up into the new, empty folder, nothing lost.
		t.Run("RecreateOnServerAsAdvised", func(t *testing.T) {
			e.srv.CreateMailbox(t, e.user, "Work")
			r := e.run("sync")
			if r.code != 0 {
				t.Errorf("after re-creating Work on the server as the message advises: want exit 0, got %s", r)
			}
			if got := len(e.local("Work")); got != len(wk) {
				t.Errorf("the local Work has %d messages, want all %d kept", got, len(wk))
			}
			netConverged(t, e, folderPair{"Work", "Work"}, netIDs(wk))
			netConverged(t, e, folderPair{"INBOX", "INBOX"}, inboxIDs)
			if t.Failed() {
				return
			}
			netFolderSets(t, e)
			netNothingLeft(t, e)
		})
	})
}
