package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestEach checks that Each passes every message file of new/ and cur/
// once, across readdir batches, skips dot files, counts what Scan would
// report as problems, and passes both copies of a key (it keeps no set of
// keys).
func TestEach(t *testing.T) {
	dir := t.TempDir()
	f := Folder{Dir: dir}
	if err := f.Create(); err != nil {
		t.Fatal(err)
	}
	write := func(sub, name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, sub, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := 0; i < 2500; i++ { // more than two batches of 1024
		name := fmt.Sprintf("1700000000.M%dP1Q1.host,U=%d:2,S", i, i+1)
		write("cur", name)
		want = append(want, "cur/"+name)
	}
	write("new", "1700000001.M1P1Q1.client")
	want = append(want, "new/1700000001.M1P1Q1.client")
	write("new", "1700000000.M7P1Q1.host,U=8") // same key as a cur/ file
	want = append(want, "new/1700000000.M7P1Q1.host,U=8")
	write("cur", ".hidden")
	write("cur", "bad:2,S:2,F") // two info parts: a problem
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "cur", "1700000002.M1P1Q1.x:2,S")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "new", "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)

	var got []string
	problems, err := f.Each(func(e Entry) {
		if e.Name.Key == "" {
			t.Errorf("%s: entry without a parsed name", e.File)
		}
		got = append(got, string(e.Sub)+"/"+e.File)
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems != 3 {
		t.Errorf("problems = %d, want 3 (bad name, symlink, directory)", problems)
	}
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("got %d files, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("file %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := (&Folder{Dir: filepath.Join(dir, "missing")}).Each(func(Entry) {}); err == nil {
		t.Error("Each of a missing folder: no error")
	}
}
