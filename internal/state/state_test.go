package state

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

func stOpen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stPragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func stFolder(t *testing.T, s *Store, name string) Folder {
	t.Helper()
	f, err := s.EnsureFolder(context.Background(), name, "local/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stTx runs fn in a committed transaction for folder id.
func stTx(t *testing.T, s *Store, id int64, fn func(tx *Tx) error) error {
	t.Helper()
	tx, err := s.Begin(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func stMessages(t *testing.T, s *Store, id int64) []Message {
	t.Helper()
	ms, err := s.Messages(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func stCount(t *testing.T, s *Store, table string, folderID int64) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM "+table+" WHERE folder_id = ?", folderID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenCreatesSchema(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprint("fullSync=", full), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, err := Open(context.Background(), path, full)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Path() != path {
				t.Errorf("Path() = %q", s.Path())
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file: %v", err)
			}
			if v := stPragma(t, s, "user_version"); v != fmt.Sprint(SchemaVersion) {
				t.Errorf("user_version = %s, want %d", v, SchemaVersion)
			}
			if v := stPragma(t, s, "journal_mode"); v != "wal" {
				t.Errorf("journal_mode = %s, want wal", v)
			}
			if v := stPragma(t, s, "foreign_keys"); v != "1" {
				t.Errorf("foreign_keys = %s, want 1", v)
			}
			// NORMAL either way; fullSync is for BeginDurable.
			if v := stPragma(t, s, "synchronous"); v != "1" {
				t.Errorf("synchronous = %s, want 1 (NORMAL)", v)
			}
			for _, table := range []string{"folders", "messages", "journal"} {
				var n int
				if err := s.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
					t.Errorf("table %s: %d, %v", table, n, err)
				}
			}
		})
	}
}

// TestBeginDurable checks the synchronous level each kind of transaction
// commits at, and that a durable one leaves the store at NORMAL again,
// whether it commits, rolls back, or is rolled back after its commit.
func TestBeginDurable(t *testing.T) {
	ctx := context.Background()
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprint("fullSync=", full), func(t *testing.T) {
			s, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"), full)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f := stFolder(t, s, "INBOX")
			level := func(tx *Tx) string {
				var v string
				if err := tx.tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			durable := "1"
			if full {
				durable = "2"
			}
			for i, end := range []string{"commit", "rollback", "commit+rollback"} {
				for _, kind := range []string{"plain", "durable"} {
					begin, want := s.Begin, "1"
					if kind == "durable" {
						begin, want = s.BeginDurable, durable
					}
					tx, err := begin(ctx, f.ID)
					if err != nil {
						t.Fatal(err)
					}
					if got := level(tx); got != want {
						t.Errorf("%s %s: synchronous inside = %s, want %s", kind, end, got, want)
					}
					if _, err := tx.AddJournal(JournalEntry{Op: OpDownload, UIDs: fmt.Sprint(i + 1), UIDValidity: 1}); err != nil {
						t.Fatal(err)
					}
					switch end {
					case "commit":
						err = tx.Commit()
					case "rollback":
						tx.Rollback()
					default:
						err = tx.Commit()
						tx.Rollback()
					}
					if err != nil {
						t.Fatal(err)
					}
					if got := stPragma(t, s, "synchronous"); got != "1" {
						t.Errorf("%s %s: synchronous after = %s, want 1", kind, end, got)
					}
				}
			}
			// Two commits each of "commit" and "commit+rollback"; none of
			// the rolled-back ones.
			js, err := s.Journal(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != 4 {
				t.Errorf("journal has %d entries, want 4: %+v", len(js), js)
			}
		})
	}
}

func TestOpenReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	f := stFolder(t, s, "INBOX")
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 1, Key: "k1", Flags: "S"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s, err = Open(ctx, path, true)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if v := stPragma(t, s, "user_version"); v != fmt.Sprint(SchemaVersion) {
			t.Errorf("user_version = %s", v)
		}
		g, ok, err := s.Folder(ctx, "INBOX")
		if err != nil || !ok || g.ID != f.ID {
			t.Fatalf("folder after reopen: %+v, %v, %v", g, ok, err)
		}
		if ms := stMessages(t, s, f.ID); len(ms) != 1 || ms[0].Key != "k1" {
			t.Fatalf("messages after reopen: %+v", ms)
		}
		s.Close()
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(context.Background(), path, false)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a newer schema")
	}
	for _, want := range []string{path, "newer", fmt.Sprint(SchemaVersion + 1), "upgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The database was left alone.
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v, n int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion+1 {
		t.Errorf("user_version now %d, %v", v, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
		t.Errorf("Open created %d schema objects in a newer database (%v)", n, err)
	}
}

func TestOpenPathWithURLCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%d&e=f")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "st?ate#.db")
	s, err := Open(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	stFolder(t, s, "INBOX")
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %q: %v", path, err)
	}
	des, _ := os.ReadDir(filepath.Dir(dir))
	if len(des) != 1 {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		t.Errorf("files created outside the directory: %q", names)
	}
}

func TestOpenFailsOnBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "state.db")
	if s, err := Open(context.Background(), path, false); err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestFolders(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	if fs, err := s.Folders(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("Folders of a new store: %+v, %v", fs, err)
	}
	if _, ok, err := s.Folder(ctx, "INBOX"); ok || err != nil {
		t.Fatalf("Folder of a missing name: %v, %v", ok, err)
	}
	b := stFolder(t, s, "b")
	a := stFolder(t, s, "a")
	if a.ID == b.ID || a.Name != "a" || a.LocalName != "local/a" {
		t.Fatalf("EnsureFolder: %+v %+v", a, b)
	}
	if a.UIDValidity != 0 || a.UIDNext != 0 || a.HighestModSeq != 0 || a.Messages != 0 || a.CurMtime != 0 || a.NewMtime != 0 || a.Verified != 0 {
		t.Errorf("new folder has markers: %+v", a)
	}
	if d := time.Now().Unix() - a.Created; d < 0 || d > 60 {
		t.Errorf("new folder created at %d, %d s from now", a.Created, d)
	}

	upd := Folder{ID: a.ID, Name: "ignored", LocalName: "renamed", UIDValidity: 4294967295, UIDNext: 4294967295,
		HighestModSeq: 1<<63 - 1, Messages: 4294967295, CurMtime: 1700000000123456789, NewMtime: -1,
		Created: a.Created, Verified: 1700000001}
	if err := stTx(t, s, a.ID, func(tx *Tx) error { return tx.UpdateFolder(upd) }); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Folder(ctx, "a")
	upd.Name = "a" // UpdateFolder does not rename
	if err != nil || !ok || got != upd {
		t.Fatalf("after UpdateFolder: %+v, %v, %v; want %+v", got, ok, err, upd)
	}

	// EnsureFolder of an existing name keeps id and markers, updates local_name.
	again, err := s.EnsureFolder(ctx, "a", "moved")
	if err != nil {
		t.Fatal(err)
	}
	upd.LocalName = "moved"
	if again != upd {
		t.Fatalf("EnsureFolder again: %+v, want %+v", again, upd)
	}

	all, err := s.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0] != upd || all[1] != b {
		t.Fatalf("Folders = %+v", all)
	}
}

