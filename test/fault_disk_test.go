package test

// Fault injection: the local disk. A Maildir on a full file system and a
// Maildir folder on a read-only mount.

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the state database, read without mailsync's code
)

// diskMount runs mount(8) with args; if that is impossible here (not root,
// no CAP_SYS_ADMIN in a container) the test is skipped, or fails under
// CI=true, where a skipped fault test would hide a gap.
func diskMount(t *testing.T, args ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		diskSkip(t, "needs root to mount file systems")
	}
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		diskSkip(t, fmt.Sprintf("mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out))))
	}
}

func diskSkip(t *testing.T, why string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("%s; refusing to skip because CI=true", why)
	}
	t.Skip(why)
}

// diskUnmount unmounts dir; with must, a failure fails the test.
func diskUnmount(t *testing.T, dir string, must bool) {
	t.Helper()
	out, err := exec.Command("umount", dir).CombinedOutput()
	if err != nil && must {
		t.Fatalf("umount %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
	}
}

// diskMounted reports whether dir is a mount point.
func diskMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && diskUnescape(f[4]) == dir {
			return true
		}
	}
	return false
}

// diskUnescape undoes mountinfo's octal escapes (\040 for a space...).
func diskUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// diskMountTmpfs mounts a tmpfs of the given size ("2m") on dir (created if
// missing) and unmounts it when the test ends, before its temp dir goes.
func diskMountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	diskMount(t, "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir)
	t.Cleanup(func() {
		for diskMounted(dir) {
			diskUnmount(t, dir, true)
		}
	})
}

// diskStateRow is one message row of the state database.
type diskStateRow struct {
	folder string // local folder name
	uid    uint32
	key    string
}

// diskStateRows reads every message row of the account's state database,
// opened read-only with the sqlite driver (not through mailsync's code).
func diskStateRows(t *testing.T, e *env) []diskStateRow {
	t.Helper()
	path := filepath.Join(e.state, acct+".db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state database: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT f.local_name, m.uid, m.key FROM messages m JOIN folders f ON f.id = m.folder_id ORDER BY f.local_name, m.uid")
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	defer rows.Close()
	var out []diskStateRow
	for rows.Next() {
		var r diskStateRow
		if err := rows.Scan(&r.folder, &r.uid, &r.key); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diskCheckStateFiles checks that every state row with a local key has its
// file in cur/ or new/ of its folder: the state never records a message
// that is not (completely) on disk.
func diskCheckStateFiles(t *testing.T, e *env) int {
	t.Helper()
	keys := map[string]map[string]bool{} // folder → keys present
	n := 0
	for _, r := range diskStateRows(t, e) {
		if r.key == "" {
			continue
		}
		n++
		if keys[r.folder] == nil {
			keys[r.folder] = map[string]bool{}
			for _, l := range e.local(r.folder) {
				keys[r.folder][l.key] = true
			}
		}
		if !keys[r.folder][r.key] {
			t.Errorf("the state records UID %d of %s as local file %q, but there is no such file in %s/cur or new",
				r.uid, r.folder, r.key, e.localDir(r.folder))
		}
	}
	return n
}

// diskSeedModel seeds the server folder and records the messages in want.
func diskSeedModel(e *env, want crashModel, f folderPair, msgs []seed) {
	e.seedServer(f.remote, msgs)
	for _, m := range msgs {
		want.add(f.local, makeMsg(m.id, m.size), m.flags)
	}
}

// TestDiskFull: the local Maildir root is a 2 MB file system and the server
// has 4 MB of mail. The run fails (exit 1) saying that there is no space
// left and in which folder; every file that made it into cur/ or new/ is
// complete and every state row points at an existing file. Once there is
// room, a rerun converges without downloading the delivered files again.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	diskMountTmpfs(t, e.mail, "2m")
	inbox := folderPair{"INBOX", "INBOX"}
	want := crashModel{}
	diskSeedModel(e, want, inbox, seeds("full", 40, 100_000))

	r := e.run("sync")
	if r.code != 1 || r.signal != 0 {
		t.Fatalf("sync into a full disk: want exit 1, got %s", r)
	}
	if !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("stderr should say that there is no space left on the device; got %s", r)
	}
	if !strings.Contains(r.stderr, acct+"/INBOX") && !strings.Contains(r.stderr, e.localDir("INBOX")) {
		t.Errorf("stderr should name the folder (%s/INBOX or %s); got %s", acct, e.localDir("INBOX"), r)
	}
	if s := crashSummary(r.stdout); !s.found || s.errors == 0 {
		t.Errorf("want a summary line counting the error; got %s", r)
	}
	delivered := e.checkComplete(t, inbox)
	recorded := diskCheckStateFiles(t, e)
	t.Logf("full disk: %d of 40 delivered, %d recorded in the state", delivered, recorded)
	if delivered == 0 || delivered >= 40 {
		t.Errorf("%d of 40 messages were delivered to a 2 MB file system; the test expects it to fill up midway", delivered)
	}
	if left := countLocal(filepath.Join(e.localDir("INBOX"), "tmp")); left != 0 {
		// Not a partial message a client would see, but space never given back.
		t.Errorf("%d files left in %s/tmp after the failed run", left, e.localDir("INBOX"))
	}
	if t.Failed() {
		t.FailNow()
	}

	diskMount(t, "-o", "remount,size=20m", e.mail)
	before := e.srv.BodyFetches(t, e.user)
	r = e.mustSync("sync")
	if s := crashSummary(r.stdout); s.errors != 0 || s.pulled != 40-delivered {
		t.Errorf("rerun with room: want pulled %d and 0 errors, got %s", 40-delivered, r)
	}
	if d := e.srv.BodyFetches(t, e.user) - before; d > 40-delivered {
		t.Errorf("rerun fetched %d bodies, but only %d messages were missing", d, 40-delivered)
	}
	crashConverged(t, e, want)
	e.checkComplete(t, inbox)
	diskCheckStateFiles(t, e)
	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("third run: want %q, got %s", noopSummary, r)
	}
}

