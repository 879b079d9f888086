package test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestT01ConfigErrors: usage and configuration errors exit 2 before
// anything is touched, and say what is wrong and where. No server needed:
// each case fails before mailsync would connect.
func TestT01ConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "config.toml"),
		mail: filepath.Join(dir, "Mail"), state: filepath.Join(dir, "state")}
	good := fmt.Sprintf(`[general]
state_dir = %q

[accounts.%s.remote]
host = "127.0.0.1"
port = 1
tls = "none"
allow_plaintext = true
user = "nobody"
password = "x"

[accounts.%s.local]
path = %q
`, e.state, acct, acct, e.mail)
	if err := os.WriteFile(e.cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	badKey := strings.Replace(good, `user = "nobody"`, "user = \"nobody\"\nhots = \"127.0.0.1\"", 1)
	badKeyLine := 1 + strings.Count(badKey[:strings.Index(badKey, "hots")], "\n")
	badPath := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(badPath, []byte(badKey), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-dir", "missing.toml")

	cases := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"unknown global flag", []string{"-c", e.cfg, "--no-such-flag", "sync"}, []string{"no-such-flag"}},
		{"unknown sync flag", []string{"-c", e.cfg, "sync", "--bogus"}, []string{"bogus"}},
		{"unknown command", []string{"-c", e.cfg, "synx"}, []string{"synx"}},
		{"bad --log-format", []string{"-c", e.cfg, "--log-format", "xml", "sync"}, []string{"xml"}},
		{"missing config file", []string{"-c", missing, "sync"}, []string{missing}},
		{"unknown key", []string{"-c", badPath, "sync"},
			[]string{fmt.Sprintf("%s:%d: accounts.%s.remote.hots: unknown key", badPath, badKeyLine, acct)}},
		{"unknown account", []string{"-c", e.cfg, "sync", "-a", "nosuch"}, []string{`"nosuch"`}},
		{"unknown account in list", []string{"-c", e.cfg, "sync", "-a", acct + ",nosuch"}, []string{`"nosuch"`}},
		// Without -c the default path is under our fake HOME: the user's
		// real config is never read.
		{"default config path", []string{"sync"}, []string{filepath.Join(dir, "home", ".config", "mailsync", "config.toml")}},
	}
	for _, c := range cases {
		r := startBin(t, e.binEnv(), c.args...).wait(30 * time.Second)
		if r.code != 2 || r.signal != 0 {
			t.Errorf("%s: mailsync %s: want exit 2, got %s", c.name, strings.Join(c.args, " "), r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr does not mention %q:\n%s", c.name, w, r)
			}
		}
	}
	// None of this may have created the state dir or the Maildir.
	for _, p := range []string{e.state, e.mail} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created by a run that failed with a usage error", p)
		}
	}
}

