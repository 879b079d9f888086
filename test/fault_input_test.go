package test

// Fault injection: hostile or surprising local input. Odd files in a
// Maildir, and a mail client renaming files while mailsync runs.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// inputWarned reports whether stderr carries a warning line naming path
// (plain, or quoted the way the console log writer quotes odd values).
func inputWarned(stderr, path string) bool {
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.Contains(l, "WRN") {
			continue
		}
		if strings.Contains(l, path) || strings.Contains(l, strconv.Quote(path)) {
			return true
		}
	}
	return false
}

// inputFile is a hostile entry put into a Maildir.
type inputFile struct {
	what string
	path string
	ids  []string // Message-IDs of the messages it holds or points to
	// warn: a run must print a warning naming the path.
	warn bool
}

// inputMsg is the LF (client) form of test message id.
func inputMsg(id string) []byte { return toLF(makeMsg(id, 1500)) }

func inputWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// inputName is a client-style unique file name part.
func inputName(n int) string {
	return fmt.Sprintf("%d.%d_%d.inputhost", time.Now().Unix(), os.Getpid(), n)
}

// inputHostileRuns syncs a small INBOX, lets place put hostile entries
// into it (given the folder's cur/ and the server's status), adds one
// ordinary new message next to them, and runs mailsync twice. Each run must
// exit 0 (hostile files are warnings, not errors), warn about every entry
// by its full path, upload the ordinary message (first run) and nothing
// else, leave every hostile entry where it was, and leave both sides
// converged apart from the hostile entries.
func inputHostileRuns(t *testing.T, place func(e *env, cur string, st dovetest.Status) []inputFile) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	inbox := folderPair{"INBOX", "INBOX"}
	want := crashModel{}
	diskSeedModel(e, want, inbox, seeds("input-old", 5, 2000))
	e.mustSync("sync")
	if !crashConverged(t, e, want) {
		t.FailNow()
	}
	srvBefore := e.srv.Status(t, e.user, "INBOX")
	hostile := place(e, filepath.Join(e.localDir("INBOX"), "cur"), srvBefore)

	// Ordinary new mail next to them must still be synced.
	legit := filepath.Join(e.localDir("INBOX"), "new", inputName(99))
	inputWrite(t, legit, inputMsg("input-legit"))
	want.add("INBOX", inputMsg("input-legit"), "")

	var ignore []string
	for _, h := range hostile {
		ignore = append(ignore, h.path)
	}
	for run := 1; run <= 2; run++ {
		r := e.run("sync")
		if r.code != 0 || r.signal != 0 {
			t.Errorf("run %d with hostile files: want exit 0 (they are warnings, not errors), got %s", run, r)
		}
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
			t.Errorf("run %d crashed: %s", run, r)
		}
		for _, h := range hostile {
			if h.warn && !inputWarned(r.stderr, h.path) {
				t.Errorf("run %d: no warning naming the %s %s; got %s", run, h.what, h.path, r)
			}
		}
		s := crashSummary(r.stdout)
		if !s.found || s.errors != 0 {
			t.Errorf("run %d: want a summary with 0 errors, got %s", run, r)
		}
		if wantPushed := 2 - run; s.pushed != wantPushed {
			t.Errorf("run %d: want pushed %d (the ordinary new file, on the first run), got %s", run, wantPushed, r)
		}

		// Nothing hostile reached the server: only the ordinary new message.
		srv := e.srv.Messages(t, e.user, "INBOX")
		if len(srv) != int(srvBefore.Messages)+1 {
			t.Errorf("run %d: the server has %d messages, want %d (%d before + the ordinary new one)",
				run, len(srv), srvBefore.Messages+1, srvBefore.Messages)
		}
		for _, m := range srv {
			for _, h := range hostile {
				for _, id := range h.ids {
					if m.MessageID == id {
						t.Errorf("run %d: the %s %s was uploaded as UID %d", run, h.what, h.path, m.UID)
					}
				}
			}
		}
		// The hostile entries are left exactly where they were.
		for _, h := range hostile {
			if _, err := os.Lstat(h.path); err != nil {
				t.Errorf("run %d: the %s %s was moved or removed: %v", run, h.what, h.path, err)
			}
		}
		crashConverged(t, e, want, ignore...)
		if t.Failed() {
			t.FailNow()
		}
	}
	return e
}

