package state

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestOfflineimapStatus(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "INBOX")
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	// offlineimap 8's schema (offlineimap/folder/LocalStatusSQLite.py).
	if _, err := db.Exec(`CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
		INSERT INTO metadata VALUES('db_version', '2');
		CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));
		INSERT INTO status VALUES (1, 'S', 0, ''), (7, 'FS', 0, ''), (9, NULL, 0, ''), (-3, 'S', 0, '');`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(p)
	got, err := OfflineimapStatus(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{1: "S", 7: "FS", 9: ""}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("uid %d: %q, want %q", k, got[k], v)
		}
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Error("reading the status database changed it")
	}
	if _, err := OfflineimapStatus(ctx, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing database read as empty")
	}
}