// TestT02InitialPullAndIdempotence: a first run pulls every folder,
// including nested ("Archive.2024" with '.' as separator) and non-ASCII
// ("Entwürfe") ones; a second run finds nothing to do and downloads nothing;
// -q is silent when all is well.
func TestT02InitialPullAndIdempotence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	folders := []folderPair{{"INBOX", "INBOX"}, {"Archive.2024", "Archive/2024"}, {"Entwürfe", "Entwürfe"}}
	e.seedServer("INBOX", seeds("inbox", 18, 3000))
	e.seedServer("Archive.2024", seeds("archive", 12, 5000))
	e.seedServer("Entwürfe", seeds("entwurf", 8, 2000))
	// Two more through `doveadm save` (srv.Append), with flags set after
	// saving, as another client's changes would arrive.
	e.srv.Append(t, e.user, "INBOX", makeMsg("appended-1", 1500), `\Seen`, `\Answered`)
	e.srv.Append(t, e.user, "Entwürfe", makeMsg("appended-2", 1500), `\Draft`)
	total := 18 + 12 + 8 + 2

	r := e.mustSync("sync")
	if s := parseSummary(r.stdout); !s.found || s.pulled != total || s.errors != 0 {
		t.Errorf("first run: want a summary with pulled %d and 0 errors, got %s", total, r)
	}
	for _, f := range folders {
		e.checkInSync(t, f)
		if n := e.checkComplete(t, f); n == 0 {
			t.Errorf("local folder %s is empty", f.local)
		}
	}
	// The fs layout: nested folders are nested directories.
	for _, d := range []string{"INBOX", "Archive/2024", "Entwürfe"} {
		if st, err := os.Stat(filepath.Join(e.localDir(d), "cur")); err != nil || !st.IsDir() {
			t.Errorf("expected a Maildir at %s: %v", e.localDir(d), err)
		}
	}
	// New files are named KEY,U=<uid>,FMD5=<md5 of the local folder name>:2,<flags>.
	for _, f := range folders {
		want := folderMD5(f.local)
		for _, l := range e.local(f.local) {
			if l.fmd5 != want || l.uid == 0 || (l.sub == "cur" && !strings.Contains(l.file, ":2,")) {
				t.Errorf("%s/%s/%s: want KEY,U=<uid>,FMD5=%s:2,<flags>", f.local, l.sub, l.file, want)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	before := e.srv.BodyFetches(t, e.user)
	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("second run: want summary %q, got %s", noopSummary, r)
	}
	if after := e.srv.BodyFetches(t, e.user); after != before {
		t.Errorf("second run fetched %d message bodies; want 0", after-before)
	}
	for _, f := range folders {
		e.checkInSync(t, f)
	}

	r = e.mustSync("-q", "sync")
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("-q with nothing wrong must print nothing; got %s", r)
	}
	r = e.mustSync("sync", "-q")
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("-q after the subcommand must print nothing either; got %s", r)
	}
}

// TestT08DryRunChangesNothing: --dry-run with changes on both sides prints
// what it would do and changes neither side nor the state.
func TestT08DryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	inbox := folderPair{"INBOX", "INBOX"}
	e.seedServer("INBOX", seeds("dry", 10, 2000))
	e.mustSync("sync")

	// Server side: a new message, a flag change, an expunge.
	byID := map[string]uint32{}
	for _, m := range e.srv.Messages(t, e.user, "INBOX") {
		byID[m.MessageID] = m.UID
	}
	e.srv.Append(t, e.user, "INBOX", makeMsg("dry-new-on-server", 1000))
	e.srv.AddFlags(t, e.user, "INBOX", byID[msgID("dry-0001")], `\Draft`)
	e.srv.Expunge(t, e.user, "INBOX", byID[msgID("dry-0002")])
	// Local side: a new file, a flag change, a deletion.
	newFile := filepath.Join(e.localDir("INBOX"), "new", fmt.Sprintf("%d.1.e2ehost", time.Now().Unix()))
	if err := os.WriteFile(newFile, toLF(makeMsg("dry-new-locally", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, l := range e.local("INBOX") {
		switch l.messageID {
		case msgID("dry-0004"): // no D flag yet
			base, _, _ := strings.Cut(l.file, ":2,")
			to := filepath.Join(e.localDir("INBOX"), "cur", base+":2,"+maildirSorted(l.flags+"D"))
			if err := os.Rename(l.path, to); err != nil {
				t.Fatal(err)
			}
		case msgID("dry-0005"):
			if err := os.Remove(l.path); err != nil {
				t.Fatal(err)
			}
		}
	}

	localBefore := tree(t, e.mail)
	stateBefore := stateHashes(t, e.state)
	srvBefore := e.srv.Messages(t, e.user, "INBOX")
	statusBefore := e.srv.Status(t, e.user, "INBOX")
	fetchesBefore := e.srv.BodyFetches(t, e.user)

	r := e.mustSync("sync", "--dry-run")
	// The folder's line and the account's summary say "would".
	for _, want := range []string{
		acct + "/INBOX: would pull 1, push 1, flags 1↓ 1↑, delete 1↓ 1↑",
		acct + ": would pull 1, push 1, flags 1↓ 1↑, delete 1↓ 1↑, 0 errors (",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run: want a line %q, got %s", want, r)
		}
	}
	for _, w := range []string{"would   pull uid", "would   push ", "would   delete local ", "would   delete server uid"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("dry run: want a line containing %q, got %s", w, r)
		}
	}

	if after := tree(t, e.mail); !reflect.DeepEqual(after, localBefore) {
		t.Errorf("dry run changed the local tree:\nbefore %v\nafter  %v", localBefore, after)
	}
	if after := e.srv.Messages(t, e.user, "INBOX"); !reflect.DeepEqual(after, srvBefore) {
		t.Errorf("dry run changed the server:\nbefore %+v\nafter  %+v", srvBefore, after)
	}
	if after := e.srv.Status(t, e.user, "INBOX"); after != statusBefore {
		t.Errorf("dry run changed the server's status: before %+v, after %+v", statusBefore, after)
	}
	if after := e.srv.BodyFetches(t, e.user); after != fetchesBefore {
		t.Errorf("dry run fetched %d message bodies; want 0", after-fetchesBefore)
	}
	if after := stateHashes(t, e.state); !reflect.DeepEqual(after, stateBefore) {
		t.Errorf("dry run wrote to the state:\nbefore %v\nafter  %v", stateBefore, after)
	}
	// And the real run below must still find every change.

	r = e.mustSync("sync")
	s := parseSummary(r.stdout)
	if s.pulled != 1 || s.pushed != 1 || s.flagsDown != 1 || s.flagsUp != 1 || s.delDown != 1 || s.delUp != 1 || s.errors != 0 {
		t.Errorf("real run after the dry run: want pulled 1, pushed 1, flags 1↓ 1↑, deleted 1↓ 1↑; got %s", r)
	}
	e.checkInSync(t, inbox)
}

