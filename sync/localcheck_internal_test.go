package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsync/config"
	"mailsync/internal/maildir"
	"mailsync/internal/state"

	"github.com/rs/zerolog"
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

// TestLookAheadChooses: lookAhead reads the folders whose directory times
// are not the recorded ones, of those the state knows in full and the run
// wants, up to lookAheadKept recorded messages in all; a folder too large
// for its listing to be kept (listingKept) does not count, since only its
// digest is.
func TestLookAheadChooses(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	store, err := state.Open(ctx, filepath.Join(t.TempDir(), "t.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	folders := []struct {
		name     string
		messages uint32
		recorded bool   // the state has the directory's times
		uv       uint32 // 0: never synced in full
	}{
		{"Recorded", 15, true, 1}, // not read: counts nothing
		{"Changed", 10, false, 1},
		{"Unsynced", 10, false, 0},
		{"Other", 10, false, 1}, // not requested
		{"Big", 30, false, 1},   // over the budget left
		{"Huge", 500, false, 1}, // over listingKept: streamed, not kept
		{"Small", 5, false, 1},  // fits after Big was left out
	}
	for _, f := range folders {
		dir := filepath.Join(root, f.name)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		mustWrite(t, filepath.Join(dir, "new", "1700000000.M1P1Q1.host"))
		age(t, dir, 10*time.Second)
		st, err := store.EnsureFolder(ctx, f.name, f.name)
		if err != nil {
			t.Fatal(err)
		}
		st.UIDValidity, st.UIDNext, st.Messages = f.uv, 1, f.messages
		if f.recorded {
			mf := maildir.Folder{Dir: dir}
			if st.CurMtime, st.NewMtime, err = mf.DirTimes(); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := store.Begin(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.UpdateFolder(st); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := store.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{acct: &config.Account{Name: "t", Local: config.Local{Path: root}}, store: store, layout: maildir.FS{},
		opts: Options{Now: time.Now}, log: zerolog.Nop(), listingKept: 100, lookAheadKept: 25}
	looks, wait := e.lookAhead(ctx, stored, Request{Folders: []string{"Recorded", "Changed", "Unsynced", "Big", "Huge", "Small"}})
	wait()
	var got []string
	for key, look := range looks {
		name, dir, _ := strings.Cut(key, "\x00") // lookKey
		got = append(got, name)
		lk := look.wait()
		if dir != filepath.Join(root, name) || lk.same || lk.listing == nil || len(lk.listing.entries) != 1 {
			t.Errorf("%s: dir %s, same %v, listing %+v; want %s, a difference (the state has no files), the one file",
				name, dir, lk.same, lk.listing, filepath.Join(root, name))
		}
	}
	slices.Sort(got)
	if want := []string{"Changed", "Huge", "Small"}; !slices.Equal(got, want) {
		t.Errorf("read ahead %q; want %q", got, want)
	}
}
