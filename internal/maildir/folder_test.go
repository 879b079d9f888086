package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// fldNew returns a created folder in a fresh temporary directory.
func fldNew(t *testing.T, fsync bool) *Folder {
	t.Helper()
	f := &Folder{Dir: filepath.Join(t.TempDir(), "box"), Fsync: fsync}
	if err := f.Create(); err != nil {
		t.Fatal(err)
	}
	return f
}

func fldWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fldList returns the sorted file names in dir/sub.
func fldList(t *testing.T, f *Folder, sub string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(f.Dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestFolderCreateExists(t *testing.T) {
	root := t.TempDir()
	f := &Folder{Dir: filepath.Join(root, "a", "b")}
	if f.Exists() {
		t.Fatal("Exists() on a missing folder")
	}
	if err := f.Create(); err != nil {
		t.Fatal(err)
	}
	if !f.Exists() {
		t.Fatal("Exists() false after Create")
	}
	for _, s := range []string{"cur", "new", "tmp"} {
		st, err := os.Stat(filepath.Join(f.Dir, s))
		if err != nil || !st.IsDir() {
			t.Fatalf("%s not created: %v", s, err)
		}
	}
	// Create is idempotent and keeps existing files.
	fldWrite(t, filepath.Join(f.Dir, "cur", "1.x:2,S"), "m")
	if err := f.Create(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "cur", "1.x:2,S")); err != nil {
		t.Fatal(err)
	}
	// With Fsync on, Create also works.
	g := &Folder{Dir: filepath.Join(root, "synced"), Fsync: true}
	if err := g.Create(); err != nil || !g.Exists() {
		t.Fatalf("Create with Fsync: %v, exists %v", err, g.Exists())
	}
}

func TestFolderExistsPartial(t *testing.T) {
	root := t.TempDir()
	onlyCur := filepath.Join(root, "onlycur")
	if err := os.MkdirAll(filepath.Join(onlyCur, "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	if (&Folder{Dir: onlyCur}).Exists() {
		t.Error("Exists() with only cur/")
	}
	curFile := filepath.Join(root, "curfile")
	if err := os.MkdirAll(filepath.Join(curFile, "new"), 0o700); err != nil {
		t.Fatal(err)
	}
	fldWrite(t, filepath.Join(curFile, "cur"), "")
	if (&Folder{Dir: curFile}).Exists() {
		t.Error("Exists() when cur is a file")
	}
	// cur/ and new/ as symlinks to directories are not a folder (Lstat).
	real := filepath.Join(root, "real")
	if err := (&Folder{Dir: real}).Create(); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(root, "linked")
	if err := os.Mkdir(linked, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"cur", "new"} {
		if err := os.Symlink(filepath.Join(real, s), filepath.Join(linked, s)); err != nil {
			t.Fatal(err)
		}
	}
	if (&Folder{Dir: linked}).Exists() {
		t.Error("Exists() follows symlinked cur/ and new/")
	}
}

func TestFolderScan(t *testing.T) {
	f := fldNew(t, false)
	cur := filepath.Join(f.Dir, "cur")
	nw := filepath.Join(f.Dir, "new")
	outside := filepath.Join(t.TempDir(), "outside")
	fldWrite(t, outside, "secret")

	fldWrite(t, filepath.Join(cur, "1.a.host:2,S"), "one")
	fldWrite(t, filepath.Join(cur, "2.b.host,U=3,FMD5=m:2,RS"), "two")
	fldWrite(t, filepath.Join(cur, ".hidden"), "dot")
	fldWrite(t, filepath.Join(nw, ".also-hidden:2,S"), "dot")
	if err := os.Mkdir(filepath.Join(cur, "3.c.host:2,S"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(cur, "4.d.host:2,S")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "dangling"), filepath.Join(nw, "4b.d.host")); err != nil {
		t.Fatal(err)
	}
	fldWrite(t, filepath.Join(cur, "bad:1,S"), "bad")
	fldWrite(t, filepath.Join(nw, "bad,U=0"), "bad")
	fldWrite(t, filepath.Join(cur, "5.e.host:2,S"), "dup-cur")
	fldWrite(t, filepath.Join(nw, "5.e.host"), "dup-new")
	fldWrite(t, filepath.Join(cur, "6.f.host:2,"), "")
	fldWrite(t, filepath.Join(nw, "7.g.host"), "seven")

	entries, problems, _, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, string(e.Sub)+"/"+e.File)
		n, err := ParseName(e.File)
		if err != nil || !reflect.DeepEqual(n, e.Name) {
			t.Errorf("entry %s: Name %#v, want %#v (%v)", e.File, e.Name, n, err)
		}
		if e.Path(f.Dir) != filepath.Join(f.Dir, string(e.Sub), e.File) {
			t.Errorf("Path = %q", e.Path(f.Dir))
		}
	}
	sort.Strings(got)
	want := []string{
		"cur/1.a.host:2,S",
		"cur/2.b.host,U=3,FMD5=m:2,RS",
		"cur/5.e.host:2,S",
		"cur/6.f.host:2,",
		"new/7.g.host",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}

	probs := make(map[string]string)
	for _, p := range problems {
		rel, _ := filepath.Rel(f.Dir, p.Path)
		probs[rel] = p.Err.Error()
		if !strings.HasPrefix(p.Error(), p.Path+": ") {
			t.Errorf("Problem.Error() = %q", p.Error())
		}
	}
	wantProbs := map[string]string{
		"cur/3.c.host:2,S": "directory",
		"cur/4.d.host:2,S": "symlink",
		"new/4b.d.host":    "symlink",
		"cur/bad:1,S":      "malformed",
		"new/bad,U=0":      "malformed",
		"new/5.e.host":     "same unique part",
	}
	if len(probs) != len(wantProbs) || len(problems) != len(wantProbs) {
		t.Errorf("problems = %q, want keys of %q", probs, wantProbs)
	}
	for p, sub := range wantProbs {
		msg, ok := probs[p]
		if !ok {
			t.Errorf("no problem for %s", p)
		} else if !strings.Contains(msg, sub) {
			t.Errorf("problem for %s = %q, want it to mention %q", p, msg, sub)
		}
	}
	// The symlink target was not touched.
	if b, err := os.ReadFile(outside); err != nil || string(b) != "secret" {
		t.Errorf("outside file: %q, %v", b, err)
	}
}

