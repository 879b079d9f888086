package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const manRegenerate = "rm -f docs/man/*.1 && go run ./cmd/mailsync man docs/man"

// TestManPagesUpToDate runs `mailsync man` and compares what it writes with
// docs/man: a command, flag or help text changed without regenerating the
// shipped pages fails here.
func TestManPagesUpToDate(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	if code := run([]string{"man", dir}, io.Discard, &stderr); code != exitOK {
		t.Fatalf("mailsync man: exit %d: %s", code, stderr.String())
	}
	got := readPages(t, dir)
	want := readPages(t, filepath.Join("..", "..", "docs", "man"))
	var stale []string
	for name, page := range got {
		w, ok := want[name]
		switch {
		case !ok:
			stale = append(stale, name+" is missing from docs/man")
		case !bytes.Equal(w, page):
			stale = append(stale, name+" differs")
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			stale = append(stale, name+" is in docs/man, but no command has it")
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Errorf("docs/man is stale; regenerate it from the repository's root with\n\t%s\n%s", manRegenerate, strings.Join(stale, "\n"))
	}
}

func readPages(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(n)] = b
	}
	return pages
}

// TestManPages checks what the pages hold: one for each command, cobra's
// completion command included, and nothing that changes from one run to
// the next.
func TestManPages(t *testing.T) {
	pages, err := manPages(newRootCmd(io.Discard, io.Discard).cmd)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mailsync.1", "mailsync-sync.1", "mailsync-daemon.1", "mailsync-status.1",
		"mailsync-systemd-install.1", "mailsync-import-mbsync.1", "mailsync-man.1",
		"mailsync-completion-bash.1", "mailsync-completion-zsh.1", "mailsync-completion-fish.1"} {
		if _, ok := pages[name]; !ok {
			t.Errorf("no page %s", name)
		}
	}
	for name, page := range pages {
		s := string(page)
		if !strings.Contains(s, "\n.TH ") || !strings.Contains(s, `" "1" "" "mailsync" "mailsync manual"`) {
			t.Errorf("%s: .TH line without the empty date, or with another source or manual:\n%.200s", name, s)
		}
		if strings.Contains(s, "Auto generated") || strings.Contains(s, "HISTORY") {
			t.Errorf("%s carries cobra's generation tag", name)
		}
		if strings.Contains(s, "__complete") {
			t.Errorf("%s mentions the hidden __complete command", name)
		}
	}
	if !strings.Contains(string(pages["mailsync-sync.1"]), `\fB-a\fP, \fB--account\fP`) {
		t.Errorf("mailsync-sync.1 does not describe -a:\n%s", pages["mailsync-sync.1"])
	}
}