func TestDeleteFolderCascades(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	a := stFolder(t, s, "a")
	b := stFolder(t, s, "b")
	for _, f := range []Folder{a, b} {
		if err := stTx(t, s, f.ID, func(tx *Tx) error {
			for i := uint32(1); i <= 3; i++ {
				if _, err := tx.Insert(Message{UID: i, Key: fmt.Sprint("k", i)}); err != nil {
					return err
				}
			}
			_, err := tx.AddJournal(JournalEntry{Op: "append", Key: "k9", MessageID: "<x@y>", Size: 10, UIDNext: 4})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFolder(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Folder(ctx, "a"); ok || err != nil {
		t.Fatalf("folder a still there: %v, %v", ok, err)
	}
	if n := stCount(t, s, "messages", a.ID); n != 0 {
		t.Errorf("%d messages of the deleted folder left", n)
	}
	if n := stCount(t, s, "journal", a.ID); n != 0 {
		t.Errorf("%d journal entries of the deleted folder left", n)
	}
	if n := stCount(t, s, "messages", b.ID); n != 3 {
		t.Errorf("folder b has %d messages, want 3", n)
	}
	if n := stCount(t, s, "journal", b.ID); n != 1 {
		t.Errorf("folder b has %d journal entries, want 1", n)
	}
	// Deleting again is not an error.
	if err := s.DeleteFolder(ctx, a.ID); err != nil {
		t.Error(err)
	}
}

func TestTxInsertUpdateDelete(t *testing.T) {
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	other := stFolder(t, s, "Other")
	var id1, id2 int64
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		var err error
		if id1, err = tx.Insert(Message{UID: 7, Key: "k7", Flags: "FS", Size: 123, MessageID: "<a@b>"}); err != nil {
			return err
		}
		id2, err = tx.Insert(Message{UID: 3, Key: "k3"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if id1 == 0 || id2 == 0 || id1 == id2 {
		t.Fatalf("ids %d %d", id1, id2)
	}
	want := []Message{
		{ID: id2, UID: 3, Key: "k3"},
		{ID: id1, UID: 7, Key: "k7", Flags: "FS", Size: 123, MessageID: "<a@b>"},
	}
	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("Messages = %+v, want %+v (ordered by uid)", got, want)
	}
	if got := stMessages(t, s, other.ID); len(got) != 0 {
		t.Fatalf("other folder has %+v", got)
	}

	// Update rewrites UID, key and flags and keeps what identifies the
	// message, so a row read without them (Pairs) can be written back.
	upd := Message{ID: id1, UID: 0, Key: "k7b", Flags: ""}
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.Update(upd) }); err != nil {
		t.Fatal(err)
	}
	want = []Message{{ID: id1, UID: 0, Key: "k7b", Size: 123, MessageID: "<a@b>"}, {ID: id2, UID: 3, Key: "k3"}}
	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after Update: %+v, want %+v", got, want)
	}
	if got, err := s.Pairs(context.Background(), f.ID); err != nil || len(got) != 2 || got[0].Key != "k7b" || got[0].MessageID != "" || got[0].Size != 0 {
		t.Fatalf("Pairs = %+v, %v; want the pairs without size and Message-ID", got, err)
	}
	// UpdateIdentity rewrites every field.
	upd = Message{ID: id1, UID: 0, Key: "k7b", Flags: "", Size: 5, MessageID: "<c@d>"}
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.UpdateIdentity(upd) }); err != nil {
		t.Fatal(err)
	}
	want = []Message{upd, {ID: id2, UID: 3, Key: "k3"}}
	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after UpdateIdentity: %+v, want %+v", got, want)
	}

	// A transaction for another folder can't touch these rows.
	if err := stTx(t, s, other.ID, func(tx *Tx) error {
		if err := tx.Update(Message{ID: id2, UID: 99, Key: "hijack"}); err != nil {
			return err
		}
		if err := tx.Delete(id1); err != nil {
			return err
		}
		return tx.DeleteAllMessages()
	}); err != nil {
		t.Fatal(err)
	}
	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("other folder's tx changed rows: %+v", got)
	}

	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.Delete(id2) }); err != nil {
		t.Fatal(err)
	}
	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, []Message{upd}) {
		t.Fatalf("after Delete: %+v", got)
	}
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.DeleteAllMessages() }); err != nil {
		t.Fatal(err)
	}
	if got := stMessages(t, s, f.ID); len(got) != 0 {
		t.Fatalf("after DeleteAllMessages: %+v", got)
	}
}