// TestInputHostileFiles: files no mail client should leave in a Maildir —
// malformed names (":2," twice, ":1,"), an empty file with a valid name, a
// directory named like a message (with a message inside), a symlink to a
// message outside the tree — are skipped with a warning naming each of
// them; the run still succeeds (exit 0) and syncs the ordinary new mail
// next to them; none of them reaches the server; the symlink is never
// followed and its target never touched.
func TestInputHostileFiles(t *testing.T) {
	t.Parallel()
	var target string
	var targetBefore []byte
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	inputHostileRuns(t, func(e *env, cur string, _ dovetest.Status) []inputFile {
		// The symlink's target lives outside the Maildir tree.
		outside := filepath.Join(e.dir, "outside")
		if err := os.Mkdir(outside, 0o700); err != nil {
			t.Fatal(err)
		}
		target = filepath.Join(outside, "secret.eml")
		targetBefore = inputMsg("input-symlink-target")
		inputWrite(t, target, targetBefore)
		if err := os.Chtimes(target, old, old); err != nil {
			t.Fatal(err)
		}
		hostile := []inputFile{
			{what: "file with two info parts", path: filepath.Join(cur, "bad:2,S:2,S"), ids: []string{msgID("input-two-infos")}, warn: true},
			{what: "file with experimental info", path: filepath.Join(cur, "x:1,abc"), ids: []string{msgID("input-info1")}, warn: true},
			{what: "empty file", path: filepath.Join(cur, inputName(1)+":2,S"), warn: true},
			{what: "directory", path: filepath.Join(cur, inputName(2)+":2,S"), ids: []string{msgID("input-in-directory")}, warn: true},
			{what: "symlink", path: filepath.Join(cur, inputName(3)+":2,S"), ids: []string{msgID("input-symlink-target")}, warn: true},
		}
		inputWrite(t, hostile[0].path, inputMsg("input-two-infos"))
		inputWrite(t, hostile[1].path, inputMsg("input-info1"))
		inputWrite(t, hostile[2].path, nil)
		if err := os.Mkdir(hostile[3].path, 0o700); err != nil {
			t.Fatal(err)
		}
		inputWrite(t, filepath.Join(hostile[3].path, "inside"), inputMsg("input-in-directory"))
		if err := os.Symlink(target, hostile[4].path); err != nil {
			t.Fatal(err)
		}
		return hostile
	})
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, targetBefore) {
		t.Errorf("the symlink target %s changed (err %v)", target, err)
	}
	if st, err := os.Stat(target); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("the symlink target's mtime changed (err %v)", err)
	}
}

// TestInputStaleUIDFile: a file named with this folder's FMD5 but a U= the
// server never handed out (copied from another account, or from before a
// server reset). Its U= proves nothing, so it is treated as what it is, a
// message the server doesn't have: uploaded once, renamed to its real UID,
// and left alone by the next run. It is never deleted.
func TestInputStaleUIDFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	inbox := folderPair{"INBOX", "INBOX"}
	want := crashModel{}
	diskSeedModel(e, want, inbox, seeds("input-old", 5, 2000))
	e.mustSync("sync")
	st := e.srv.Status(t, e.user, "INBOX")
	ghost := filepath.Join(e.localDir("INBOX"), "cur",
		fmt.Sprintf("%s,U=%d,FMD5=%s:2,S", inputName(4), st.UIDNext+1000, folderMD5("INBOX")))
	inputWrite(t, ghost, inputMsg("input-ghost-uid"))
	want.add("INBOX", inputMsg("input-ghost-uid"), "S")

	r := e.mustSync("sync")
	if s := parseSummary(r.stdout); s.pushed != 1 {
		t.Errorf("want the file uploaded once (pushed 1), got %s", r)
	}
	if !crashConverged(t, e, want) {
		t.FailNow()
	}
	var found []localMsg
	for _, l := range e.local("INBOX") {
		if l.messageID == msgID("input-ghost-uid") {
			found = append(found, l)
		}
	}
	if len(found) != 1 || found[0].uid == st.UIDNext+1000 || found[0].uid < st.UIDNext {
		t.Errorf("want the file renamed to the UID the server gave it (>= %d), got %+v", st.UIDNext, found)
	}
	r = e.mustSync("sync")
	if s := parseSummary(r.stdout); !s.found || s.pulled+s.pushed+s.flagsDown+s.flagsUp+s.delDown+s.delUp != 0 {
		t.Errorf("the next run was not a no-op: %s", r)
	}
}

