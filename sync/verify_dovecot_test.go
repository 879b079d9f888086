package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	msync "mailsync/sync"
)

// A difference the shortcuts can't see (a flag changed on a file, with the
// folder's directory times put back afterwards, as a backup restore or
// another tool can) survives the quick paths and is repaired by the next
// full comparison, at most a day later.
func TestVerifyRepairsHiddenDifference(t *testing.T) {
	b := dovecotBackend(t, 1)
	b.trusted = true
	s := &scenario{t: t, b: b, user: b.users[0], dir: t.TempDir(), ctx: context.Background(), cfgTOML: map[string]string{},
		log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	s.connect()
	s.server("setup", []string{"INBOX", "add", "a"})
	s.server("setup", []string{"INBOX", "add", "b"})
	if sum, errs := s.sync(); len(errs) > 0 || sum.Counts.Pulled != 2 {
		t.Fatalf("first sync: %+v %v", sum.Counts, errs)
	}
	// The first sync changed the folder itself; with its times an hour
	// old, this one records them, and later ones trust them.
	s.touch("INBOX")
	if sum, errs := s.sync(); len(errs) > 0 || sum.Counts != (msync.Counts{}) {
		t.Fatalf("second sync: %+v %v", sum.Counts, errs)
	}

	e := s.findLocal("hide", "INBOX", "a")
	md := s.mailDir("INBOX")
	var times []os.FileInfo
	for _, sub := range []string{"cur", "new"} {
		fi, err := os.Stat(filepath.Join(md.Dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, fi)
	}
	n := e.Name
	n.Flags = "F"
	if _, err := md.Rename(e, n); err != nil {
		t.Fatal(err)
	}
	for i, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(md.Dir, sub), times[i].ModTime(), times[i].ModTime()); err != nil {
			t.Fatal(err)
		}
	}

	sum, errs := s.sync()
	if len(errs) > 0 || sum.Counts != (msync.Counts{}) {
		t.Fatalf("the sync right after saw the hidden change (%+v, %v): this test no longer hides it", sum.Counts, errs)
	}
	sum, errs = s.sync("--in=25h")
	if len(errs) > 0 || sum.Counts.FlagsUp != 1 {
		t.Fatalf("a day later: %+v, %v; want the flag pushed", sum.Counts, errs)
	}
	if srv, loc := s.listServer(), s.listLocal(); srv != loc {
		t.Errorf("sides differ:\nserver:\n%slocal:\n%s", srv, loc)
	}
	if sum, _ := s.sync("--in=1h"); sum.Counts != (msync.Counts{}) {
		t.Errorf("the sync after the comparison: %+v", sum.Counts)
	}
}