// TestDiskReadOnlyFolder: one local folder is on a read-only mount while
// the server has new mail for it and for another folder. The run exits 1
// naming the read-only folder and the error; the other folder is synced
// all the same. Once the folder is writable again a rerun converges.
func TestDiskReadOnlyFolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ro, rw := folderPair{"Frozen", "Frozen"}, folderPair{"Lists.Go", "Lists/Go"}
	want := crashModel{}
	diskSeedModel(e, want, ro, seeds("ro-old", 4, 3000))
	diskSeedModel(e, want, rw, seeds("rw-old", 4, 3000))
	e.mustSync("sync")
	if !crashConverged(t, e, want) {
		t.FailNow()
	}

	diskSeedModel(e, want, ro, seeds("ro-new", 5, 3000))
	diskSeedModel(e, want, rw, seeds("rw-new", 5, 3000))
	// A local change in the writable folder must go up too.
	rwLocal := e.local(rw.local)
	sort.Slice(rwLocal, func(i, j int) bool { return rwLocal[i].messageID < rwLocal[j].messageID })
	gone := rwLocal[0]
	if err := os.Remove(gone.path); err != nil {
		t.Fatal(err)
	}
	delete(want[rw.local], gone.messageID)

	dir := e.localDir(ro.local)
	diskMount(t, "--bind", dir, dir)
	t.Cleanup(func() {
		for diskMounted(dir) {
			diskUnmount(t, dir, true)
		}
	})
	diskMount(t, "-o", "remount,ro,bind", dir)
	if err := os.WriteFile(filepath.Join(dir, "tmp", "probe"), nil, 0o600); err == nil {
		t.Fatalf("%s is still writable after the read-only remount", dir)
	}
	roBefore := tree(t, dir)

	r := e.run("sync")
	if r.code != 1 || r.signal != 0 {
		t.Errorf("with a read-only folder: want exit 1, got %s", r)
	}
	if !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("stderr should give the error (read-only file system); got %s", r)
	}
	if !strings.Contains(r.stderr, acct+"/"+ro.local) && !strings.Contains(r.stderr, dir) {
		t.Errorf("stderr should name the read-only folder (%s/%s or %s); got %s", acct, ro.local, dir, r)
	}
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "ERR") && (strings.Contains(l, "folder="+rw.local) || strings.Contains(l, e.localDir(rw.local))) {
			t.Errorf("the writable folder %s should not have failed: %s", rw.local, l)
		}
	}
	if s := crashSummary(r.stdout); s.errors != 1 {
		t.Errorf("want exactly 1 error in the summary; got %s", r)
	}
	// The writable folder is fully synced, local deletion included.
	e.checkInSync(t, rw)
	if srv := e.srv.Messages(t, e.user, rw.remote); len(srv) != 8 {
		t.Errorf("server %s has %d messages, want 8 (4 old - 1 deleted locally + 5 new)", rw.remote, len(srv))
	}
	if after := tree(t, dir); fmt.Sprint(after) != fmt.Sprint(roBefore) {
		t.Errorf("the read-only folder changed:\n%s", treeDiff(roBefore, after))
	}
	if n := len(e.srv.Messages(t, e.user, ro.remote)); n != 9 {
		t.Errorf("server %s has %d messages, want its 9 untouched", ro.remote, n)
	}
	diskCheckStateFiles(t, e)

	diskUnmount(t, dir, true)
	if diskMounted(dir) {
		t.Fatalf("%s is still a mount point", dir)
	}
	r = e.mustSync("sync")
	if s := crashSummary(r.stdout); s.errors != 0 || s.pulled != 5 {
		t.Errorf("rerun: want pulled 5 (the read-only folder's new mail) and 0 errors, got %s", r)
	}
	crashConverged(t, e, want)
	diskCheckStateFiles(t, e)
	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("third run: want %q, got %s", noopSummary, r)
	}
}