// TestT08DryRunAfterUIDValidityChange: a dry run right after the server
// renumbered a folder (new UIDVALIDITY, new UIDs) must not touch the local
// files, the state or the server either; the real run after it re-associates
// the messages without downloading them again.
func TestT08DryRunAfterUIDValidityChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	work := folderPair{"Work", "Work"}
	msgs := seeds("renum", 6, 2000)
	e.seedServer("Work", msgs)
	e.mustSync("sync")
	old := e.srv.Status(t, e.user, "Work").UIDValidity

	// The server loses the folder and gets it back from a backup, with UIDs
	// starting at 100: every message has a new UID, and none of the new
	// UIDs was in use before (so the re-association itself is simple).
	e.srv.DeleteMailbox(t, e.user, "Work")
	e.srv.CreateMailbox(t, e.user, "Work")
	e.srv.Doveadm(t, "mailbox", "update", "-u", e.user, "--min-next-uid", "100", "Work")
	e.seedServer("Work", msgs)
	e.srv.SetUIDValidity(t, e.user, "Work", old+1000)
	if m := e.srv.Messages(t, e.user, "Work"); len(m) != 6 || m[0].UID < 100 {
		t.Fatalf("renumbering the server folder did not work: %+v", m)
	}

	localBefore := tree(t, e.mail)
	stateBefore := stateHashes(t, e.state)
	srvBefore := e.srv.Messages(t, e.user, "Work")
	fetchesBefore := e.srv.BodyFetches(t, e.user)
	r := e.mustSync("sync", "--dry-run")
	if after := tree(t, e.mail); !reflect.DeepEqual(after, localBefore) {
		t.Errorf("dry run after a UIDVALIDITY change changed the local tree:\n%s\n%s", treeDiff(localBefore, after), r)
	}
	if after := stateHashes(t, e.state); !reflect.DeepEqual(after, stateBefore) {
		t.Errorf("dry run after a UIDVALIDITY change wrote to the state:\nbefore %v\nafter  %v", stateBefore, after)
	}
	if after := e.srv.Messages(t, e.user, "Work"); !reflect.DeepEqual(after, srvBefore) {
		t.Errorf("dry run changed the server:\nbefore %+v\nafter  %+v", srvBefore, after)
	}
	if after := e.srv.BodyFetches(t, e.user); after != fetchesBefore {
		t.Errorf("dry run fetched %d message bodies; want 0", after-fetchesBefore)
	}

	before := e.srv.BodyFetches(t, e.user)
	r = e.mustSync("sync")
	if d := e.srv.BodyFetches(t, e.user) - before; d != 0 {
		t.Errorf("real run: fetched %d bodies, want 0 (every message is already here). %s", d, r)
	}
	e.checkInSync(t, work)
	e.checkComplete(t, work)
}

