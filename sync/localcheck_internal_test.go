package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailsync/internal/maildir"
)

// TestLocallyUnchangedStreamed runs the local check on a folder both ways:
// listed and kept for the folder's sync (small folders), and summed up as
// it is read (folders larger than listingKept). Both must confirm an
// unchanged folder and record its times, and both must see a flag change,
// a deletion, a new file and a file they can't read; only the kept way
// hands its listing on.
func TestLocallyUnchangedStreamed(t *testing.T) {
	ctx := context.Background()
	changes := []struct {
		name   string
		change func(t *testing.T, dir string, fx *ldFixture)
	}{
		{"flags", func(t *testing.T, dir string, fx *ldFixture) {
			e := fx.listing[10]
			n := e.Name
			n.Flags, n.HasInfo = "FRS", true
			mustRename(t, e.Path(dir), filepath.Join(dir, "cur", n.String()))
		}},
		{"deleted", func(t *testing.T, dir string, fx *ldFixture) {
			if err := os.Remove(fx.listing[20].Path(dir)); err != nil {
				t.Fatal(err)
			}
		}},
		{"new", func(t *testing.T, dir string, fx *ldFixture) {
			mustWrite(t, filepath.Join(dir, "new", "1800000000.M1P1Q1.client"))
		}},
		{"unreadable name", func(t *testing.T, dir string, fx *ldFixture) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "cur", "1800000000.M2P2Q2.client:2,S")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, kept := range []int{0, 1000} {
		for _, c := range changes {
			t.Run(fmt.Sprintf("kept=%d/%s", kept, c.name), func(t *testing.T) {
				fx := newLDFixture(t, 60)
				dir := t.TempDir()
				for _, sub := range []string{"cur", "new", "tmp"} {
					if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
						t.Fatal(err)
					}
				}
				for _, e := range fx.listing {
					mustWrite(t, e.Path(dir))
				}
				age(t, dir, 10*time.Second)
				e := fx.fs.e
				e.listingKept = kept
				e.opts.Now = time.Now
				task := folderTask{stored: &fx.fs.st, dir: dir, canonical: "INBOX", remote: "INBOX"}

				same, l := e.locallyUnchanged(ctx, task)
				if !same || l != nil {
					t.Fatalf("kept=%d: unchanged folder: same=%v, listing=%v; want true, nil", kept, same, l != nil)
				}
				f, _, err := e.store.Folder(ctx, "INBOX")
				if err != nil || f.CurMtime == 0 {
					t.Fatalf("kept=%d: times not recorded after a confirmed listing (%v)", kept, err)
				}

				c.change(t, dir, fx)
				age(t, dir, 5*time.Second)
				same, l = e.locallyUnchanged(ctx, task)
				if same {
					t.Fatalf("kept=%d: %s: change not seen", kept, c.name)
				}
				if kept == 0 && l != nil {
					t.Errorf("kept=%d: %s: a streamed listing was handed on", kept, c.name)
				}
				if kept > 0 && (l == nil || len(l.entries) == 0) {
					t.Errorf("kept=%d: %s: the listing was not handed on", kept, c.name)
				}
			})
		}
	}
}

func mustWrite(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// age sets cur/ and new/ times to d ago, so they count as settled.
func age(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	at := time.Now().Add(-d)
	for _, sub := range []maildir.Sub{maildir.Cur, maildir.New} {
		if err := os.Chtimes(filepath.Join(dir, string(sub)), at, at); err != nil {
			t.Fatal(err)
		}
	}
}