// TestInputConcurrentClient: while mailsync pulls 300 messages of 50 KB, a
// mail client keeps renaming messages that were synced before, as it does
// when the user flags and reads them (new/ → cur/, flags in the name). The
// run succeeds; the next run pushes the client's final flags, and then
// server flags equal local flags for every message, with nothing lost or
// duplicated.
func TestInputConcurrentClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	want := crashModel{}
	inbox := folderPair{"INBOX", "INBOX"}
	// Many old messages, all read (in cur/): listing cur/ then takes
	// several getdents(2) calls, so the client's renames can land in the
	// middle of mailsync's scan, not only before or after it.
	old := seeds("client-old", 1000, 500)
	for i := range old {
		old[i].flags = maildirSorted(old[i].flags + "S")
	}
	diskSeedModel(e, want, inbox, old)
	e.mustSync("sync")
	if !crashConverged(t, e, want) {
		t.FailNow()
	}
	diskSeedModel(e, want, inbox, seeds("client-new", 300, 50_000))

	// The client: rename the old messages over and over, toggling F, S
	// and R at random, until the concurrent runs are over. It tracks each file's
	// current name itself, as a client holding the folder open does.
	dir := e.localDir("INBOX")
	type file struct {
		id, path string
		flags    string
	}
	var files []*file
	for _, l := range e.local("INBOX") {
		files = append(files, &file{id: l.messageID, path: l.path, flags: l.flags})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].id < files[j].id })

	var renames atomic.Int64
	var wg gosync.WaitGroup
	var clientErr error // written by the client goroutine, read after wg.Wait
	var clientFailed atomic.Bool
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for {
			select {
			case <-stop:
				return
			default:
			}
			f := files[rng.IntN(len(files))]
			letter := "FSR"[rng.IntN(3)]
			flags := f.flags
			if strings.IndexByte(flags, letter) >= 0 {
				flags = strings.ReplaceAll(flags, string(letter), "")
			} else {
				flags = maildirSorted(flags + string(letter))
			}
			base, _, _ := strings.Cut(filepath.Base(f.path), ":2,")
			to := filepath.Join(dir, "cur", base+":2,"+flags)
			if err := os.Rename(f.path, to); err != nil {
				// The file must be where the client left it: mailsync
				// itself only renames files it has a reason to touch, and
				// these are in sync.
				clientErr = fmt.Errorf("client rename %s → %s: %v", f.path, to, err)
				clientFailed.Store(true)
				return
			}
			f.path, f.flags = to, flags
			// Bursts, as when the user marks a whole thread or folder
			// read, with short pauses in between.
			if renames.Add(1)%500 == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
	}()
	// The pull, then a few more runs while the client goes on: every run
	// lists the folder while files are being renamed in it.
	const runs = 4
	var results []result
	for i := 0; i < runs && !clientFailed.Load(); i++ {
		r := e.start("sync").wait(120 * time.Second)
		results = append(results, r)
		if r.code != 0 || r.signal != 0 {
			break
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("the client renamed %d times during %d runs (the pull took %v)", renames.Load(), len(results), results[0].duration.Round(time.Millisecond))
	if clientErr != nil {
		t.Errorf("%v (mailsync moved or removed a file it had no reason to touch)", clientErr)
	}
	for i, r := range results {
		if r.code != 0 || r.signal != 0 {
			t.Fatalf("run %d during the client's renames: want exit 0, got %s", i+1, r)
		}
		// Nobody deleted anything: a renamed file must never be taken for
		// a deleted one (it only changed its name within the folder).
		if s := crashSummary(r.stdout); !s.found || s.delUp != 0 || s.delDown != 0 {
			t.Errorf("run %d during the client's renames: want no deletions on either side, got %s", i+1, r)
		}
	}
	if renames.Load() < 20 {
		t.Errorf("only %d renames happened during the runs; the test did not exercise the race", renames.Load())
	}
	for _, f := range files {
		exp := want["INBOX"][f.id]
		exp.flags = f.flags
		want["INBOX"][f.id] = exp
	}

	r := e.mustSync("sync")
	if s := crashSummary(r.stdout); s.errors != 0 || s.delUp != 0 || s.delDown != 0 {
		t.Errorf("rerun: want 0 errors and no deletions, got %s", r)
	}
	crashConverged(t, e, want)
	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("third run: want %q, got %s", noopSummary, r)
	}
}