func TestTxRollback(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	var keep int64
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		var err error
		keep, err = tx.Insert(Message{UID: 1, Key: "k1", Flags: "S"})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	tx, err := s.Begin(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Insert(Message{UID: 2, Key: "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Update(Message{ID: keep, UID: 1, Key: "k1", Flags: "FS"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.AddJournal(JournalEntry{Op: "append", Key: "k3"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.UpdateFolder(Folder{ID: f.ID, LocalName: "x", UIDValidity: 9}); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	tx.Rollback() // twice is harmless

	if got := stMessages(t, s, f.ID); !reflect.DeepEqual(got, []Message{{ID: keep, UID: 1, Key: "k1", Flags: "S"}}) {
		t.Errorf("messages after rollback: %+v", got)
	}
	if j, err := s.Journal(ctx, f.ID); err != nil || len(j) != 0 {
		t.Errorf("journal after rollback: %+v, %v", j, err)
	}
	if g, _, err := s.Folder(ctx, "INBOX"); err != nil || g != f {
		t.Errorf("folder after rollback: %+v, %v", g, err)
	}

	// Rollback after Commit keeps the commit.
	tx, err = s.Begin(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Insert(Message{UID: 2, Key: "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if got := stMessages(t, s, f.ID); len(got) != 2 {
		t.Errorf("after commit then rollback: %+v", got)
	}
}

func TestUniqueIndexes(t *testing.T) {
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	g := stFolder(t, s, "Other")
	ins := func(folder int64, ms ...Message) error {
		return stTx(t, s, folder, func(tx *Tx) error {
			for _, m := range ms {
				if _, err := tx.Insert(m); err != nil {
					return err
				}
			}
			return nil
		})
	}
	tests := []struct {
		name string
		ms   []Message
		ok   bool
	}{
		{"same uid", []Message{{UID: 5, Key: "a"}, {UID: 5, Key: "b"}}, false},
		{"same key", []Message{{UID: 5, Key: "a"}, {UID: 6, Key: "a"}}, false},
		{"uid 0 twice", []Message{{UID: 0, Key: "a"}, {UID: 0, Key: "b"}}, true},
		{"key empty twice", []Message{{UID: 5, Key: ""}, {UID: 6, Key: ""}}, true},
		{"both tombstones twice", []Message{{UID: 0, Key: ""}, {UID: 0, Key: ""}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.DeleteAllMessages() }); err != nil {
				t.Fatal(err)
			}
			err := ins(f.ID, tc.ms...)
			if tc.ok && err != nil {
				t.Fatalf("insert failed: %v", err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatal("duplicate accepted")
				}
				// The failed transaction left nothing behind.
				if got := stMessages(t, s, f.ID); len(got) != 0 {
					t.Fatalf("rows after failed tx: %+v", got)
				}
			}
		})
	}

	// The same uid and key in different folders are independent.
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.DeleteAllMessages() }); err != nil {
		t.Fatal(err)
	}
	if err := ins(f.ID, Message{UID: 5, Key: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := ins(g.ID, Message{UID: 5, Key: "a"}); err != nil {
		t.Fatalf("same uid/key in another folder: %v", err)
	}

	// Update into a conflict fails too.
	if err := ins(f.ID, Message{UID: 6, Key: "b"}); err != nil {
		t.Fatal(err)
	}
	ms := stMessages(t, s, f.ID)
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		m := ms[1]
		m.UID = 5
		return tx.Update(m)
	}); err == nil {
		t.Error("update to a duplicate uid accepted")
	}
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		m := ms[1]
		m.Key = "a"
		return tx.Update(m)
	}); err == nil {
		t.Error("update to a duplicate key accepted")
	}
	// Both rows may become tombstones with uid 0.
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for _, m := range ms {
			m.UID = 0
			if err := tx.Update(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Errorf("two rows to uid 0: %v", err)
	}
}

func TestInsertRequiresFolder(t *testing.T) {
	s := stOpen(t)
	if err := stTx(t, s, 12345, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 1, Key: "k"})
		return err
	}); err == nil {
		t.Error("insert for a missing folder accepted (foreign keys off?)")
	}
}