func TestFolderScanMissing(t *testing.T) {
	f := &Folder{Dir: filepath.Join(t.TempDir(), "nope")}
	if _, _, _, err := f.Scan(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Scan of a missing folder: %v, want ErrNotExist", err)
	}
}

func TestPendingCommit(t *testing.T) {
	mtime := time.Unix(1600000000, 0)
	tests := []struct {
		name     string
		in       Name
		fsync    bool
		wantSub  Sub
		wantInfo string // suffix after the key
	}{
		{"no flags goes to new without info", Name{Key: "ignored"}, false, New, ""},
		{"no flags with HasInfo still plain in new", Name{HasInfo: true}, false, New, ""},
		{"seen goes to cur", Name{Flags: "S"}, false, Cur, ":2,S"},
		{"seen with fsync", Name{Flags: "FS"}, true, Cur, ":2,FS"},
		{"flagged stays in new with info", Name{Flags: "F"}, false, New, ":2,F"},
		{"keywords only stay in new with info", Name{Keywords: "a"}, false, New, ":2,a"},
		{"uid and fmd5", Name{UID: 42, FMD5: "abc", Flags: "RS"}, true, Cur, ",U=42,FMD5=abc:2,RS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fldNew(t, tc.fsync)
			p, err := f.NewPending(mtime)
			if err != nil {
				t.Fatal(err)
			}
			key := p.Key()
			if len(fldList(t, f, "tmp")) != 1 {
				t.Fatalf("tmp/ = %q, want the pending file", fldList(t, f, "tmp"))
			}
			body := "Subject: x\r\n\r\nbody\r\n"
			if n, err := io.WriteString(p, body[:5]); err != nil || n != 5 {
				t.Fatal(n, err)
			}
			if _, err := p.Write([]byte(body[5:])); err != nil {
				t.Fatal(err)
			}
			e, err := p.Commit(tc.in, mtime)
			if err != nil {
				t.Fatal(err)
			}
			wantFile := key + tc.wantInfo
			if e.Sub != tc.wantSub || e.File != wantFile {
				t.Fatalf("entry %s/%s, want %s/%s", e.Sub, e.File, tc.wantSub, wantFile)
			}
			if e.Name.Key != key {
				t.Errorf("entry key %q, want pending key %q", e.Name.Key, key)
			}
			if n, err := ParseName(e.File); err != nil || !reflect.DeepEqual(n, e.Name) {
				t.Errorf("entry Name %#v, file parses to %#v (%v)", e.Name, n, err)
			}
			b, err := os.ReadFile(e.Path(f.Dir))
			if err != nil || string(b) != body {
				t.Fatalf("content %q, %v", b, err)
			}
			st, err := os.Stat(e.Path(f.Dir))
			if err != nil {
				t.Fatal(err)
			}
			if !st.ModTime().Equal(mtime) {
				t.Errorf("mtime %v, want %v", st.ModTime(), mtime)
			}
			if left := fldList(t, f, "tmp"); len(left) != 0 {
				t.Errorf("tmp/ not empty: %q", left)
			}
			other := Cur
			if tc.wantSub == Cur {
				other = New
			}
			if left := fldList(t, f, string(other)); len(left) != 0 {
				t.Errorf("%s/ not empty: %q", other, left)
			}
			entries, problems, _, err := f.Scan()
			if err != nil || len(problems) != 0 || len(entries) != 1 || !reflect.DeepEqual(entries[0], e) {
				t.Errorf("Scan = %#v, %v, %v; want [%#v]", entries, problems, err, e)
			}
			// Abort after Commit is harmless.
			p.Abort()
			if _, err := os.Stat(e.Path(f.Dir)); err != nil {
				t.Errorf("Abort after Commit removed the message: %v", err)
			}
		})
	}
}

