package accounts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailsync/config"
	msync "mailsync/sync"
)

// TestMailboxesFile: after a sync, mailboxes_file lists the local folders
// in mutt's form; a sync that changes no folder leaves the file as it is
// (not even rewritten); a new folder is listed after the next sync; a
// dry run writes nothing.
func TestMailboxesFile(t *testing.T) {
	w := newWorld(t, "mb", "")
	file := filepath.Join(w.dir, "mutt", "mailboxes")
	w.cfg.General.Mailboxes = config.Mailboxes{File: file, Format: config.MailboxesMutt}
	a := w.open(t)
	ctx := context.Background()

	if r := a.Sync(ctx, Cycle{Mode: ModeFull, Engine: msync.Options{DryRun: true}}); r.Failed() {
		t.Fatalf("dry run: %v", r.Errors())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote the mailboxes file: %v", err)
	}
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatalf("sync: %v", r.Errors())
	}
	mail := filepath.Join(w.dir, "Mail")
	want := "mailboxes \"" + mail + "/INBOX\"\nmailboxes \"" + mail + "/Work\"\n"
	if got := readString(t, file); got != want {
		t.Fatalf("mailboxes file:\n%s\nwant:\n%s", got, want)
	}
	before, _ := os.Stat(file)
	time.Sleep(10 * time.Millisecond)
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatalf("second sync: %v", r.Errors())
	}
	if after, _ := os.Stat(file); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a sync that changed no folder rewrote the mailboxes file")
	}

	if err := w.srv.Create(w.user, `Odd "$name`); err != nil {
		t.Fatal(err)
	}
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatalf("third sync: %v", r.Errors())
	}
	want = "mailboxes \"" + mail + "/INBOX\"\nmailboxes \"" + mail + "/Odd \\\"\\$name\"\nmailboxes \"" + mail + "/Work\"\n"
	if got := readString(t, file); got != want {
		t.Errorf("after a new server folder:\n%s\nwant:\n%s", got, want)
	}
}

func TestMailboxesLines(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "c.toml"), []byte(`[general]
state_dir = "`+dir+`/state"
mailboxes_file = "`+dir+`/list"
mailboxes_format = "lines"
[accounts.b.remote]
host = "h"
user = "u"
password = "p"
[accounts.b.local]
path = "`+dir+`/b"
layout = "maildir++"
[accounts.a.remote]
host = "h"
user = "u"
password = "p"
[accounts.a.local]
path = "`+dir+`/a"
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a/INBOX", "a/X/Y", "b", "b/.Sent"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := writeMailboxes(cfg); err != nil {
		t.Fatal(err)
	}
	want := dir + "/a/INBOX\n" + dir + "/a/X/Y\n" + dir + "/b\n" + dir + "/b/.Sent\n"
	if got := readString(t, filepath.Join(dir, "list")); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
