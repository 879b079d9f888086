package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
)

// TestDownloadWaitsForJournal: the download's journal entry is committed
// while the FETCH runs, but no file may enter cur/ or new/ before that
// commit is over, and none at all when it fails: a file delivered without
// its journal entry could not be told, after a crash, from one a mail client
// wrote, and would be uploaded again.
func TestDownloadWaitsForJournal(t *testing.T) {
	for _, c := range []struct {
		name    string
		journal error // the commit's outcome
	}{
		{"committed", nil},
		{"failed", errors.New("disk I/O error")},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			mf := &maildir.Folder{Dir: dir, DeferDirSync: true}
			if err := mf.Create(); err != nil {
				t.Fatal(err)
			}
			fs := &folderSync{e: &Engine{opts: Options{Now: time.Now}}, mf: mf, t: folderTask{dir: dir}}
			journaled := make(chan error, 1)
			d := &downloader{fs: fs, ctx: context.Background(), last: time.Now(), journaled: journaled}
			fed := make(chan error, 1)
			go func() {
				// A whole group: the last Done delivers it.
				for uid := uint32(1); uid <= deliverGroup; uid++ {
					body := fmt.Sprintf("Message-ID: <%d@test>\r\n\r\nbody %d\r\n", uid, uid)
					if err := d.Body(strings.NewReader(body), int64(len(body))); err != nil {
						fed <- err
						return
					}
					if err := d.Done(remote.Info{UID: uid, Size: int64(len(body))}); err != nil {
						fed <- err
						return
					}
				}
				fed <- nil
			}()
			select {
			case err := <-fed:
				t.Fatalf("the group was handled (%v) before the journal entry was committed", err)
			case <-time.After(300 * time.Millisecond):
			}
			if n := delivered(t, dir); n != 0 {
				t.Fatalf("%d files in cur/ and new/ before the journal entry was committed", n)
			}
			journaled <- c.journal
			err := <-fed
			if ferr := d.finish(); err == nil {
				err = ferr
			}
			switch n := delivered(t, dir); {
			case c.journal == nil && (err != nil || n != deliverGroup):
				t.Fatalf("after the commit: %d files delivered, %v; want %d and no error", n, err, deliverGroup)
			case c.journal != nil && (!errors.Is(err, c.journal) || n != 0):
				t.Fatalf("after a failed commit: %d files delivered, error %v; want none and the commit's error", n, err)
			}
			if tmp, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(tmp) != 0 {
				t.Errorf("tmp/ holds %d files (%v); want none left behind", len(tmp), err)
			}
		})
	}
}

func delivered(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"cur", "new"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}