func TestPendingZeroMtime(t *testing.T) {
	f := fldNew(t, false)
	p, err := f.NewPending(time.Unix(1600000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Commit(Name{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(e.Path(f.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if st.ModTime().Before(time.Unix(1600000001, 0)) {
		t.Errorf("zero mtime set the file time to %v", st.ModTime())
	}
}

func TestPendingAbort(t *testing.T) {
	f := fldNew(t, false)
	p, err := f.NewPending(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	p.Abort()
	p.Abort() // twice is fine
	for _, s := range []string{"tmp", "cur", "new"} {
		if left := fldList(t, f, s); len(left) != 0 {
			t.Errorf("%s/ after Abort: %q", s, left)
		}
	}
	if _, err := p.Commit(Name{Flags: "S"}, time.Time{}); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	for _, s := range []string{"tmp", "cur", "new"} {
		if left := fldList(t, f, s); len(left) != 0 {
			t.Errorf("%s/ after Commit-after-Abort: %q", s, left)
		}
	}
}

func TestPendingCommitTwice(t *testing.T) {
	f := fldNew(t, false)
	p, err := f.NewPending(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(Name{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(Name{Flags: "S"}, time.Time{}); err == nil {
		t.Error("second Commit succeeded")
	}
	if got := fldList(t, f, "new"); len(got) != 1 {
		t.Errorf("new/ = %q", got)
	}
}

func TestPendingKeysUnique(t *testing.T) {
	f := fldNew(t, false)
	now := time.Unix(1700000000, 5000)
	seen := make(map[string]bool)
	for i := 0; i < 20; i++ {
		p, err := f.NewPending(now)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		k := p.Key()
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
		if strings.ContainsAny(k, "/:,") {
			t.Fatalf("key %q contains a separator", k)
		}
		if !strings.HasPrefix(k, "1700000000.M5P") {
			t.Fatalf("key %q does not start with time and microseconds", k)
		}
		n, err := ParseName(k)
		if err != nil || n.Key != k {
			t.Fatalf("key %q parses to %#v, %v", k, n, err)
		}
	}
}

func TestSanitizeHost(t *testing.T) {
	if got := sanitizeHost("a/b:c,d.e"); got != "a_b_c_d.e" {
		t.Errorf("sanitizeHost = %q", got)
	}
}

func TestFolderRename(t *testing.T) {
	f := fldNew(t, true)
	fldWrite(t, filepath.Join(f.Dir, "new", "1.M2P3.host,S=4,W=5,U=6,FMD5=m"), "msg")
	entries, _, _, err := f.Scan()
	if err != nil || len(entries) != 1 {
		t.Fatal(entries, err)
	}
	e := entries[0]
	n := e.Name
	n.Flags = "S"
	ne, err := f.Rename(e, n)
	if err != nil {
		t.Fatal(err)
	}
	wantFile := "1.M2P3.host,S=4,W=5,U=6,FMD5=m:2,S"
	if ne.Sub != Cur || ne.File != wantFile {
		t.Fatalf("renamed to %s/%s, want cur/%s", ne.Sub, ne.File, wantFile)
	}
	if ne.Name.Key != e.Name.Key || ne.Name.UID != 6 || ne.Name.FMD5 != "m" || !reflect.DeepEqual(ne.Name.Fields, []string{"S=4", "W=5"}) {
		t.Errorf("renamed Name %#v", ne.Name)
	}
	if got := fldList(t, f, "new"); len(got) != 0 {
		t.Errorf("new/ = %q", got)
	}
	if b, err := os.ReadFile(ne.Path(f.Dir)); err != nil || string(b) != "msg" {
		t.Fatalf("content %q, %v", b, err)
	}

	// Same name: nothing to do.
	same, err := f.Rename(ne, ne.Name)
	if err != nil || !reflect.DeepEqual(same, ne) {
		t.Fatalf("no-op rename = %#v, %v", same, err)
	}

	// Clearing all flags keeps ":2," in cur/.
	n = ne.Name
	n.Flags = ""
	cleared, err := f.Rename(ne, n)
	if err != nil {
		t.Fatal(err)
	}
	if cleared.Sub != Cur || cleared.File != "1.M2P3.host,S=4,W=5,U=6,FMD5=m:2," {
		t.Fatalf("cleared flags: %s/%s", cleared.Sub, cleared.File)
	}
	if got := fldList(t, f, "cur"); !reflect.DeepEqual(got, []string{cleared.File}) {
		t.Errorf("cur/ = %q", got)
	}

	// Renaming an entry that is gone reports ErrNotExist, which the sync
	// treats as "a mail client got there first".
	n.Flags = "F"
	if _, err := f.Rename(ne, n); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename of a vanished file: %v, want ErrNotExist", err)
	}
}

func TestFolderRemove(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		f := fldNew(t, fsync)
		fldWrite(t, filepath.Join(f.Dir, "cur", "1.x:2,S"), "m")
		e := Entry{Sub: Cur, File: "1.x:2,S"}
		if err := f.Remove(e); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(e.Path(f.Dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("file still there: %v", err)
		}
		if err := f.Remove(e); err != nil {
			t.Errorf("Remove of a missing file (fsync %v): %v", fsync, err)
		}
	}
}

func TestFolderCleanTmp(t *testing.T) {
	f := fldNew(t, false)
	now := time.Unix(1700000000, 0)
	tmp := filepath.Join(f.Dir, "tmp")
	set := func(name string, age time.Duration) {
		p := filepath.Join(tmp, name)
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	fldWrite(t, filepath.Join(tmp, "old"), "x")
	set("old", 37*time.Hour)
	fldWrite(t, filepath.Join(tmp, "fresh"), "x")
	set("fresh", time.Hour)
	fldWrite(t, filepath.Join(tmp, "future"), "x")
	set("future", -time.Hour)
	if err := os.Mkdir(filepath.Join(tmp, "olddir"), 0o700); err != nil {
		t.Fatal(err)
	}
	set("olddir", 100*time.Hour)
	// Messages in cur/ are never touched, however old.
	fldWrite(t, filepath.Join(f.Dir, "cur", "1.x:2,S"), "x")
	if err := os.Chtimes(filepath.Join(f.Dir, "cur", "1.x:2,S"), now.Add(-1000*time.Hour), now.Add(-1000*time.Hour)); err != nil {
		t.Fatal(err)
	}

	f.CleanTmp(now, 36*time.Hour)
	if got, want := fldList(t, f, "tmp"), []string{"fresh", "future", "olddir"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tmp/ = %q, want %q", got, want)
	}
	if got := fldList(t, f, "cur"); len(got) != 1 {
		t.Errorf("cur/ = %q", got)
	}
	// A missing tmp/ is not a crash.
	(&Folder{Dir: filepath.Join(t.TempDir(), "none")}).CleanTmp(now, time.Hour)
}

func TestFolderDirTimes(t *testing.T) {
	f := fldNew(t, false)
	fldWrite(t, filepath.Join(f.Dir, "cur", "1.x:2,S"), "m")
	t0 := time.Unix(1000000000, 0)
	for _, s := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(f.Dir, s), t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	c, n, err := f.DirTimes()
	if err != nil {
		t.Fatal(err)
	}
	if c != t0.UnixNano() || n != t0.UnixNano() {
		t.Fatalf("DirTimes = %d, %d, want %d", c, n, t0.UnixNano())
	}
	if _, err := f.Rename(Entry{Sub: Cur, File: "1.x:2,S", Name: Name{Key: "1.x", Flags: "S", HasInfo: true}},
		Name{Key: "1.x", Flags: "FS", HasInfo: true}); err != nil {
		t.Fatal(err)
	}
	c2, n2, err := f.DirTimes()
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c {
		t.Error("cur/ time did not change after a rename in cur/")
	}
	if n2 != n {
		t.Error("new/ time changed although new/ was not touched")
	}

	if err := os.RemoveAll(filepath.Join(f.Dir, "new")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.DirTimes(); err == nil {
		t.Error("DirTimes without new/ succeeded")
	}
}

func TestFolderOpen(t *testing.T) {
	f := fldNew(t, false)
	fldWrite(t, filepath.Join(f.Dir, "cur", "1.x:2,S"), "hello")
	fl, err := f.Open(Entry{Sub: Cur, File: "1.x:2,S"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(fl)
	fl.Close()
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}

	outside := filepath.Join(t.TempDir(), "secret")
	fldWrite(t, outside, "secret")
	if err := os.Symlink(outside, filepath.Join(f.Dir, "cur", "2.x:2,S")); err != nil {
		t.Fatal(err)
	}
	if fl, err := f.Open(Entry{Sub: Cur, File: "2.x:2,S"}); err == nil {
		fl.Close()
		t.Error("Open followed a symlink")
	}

	if err := os.Mkdir(filepath.Join(f.Dir, "new", "3.x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if fl, err := f.Open(Entry{Sub: New, File: "3.x"}); err == nil {
		fl.Close()
		t.Error("Open of a directory succeeded")
	}

	if _, err := f.Open(Entry{Sub: New, File: "4.x"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
}

// TestSyncPending: messages made durable together are then delivered by
// Commit as usual; an aborted one in the group is skipped, not an error.
func TestSyncPending(t *testing.T) {
	for _, fsync := range []bool{true, false} {
		f := &Folder{Dir: t.TempDir(), Fsync: fsync}
		if err := f.Create(); err != nil {
			t.Fatal(err)
		}
		var ps []*Pending
		for i := 0; i < 3; i++ {
			p, err := f.NewPending(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(p, "message %d\n", i)
			ps = append(ps, p)
		}
		ps[1].Abort()
		if err := SyncPending(ps); err != nil {
			t.Fatalf("fsync=%v: %v", fsync, err)
		}
		for i, p := range ps {
			if i == 1 {
				continue
			}
			if p.synced != fsync {
				t.Errorf("fsync=%v: pending %d synced = %v", fsync, i, p.synced)
			}
			e, err := p.Commit(Name{Flags: "S"}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(e.Path(f.Dir))
			if err != nil || string(data) != fmt.Sprintf("message %d\n", i) {
				t.Errorf("delivered %q, %v", data, err)
			}
		}
		if es, _, _, _ := f.Scan(); len(es) != 2 {
			t.Errorf("fsync=%v: %d messages delivered, want 2", fsync, len(es))
		}
	}
}

// TestChanging: every file the folder adds, renames or removes in cur/ or
// new/ is announced before the change, both names of a rename.
func TestChanging(t *testing.T) {
	f := fldNew(t, false)
	var got []string
	// Announced before the change: the file is not there yet (the
	// delivery, the rename's target) or still there (the rename's source,
	// the removal).
	thereBefore := []bool{false, true, false, true}
	f.Changing = func(p string) {
		_, err := os.Lstat(p)
		if i := len(got); i < len(thereBefore) && (err == nil) != thereBefore[i] {
			t.Errorf("announcement %d, %s: the change was already made", i, p)
		}
		got = append(got, strings.TrimPrefix(p, f.Dir+"/"))
	}
	p, err := f.NewPending(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("Subject: x\n\nbody\n"))
	e, err := p.Commit(Name{UID: 7}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	n := e.Name
	n.Flags = "S"
	ne, err := f.Rename(e, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ne); err != nil {
		t.Fatal(err)
	}
	want := []string{"new/" + e.File, "new/" + e.File, "cur/" + ne.File, "cur/" + ne.File}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("announced %q, want %q", got, want)
	}
}