// TestT09UnmountedLocalRoot: when the local root disappears (an unmounted
// disk), the run fails with an explanation and deletes nothing on the
// server; once the root is back, there is nothing to do.
func TestT09UnmountedLocalRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("mnt", 25, 1500))
	e.seedServer("Sub.Folder", seeds("mnt-sub", 5, 1500))
	e.mustSync("sync")
	srvBefore := e.srv.Messages(t, e.user, "INBOX")
	subBefore := e.srv.Messages(t, e.user, "Sub.Folder")

	away := e.mail + ".away"
	if err := os.Rename(e.mail, away); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		r := e.run("sync")
		if r.code != 1 || r.signal != 0 {
			t.Errorf("%s: want exit 1, got %s", what, r)
		}
		if !strings.Contains(r.stderr, e.mail) || !strings.Contains(r.stderr, "missing or empty") {
			t.Errorf("%s: stderr should say that the local root %s is missing or empty; got %s", what, e.mail, r)
		}
		if got := e.srv.Messages(t, e.user, "INBOX"); !reflect.DeepEqual(got, srvBefore) {
			t.Errorf("%s: the server's INBOX changed: had %d messages, now %d", what, len(srvBefore), len(got))
		}
		if got := e.srv.Messages(t, e.user, "Sub.Folder"); !reflect.DeepEqual(got, subBefore) {
			t.Errorf("%s: the server's Sub.Folder changed: had %d messages, now %d", what, len(subBefore), len(got))
		}
	}
	check("root missing")
	if _, err := os.Stat(e.mail); err == nil {
		t.Errorf("the failed run re-created %s", e.mail)
		os.RemoveAll(e.mail)
	}
	// An empty mount point looks the same.
	if err := os.Mkdir(e.mail, 0o700); err != nil {
		t.Fatal(err)
	}
	check("root empty")
	if err := os.Remove(e.mail); err != nil {
		t.Fatalf("the failed run put something into the empty root: %v", err)
	}

	if err := os.Rename(away, e.mail); err != nil {
		t.Fatal(err)
	}
	r := e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("after the root is back: want %q, got %s", noopSummary, r)
	}
	e.checkInSync(t, folderPair{"INBOX", "INBOX"})
	e.checkInSync(t, folderPair{"Sub.Folder", "Sub/Folder"})
}

// TestT10UIDValidityReset: after the server changes a folder's UIDVALIDITY,
// a run re-associates the messages it has (by Message-ID and size) without
// downloading them again; only the one new message is fetched.
func TestT10UIDValidityReset(t *testing.T) {
	t.Parallel()
	// keptUIDs: `doveadm mailbox update --uid-validity` (srv.SetUIDValidity)
	// changes UIDVALIDITY only; the messages keep their UIDs.
	t.Run("keptUIDs", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		e.seedServer("INBOX", seeds("uidv", 15, 3000))
		e.mustSync("sync")
		old := e.srv.Status(t, e.user, "INBOX").UIDValidity
		e.srv.SetUIDValidity(t, e.user, "INBOX", old+1000)
		if got := e.srv.Status(t, e.user, "INBOX").UIDValidity; got != old+1000 {
			t.Fatalf("UIDVALIDITY is %d after setting it to %d", got, old+1000)
		}
		e.srv.Append(t, e.user, "INBOX", makeMsg("uidv-new", 2000), `\Flagged`)
		checkReassociation(t, e, folderPair{"INBOX", "INBOX"})
	})

	// renumbered: the folder is restored from a backup (deleted and
	// re-created), with a new message that now comes first, so every old
	// message has a new UID, and the new UIDs overlap the old ones (old
	// UID n is now UID n+1).
	t.Run("renumbered", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		msgs := seeds("renum", 15, 3000)
		e.seedServer("Work", msgs)
		e.mustSync("sync")
		old := e.srv.Status(t, e.user, "Work").UIDValidity
		e.srv.DeleteMailbox(t, e.user, "Work")
		e.seedServer("Work", []seed{{id: "renum-new", size: 2000, flags: "F"}})
		e.seedServer("Work", msgs)
		e.srv.SetUIDValidity(t, e.user, "Work", old+1000) // in case the re-created folder got the same one
		checkReassociation(t, e, folderPair{"Work", "Work"})
	})
}