func TestJournal(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f := stFolder(t, s, "INBOX")
	g := stFolder(t, s, "Other")
	var ids []int64
	entries := []JournalEntry{
		{Op: "append", Key: "k2", MessageID: "<2@x>", Size: 200, UIDNext: 10},
		{Op: "append", Key: "k1", MessageID: "", Size: 0, UIDNext: 4294967295},
		{Op: "append", Key: "k3", MessageID: "<3@x>", Size: 1 << 40, UIDNext: 1},
	}
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for _, j := range entries {
			id, err := tx.AddJournal(j)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := stTx(t, s, g.ID, func(tx *Tx) error {
		_, err := tx.AddJournal(JournalEntry{Op: "append", Key: "other"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		entries[i].ID = ids[i]
	}
	got, err := s.Journal(ctx, f.ID)
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatalf("Journal = %+v, %v; want %+v", got, err, entries)
	}

	// DeleteJournal through another folder's tx does nothing.
	if err := stTx(t, s, g.ID, func(tx *Tx) error { return tx.DeleteJournal(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Journal(ctx, f.ID); len(got) != 3 {
		t.Fatalf("other folder's DeleteJournal removed an entry: %+v", got)
	}
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.DeleteJournal(ids[1]) }); err != nil {
		t.Fatal(err)
	}
	got, err = s.Journal(ctx, f.ID)
	if err != nil || !reflect.DeepEqual(got, []JournalEntry{entries[0], entries[2]}) {
		t.Fatalf("after DeleteJournal: %+v, %v", got, err)
	}
	if og, err := s.Journal(ctx, g.ID); err != nil || len(og) != 1 || og[0].Key != "other" {
		t.Fatalf("other folder's journal: %+v, %v", og, err)
	}
}

func TestMessageCount(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	if n, err := s.MessageCount(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: %d, %v", n, err)
	}
	f := stFolder(t, s, "INBOX")
	g := stFolder(t, s, "Other")
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for _, m := range []Message{{UID: 1, Key: "a"}, {UID: 2, Key: ""}, {UID: 0, Key: "b"}, {UID: 0, Key: ""}} {
			if _, err := tx.Insert(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := stTx(t, s, g.ID, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 1, Key: "a"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MessageCount(ctx); err != nil || n != 3 {
		t.Fatalf("MessageCount = %d, %v; want 3 (rows with a key, all folders)", n, err)
	}
}

func TestConcurrentTransactions(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	const workers, perWorker = 8, 50
	folders := make([]Folder, workers)
	for i := range folders {
		folders[i] = stFolder(t, s, fmt.Sprint("F", i))
	}
	var wg gosync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(f Folder) {
			defer wg.Done()
			for i := 1; i <= perWorker; i++ {
				tx, err := s.Begin(ctx, f.ID)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Insert(Message{UID: uint32(i), Key: fmt.Sprint(f.Name, "-", i), Flags: "S"}); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.UpdateFolder(Folder{ID: f.ID, LocalName: f.LocalName, UIDNext: uint32(i + 1)}); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		}(folders[w])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, f := range folders {
		if got := stMessages(t, s, f.ID); len(got) != perWorker {
			t.Errorf("folder %s has %d messages, want %d", f.Name, len(got), perWorker)
		}
		g, _, err := s.Folder(ctx, f.Name)
		if err != nil || g.UIDNext != perWorker+1 {
			t.Errorf("folder %s uidnext %d, %v", f.Name, g.UIDNext, err)
		}
	}
	if n, err := s.MessageCount(ctx); err != nil || n != workers*perWorker {
		t.Errorf("MessageCount = %d, %v", n, err)
	}
}

// Two Stores on one file (two processes, in effect) also queue rather than
// fail with SQLITE_BUSY, thanks to busy_timeout and BEGIN IMMEDIATE.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	f, err := stores[0].EnsureFolder(ctx, "INBOX", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var wg gosync.WaitGroup
	errs := make(chan error, 2)
	for w, s := range stores {
		wg.Add(1)
		go func(w int, s *Store) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				tx, err := s.Begin(ctx, f.ID)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Insert(Message{UID: uint32(w*1000 + i + 1), Key: fmt.Sprint(w, "-", i)}); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		}(w, s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := stores[1].MessageCount(ctx); err != nil || n != 50 {
		t.Errorf("MessageCount = %d, %v; want 50", n, err)
	}
}

// TestMigrateFromVersion1 opens a database written by schema version 1 and
// checks that it is migrated in place, keeping its data, that the download
// journal columns of version 2 work, and that version 5 filled in the
// digest and buckets of the pairs already recorded.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations()[0].sql,
		"PRAGMA user_version = 1",
		"INSERT INTO folders(name, local_name, uidvalidity) VALUES('INBOX', 'INBOX', 7)",
		"INSERT INTO messages(folder_id, uid, key, flags) VALUES(1, 1, 'k1', 'S'), (1, 2, 'k2', 'FS'), (1, 3, '', 'S')",
		"INSERT INTO journal(folder_id, op, key, message_id, size, uidnext) VALUES(1, 'append', 'k', '<m@x>', 10, 3)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d (%v), want %d", v, err, SchemaVersion)
	}
	f, ok, err := s.Folder(ctx, "INBOX")
	if err != nil || !ok || f.UIDValidity != 7 {
		t.Fatalf("folder lost in migration: %+v %v %v", f, ok, err)
	}
	js, err := s.Journal(ctx, f.ID)
	if err != nil || len(js) != 1 || js[0].Key != "k" || js[0].UIDs != "" {
		t.Fatalf("journal after migration: %+v %v", js, err)
	}
	var want Digest
	want.Add("k1", "S")
	want.Add("k2", "FS")
	got, err := s.Digest(ctx, f.ID)
	if err != nil || len(got.Differs(&want)) != 0 {
		t.Fatalf("digest after migration differs from the rows' (%v)", err)
	}
	inK1, err := s.PairsInBuckets(ctx, f.ID, []int{Bucket("k1")})
	if err != nil || !slices.ContainsFunc(inK1, func(m Message) bool { return m.Key == "k1" }) {
		t.Fatalf("PairsInBuckets(bucket of k1) after migration = %+v, %v", inK1, err)
	}
	tx, err := s.Begin(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.AddJournal(JournalEntry{Op: OpDownload, UIDs: "1:3,9", UIDValidity: 7}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	js, _ = s.Journal(ctx, f.ID)
	if len(js) != 2 || js[1].Op != OpDownload || js[1].UIDs != "1:3,9" || js[1].UIDValidity != 7 {
		t.Fatalf("download entry: %+v", js)
	}
}

// TestMessagesUsesFolderIndex pins the query plan of the per-folder read:
// without a full index on folder_id it scans every folder's rows and sorts
// them, which made each changed folder cost as much as the whole account.
func TestMessagesUsesFolderIndex(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+messagesQuery, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "USING INDEX messages_folder") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("query plan %q: want a search of messages_folder and no sort", got)
	}
}

// TestRemoteName: the server name is recorded by UpdateFolder and by
// SetRemoteName, and read back with the folder.
func TestRemoteName(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f, err := s.EnsureFolder(ctx, "Work/Alpha", "Work/Alpha")
	if err != nil || f.RemoteName != "" {
		t.Fatalf("new folder: %+v %v", f, err)
	}
	f.RemoteName = "Work.Alpha"
	if err := stTx(t, s, f.ID, func(tx *Tx) error { return tx.UpdateFolder(f) }); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Folder(ctx, "Work/Alpha"); got.RemoteName != "Work.Alpha" {
		t.Errorf("after UpdateFolder: %q", got.RemoteName)
	}
	if err := s.SetRemoteName(ctx, f.ID, "Work/Alpha"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.Folders(ctx); len(fs) != 1 || fs[0].RemoteName != "Work/Alpha" {
		t.Errorf("after SetRemoteName: %+v", fs)
	}
}

// TestUIDsAndMessagesByUID: the incremental planner's two reads, across
// more UIDs than one query binds.
func TestUIDsAndMessagesByUID(t *testing.T) {
	ctx := context.Background()
	s := stOpen(t)
	f, other := stFolder(t, s, "INBOX"), stFolder(t, s, "Other")
	if err := stTx(t, s, f.ID, func(tx *Tx) error {
		for i := 1200; i >= 1; i-- { // inserted out of order
			if _, err := tx.Insert(Message{UID: uint32(i), Key: fmt.Sprintf("k%d", i), Flags: "S"}); err != nil {
				return err
			}
		}
		_, err := tx.Insert(Message{UID: 0, Key: "local-only"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := stTx(t, s, other.ID, func(tx *Tx) error {
		_, err := tx.Insert(Message{UID: 5, Key: "elsewhere"})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	uids, err := s.UIDs(ctx, f.ID, 0)
	if err != nil || len(uids) != 1200 || uids[0] != 1 || uids[1199] != 1200 || !slices.IsSorted(uids) {
		t.Fatalf("UIDs: %d, first/last %v, %v", len(uids), uids[:1], err)
	}
	want := []uint32{3, 5, 700, 1199}
	for i := 1201; i < 1900; i++ {
		want = append(want, uint32(i)) // not recorded: left out
	}
	ms, err := s.MessagesByUID(ctx, f.ID, want)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, m := range ms {
		got = append(got, m.UID)
		if m.Key != fmt.Sprintf("k%d", m.UID) {
			t.Errorf("uid %d: key %q", m.UID, m.Key)
		}
	}
	if !slices.Equal(got, []uint32{3, 5, 700, 1199}) {
		t.Errorf("MessagesByUID = %v", got)
	}
}
