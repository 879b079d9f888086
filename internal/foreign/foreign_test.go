package foreign

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An mbsync 1.4.4 state file, as `SyncState *` leaves it in a folder.
const mbsyncState = `FarUidValidity 1796299214
NearUidValidity 1796299202
MaxPulledUid 139
MaxPushedUid 139

1 1 S
2 2 
3 3 FS
4 0 S
0 5 S
7 6 ^FRS
`

func TestMbsync(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, MbsyncStateFile), []byte(mbsyncState), 0o600); err != nil {
		t.Fatal(err)
	}
	h, validity, err := Mbsync(dir, "", "INBOX")
	if err != nil || validity != 1796299214 || h.Tool != "mbsync" {
		t.Fatalf("Mbsync: %+v, %d, %v", h, validity, err)
	}
	for _, tc := range []struct {
		u    uint32
		want Hint
		ok   bool
	}{
		{1, Hint{1, "S"}, true},
		{2, Hint{2, ""}, true},
		{3, Hint{3, "FS"}, true},
		{6, Hint{7, "FRS"}, true},
		{4, Hint{}, false}, // far 4 has no near copy
		{5, Hint{}, false}, // near 5 has no far copy
		{0, Hint{}, false},
	} {
		got, ok := h.Lookup(tc.u)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%d) = %+v, %v; want %+v, %v", tc.u, got, ok, tc.want, tc.ok)
		}
	}
	if h, _, err := Mbsync(t.TempDir(), "", "INBOX"); h != nil || err != nil {
		t.Errorf("no state file: %v, %v", h, err)
	}
}

func TestMbsyncStateDir(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{":far:INBOX_:near:INBOX", ":far:Lists!go_:near:Lists!go", ":far:Lists!go_:near:Lists!go.journal", ":far:Archive_:near:Old!Archive"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(mbsyncState), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for box, want := range map[string]string{"INBOX": ":far:INBOX_:near:INBOX", "Lists/go": ":far:Lists!go_:near:Lists!go", "Archive": "", "Old/Archive": ":far:Archive_:near:Old!Archive"} {
		got, err := mbsyncStateIn(dir, box)
		if err != nil || filepath.Base(got) != want && !(want == "" && got == "") {
			t.Errorf("mbsyncStateIn(%q) = %q, %v; want %q", box, got, err, want)
		}
	}
	// Two channels into one box: which state counts can't be told.
	os.WriteFile(filepath.Join(dir, ":other:INBOX_:near2:INBOX"), []byte(mbsyncState), 0o600)
	if got, _ := mbsyncStateIn(dir, "INBOX"); got != "" {
		t.Errorf("two candidates gave %q", got)
	}
	h, _, err := Mbsync(t.TempDir(), dir, "Lists/go")
	if err != nil || h.Len() != 4 {
		t.Errorf("Mbsync via SyncState dir: %v, %v", h, err)
	}
}

func TestMbsyncBroken(t *testing.T) {
	for _, in := range []string{"", "FarUidValidity 1\n", "FarUidValidity x\n\n", "FarUidValidity 1\n\n1\n", "FarUidValidity 1\n\na b S\n"} {
		if _, _, err := parseMbsync(bufio.NewScanner(strings.NewReader(in))); err == nil {
			t.Errorf("parseMbsync(%q) accepted", in)
		}
	}
}

func TestOfflineimapPlain(t *testing.T) {
	acct := t.TempDir()
	dir := filepath.Join(acct, "LocalStatus")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "Lists.go"), []byte(offlineimapMagic+"2\n3|FS|1700000000|\n5||0|label\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "INBOX"), []byte(offlineimapMagic+"1\n3:S\n"), 0o600)
	h, err := Offlineimap(context.Background(), acct, "Lists/go")
	if err != nil || h.Len() != 2 {
		t.Fatalf("Offlineimap: %v, %v", h, err)
	}
	if x, ok := h.Lookup(3); !ok || x != (Hint{3, "FS"}) {
		t.Errorf("Lookup(3) = %+v, %v", x, ok)
	}
	if h, err := Offlineimap(context.Background(), acct, "INBOX"); err != nil || h.Len() != 1 {
		t.Errorf("format 1: %v, %v", h, err)
	}
	if h, err := Offlineimap(context.Background(), acct, "Other"); h != nil || err != nil {
		t.Errorf("no status: %v, %v", h, err)
	}
	for _, in := range []string{"", "garbage\n", offlineimapMagic + "2\nx|S|0|\n", offlineimapMagic + "2\n7\n"} {
		if _, err := parseOfflineimapPlain(bufio.NewScanner(strings.NewReader(in))); err == nil {
			t.Errorf("parseOfflineimapPlain(%q) accepted", in)
		}
	}
}

func TestOfflineimapBasename(t *testing.T) {
	for in, want := range map[string]string{"INBOX": "INBOX", "Lists/go": "Lists.go", "a/.": "a.dot", ".": "dot", "": "."} {
		if got := offlineimapBasename(in); got != want {
			t.Errorf("offlineimapBasename(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzMbsync(f *testing.F) {
	f.Add(mbsyncState)
	f.Fuzz(func(t *testing.T, s string) {
		h, _, err := parseMbsync(bufio.NewScanner(strings.NewReader(s)))
		if err == nil && h == nil {
			t.Fatal("no hints and no error")
		}
	})
}

func FuzzOfflineimapPlain(f *testing.F) {
	f.Add(offlineimapMagic + "2\n3|FS|1700000000|\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseOfflineimapPlain(bufio.NewScanner(strings.NewReader(s)))
	})
}