// checkReassociation runs a sync after a UIDVALIDITY change that added one
// new message and checks that only that message was downloaded.
func checkReassociation(t *testing.T, e *env, f folderPair) {
	t.Helper()
	before := e.srv.BodyFetches(t, e.user)
	r := e.run("sync")
	if r.code != 0 || r.signal != 0 {
		t.Errorf("after the UIDVALIDITY change: want exit 0, got %s", r)
	}
	if d := e.srv.BodyFetches(t, e.user) - before; d != 1 {
		t.Errorf("after the UIDVALIDITY change the run fetched %d bodies; want exactly 1 (the new message). %s", d, r)
	}
	if s := parseSummary(r.stdout); s.pulled != 1 || s.errors != 0 || s.delDown != 0 || s.delUp != 0 {
		t.Errorf("want pulled 1, no deletions and 0 errors; got %s", r)
	}
	e.checkInSync(t, f)
	if t.Failed() {
		return
	}
	e.checkComplete(t, f)

	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("run after the re-association: want %q, got %s", noopSummary, r)
	}
}

// treeDiff describes how two tree() listings differ.
func treeDiff(before, after map[string]int64) string {
	var out []string
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, "  - "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, "  + "+p)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "  (same names, different sizes)"
	}
	return strings.Join(out, "\n")
}

// TestSyncFolderByName: -f takes INBOX in any case, as IMAP defines it;
// a name that matches no folder is a usage error (exit 2) that syncs
// nothing and names the nearest folders.
func TestSyncFolderByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("byname", 2, 1000))
	e.seedServer("Sent", seeds("byname-sent", 1, 1000))

	r := e.run("sync", "-f", "Snet")
	if r.code != 2 || !strings.Contains(r.stderr, `no folder "Snet"`) || !strings.Contains(r.stderr, `the nearest: "Sent"`) {
		t.Errorf("sync -f Snet: want exit 2 naming Snet and the nearest, Sent; got %s", r)
	}
	if n := countLocal(e.localDir("Sent")) + countLocal(e.localDir("INBOX")); n != 0 {
		t.Errorf("sync -f Snet synced %d messages; want none", n)
	}

	r = e.mustSync("sync", "-f", "inbox")
	if s := parseSummary(r.stdout); s.pulled != 2 {
		t.Errorf("sync -f inbox: want INBOX's 2 messages pulled, got %s", r)
	}
	if n := countLocal(e.localDir("Sent")); n != 0 {
		t.Errorf("sync -f inbox synced Sent too (%d messages)", n)
	}
}

// TestStartFromNothing: without a config file, mailsync says how to
// start (exit 2); `config example` prints the annotated config (which
// config.TestExample loads).
func TestStartFromNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	cfg := filepath.Join(dir, "home", ".config", "mailsync", "config.toml")
	r := startBin(t, e.binEnv(), "sync").wait(30e9)
	if r.code != 2 || !strings.Contains(r.stderr, "mailsync config example > "+cfg) || !strings.Contains(r.stderr, "import offlineimap --write") {
		t.Errorf("sync without a config: want exit 2 pointing at `mailsync config example > %s` and the importers; got %s", cfg, r)
	}
	r = startBin(t, e.binEnv(), "config", "example").wait(30e9)
	if r.code != 0 || !strings.Contains(r.stdout, "[accounts.personal.remote]") {
		t.Fatalf("config example: %s", r)
	}
}
