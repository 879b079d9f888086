package state

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	gosync "sync"
	"testing"
	"time"
)

func TestRecordRun(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	if _, ok, err := s.LastRun(ctx); ok || err != nil {
		t.Fatalf("a new state has a last run: %v %v", ok, err)
	}
	inbox := stFolder(t, s, "INBOX")
	stFolder(t, s, "Work")
	if err := stTx(t, s, inbox.ID, func(tx *Tx) error {
		for i, key := range []string{"a", "b", ""} {
			if _, err := tx.Insert(Message{UID: uint32(i + 1), Key: key}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := Run{Started: t0, Finished: t0.Add(time.Second), Mode: "full", Result: "ok"}
	if err := s.RecordRun(ctx, ok, []FolderRun{{Name: "INBOX", Result: "ok"}, {Name: "Work", Result: "ok"}, {Name: "Gone", Result: "error", Error: "x", Stop: "vanished"}}, true); err != nil {
		t.Fatal(err)
	}
	failed := Run{Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + time.Second), Mode: "quick", Result: "error", Error: "refused", Stop: ""}
	// A partial run (one folder) keeps the other folders' records.
	if err := s.RecordRun(ctx, failed, []FolderRun{{Name: "Work", Result: "error", Error: "SELECT failed"}}, false); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.LastRun(ctx)
	if err != nil || !found {
		t.Fatal(err, found)
	}
	want := failed
	want.LastOK = ok.Finished
	if !got.Started.Equal(want.Started) || !got.Finished.Equal(want.Finished) || !got.LastOK.Equal(want.LastOK) ||
		got.Mode != want.Mode || got.Result != want.Result || got.Error != want.Error {
		t.Errorf("LastRun = %+v, want %+v", got, want)
	}
	fs, err := s.FolderStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFolders := []FolderStatus{
		{Name: "Gone", LastSync: ok.Finished, Result: "error", Error: "x", Stop: "vanished"},
		{Name: "INBOX", LastSync: ok.Finished, Result: "ok", Messages: 2},
		{Name: "Work", LastSync: failed.Finished, Result: "error", Error: "SELECT failed"},
	}
	for i := range fs {
		fs[i].LastSync = fs[i].LastSync.UTC()
	}
	if !reflect.DeepEqual(fs, wantFolders) {
		t.Errorf("FolderStatuses =\n%+v\nwant\n%+v", fs, wantFolders)
	}

	// A run over every folder drops the records of folders it did not see.
	if err := s.RecordRun(ctx, ok, []FolderRun{{Name: "INBOX", Result: "ok"}}, true); err != nil {
		t.Fatal(err)
	}
	fs, err = s.FolderStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Name != "INBOX" || fs[1].Name != "Work" || !fs[1].LastSync.IsZero() {
		t.Errorf("after a full run: %+v; want INBOX recorded and Work (in the state) without a record", fs)
	}
}

// TestOpenConcurrentMigration: processes that open a new state file at
// the same moment (a daemon and `mailsync status`) all get a migrated one.
// A new file is switched to WAL by the first opener, and the others can
// find it busy, without the busy timeout helping, about once in a hundred
// tries: hence 200 new files.
func TestOpenConcurrentMigration(t *testing.T) {
	dir := t.TempDir()
	for round := range 200 {
		path := filepath.Join(dir, fmt.Sprintf("state%d.db", round))
		var wg gosync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(context.Background(), path, false)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("file %d, open %d: %v", round, i, err)
			}
		}
	}
}

// TestRecordDamaged: a status file cut short by a crash, or caught in the
// middle of a write, reads as no record, and the next record replaces it.
func TestRecordDamaged(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.RecordRun(ctx, Run{Finished: t0, Result: "ok"}, []FolderRun{{Name: "INBOX", Result: "ok"}}, true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.statusPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{data[:len(data)-3], append(bytes.Clone(data[:len(data)-2]), 'x', '}'), []byte("garbage")} {
		if err := os.WriteFile(s.statusPath(), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.LastRun(ctx); ok || err != nil {
			t.Errorf("a damaged record (%q…): ok %v, error %v; want no record and no error", bad[:min(len(bad), 30)], ok, err)
		}
		if fs, err := s.FolderStatuses(ctx); err != nil || len(fs) != 0 {
			t.Errorf("folders of a damaged record: %v, %v; want none and no error", fs, err)
		}
	}
	// A shorter record after a longer one: the file is cut to its length.
	if err := s.RecordRun(ctx, Run{Finished: t0.Add(time.Hour), Result: "error", Error: "x"}, nil, true); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := s.LastRun(ctx); !ok || err != nil || r.Error != "x" {
		t.Errorf("after a new record: %+v %v %v", r, ok, err)
	}
}
