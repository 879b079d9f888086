package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLayoutDir(t *testing.T) {
	const root = "/mail"
	tests := []struct {
		layout  string
		name    string
		want    string // "" means an error is expected
		errLike string
	}{
		{"fs", "INBOX", "/mail/INBOX", ""},
		{"fs", "A", "/mail/A", ""},
		{"fs", "A/B", "/mail/A/B", ""},
		{"fs", "A/B/C", "/mail/A/B/C", ""},
		{"fs", "Entwürfe/日本語", "/mail/Entwürfe/日本語", ""},
		{"fs", "a.b", "/mail/a.b", ""},
		{"fs", "a./b", "/mail/a./b", ""},
		{"fs", "Sent Items", "/mail/Sent Items", ""},
		{"fs", "", "", ""},
		{"fs", "a//b", "", ""},
		{"fs", "/a", "", ""},
		{"fs", "a/", "", ""},
		{"fs", "../x", "", ""},
		{"fs", "a/../x", "", ""},
		{"fs", "a/./x", "", ""},
		{"fs", "..", "", ""},
		{"fs", "a/cur", "", ""},
		{"fs", "new", "", ""},
		{"fs", "tmp/x", "", ""},
		{"fs", "a\x00b", "", ""},
		{"fs", ".hidden", "", ""},
		{"fs", "a/.b", "", ""},
		{"fs", ".notmuch", "", ""},

		{"maildir++", "INBOX", "/mail", ""},
		{"maildir++", "A", "/mail/.A", ""},
		{"maildir++", "A/B", "/mail/.A.B", ""},
		{"maildir++", "INBOX/Sub", "/mail/.INBOX.Sub", ""},
		{"maildir++", "Entwürfe/日本語", "/mail/.Entwürfe.日本語", ""},
		{"maildir++", "Sent Items", "/mail/.Sent Items", ""},
		{"maildir++", "a.b", "", ""},
		{"maildir++", ".a", "", ""},
		{"maildir++", "a/b.c", "", ""},
		{"maildir++", "", "", ""},
		{"maildir++", "a//b", "", ""},
		{"maildir++", "../x", "", ""},
		{"maildir++", "a/cur", "", ""},
		{"maildir++", "tmp", "", ""},
		{"maildir++", "a\x00b", "", ""},
	}
	for _, tc := range tests {
		var l Layout = FS{}
		if tc.layout == "maildir++" {
			l = MaildirPP{}
		}
		got, err := l.Dir(root, tc.name)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s Dir(%q) = %q, want error", tc.layout, tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s Dir(%q) = %q, %v; want %q", tc.layout, tc.name, got, err, tc.want)
		}
	}
}

// lyMaildir makes a Maildir folder (cur, new, tmp) at dir.
func lyMaildir(t *testing.T, dir string) {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func lyMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func lySymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestFSList(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	lyMaildir(t, filepath.Join(outside, "Elsewhere"))
	lyMaildir(t, filepath.Join(outside, "Elsewhere", "Child"))

	lyMaildir(t, filepath.Join(root, "INBOX"))
	lyMaildir(t, filepath.Join(root, "A"))
	lyMaildir(t, filepath.Join(root, "A", "B"))
	lyMaildir(t, filepath.Join(root, "A", "B", "C"))
	lyMaildir(t, filepath.Join(root, "Entwürfe", "日本語"))
	lyMkdir(t, filepath.Join(root, "NoMd", "Empty"))
	lyMaildir(t, filepath.Join(root, "NoMd", "Child"))
	// Hidden directories are not folders, nor are their children.
	lyMaildir(t, filepath.Join(root, ".notmuch"))
	lyMkdir(t, filepath.Join(root, ".notmuch", "xapian"))
	lyMaildir(t, filepath.Join(root, "A", ".Hidden"))
	// Maildir subdirectories are not walked.
	lyMaildir(t, filepath.Join(root, "A", "new", "X"))
	lyMaildir(t, filepath.Join(root, "A", "cur", "Y"))
	// Symlinked directories are not followed.
	lySymlink(t, filepath.Join(outside, "Elsewhere"), filepath.Join(root, "Link"))
	lySymlink(t, root, filepath.Join(root, "A", "Loop"))
	// A folder whose cur/ is a symlink is not a folder.
	lyMkdir(t, filepath.Join(root, "SymCur", "new"))
	lySymlink(t, filepath.Join(outside, "Elsewhere", "cur"), filepath.Join(root, "SymCur", "cur"))
	// A directory with only cur/ counts (isMaildir looks at cur/).
	lyMkdir(t, filepath.Join(root, "OnlyCur", "cur"))
	// Plain files are ignored.
	fldWrite(t, filepath.Join(root, "file"), "x")
	fldWrite(t, filepath.Join(root, "A", "B", "cur", "1.x:2,S"), "x")

	got, err := FS{}.List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "A/B", "A/B/C", "Entwürfe/日本語", "INBOX", "NoMd/Child", "OnlyCur"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	// Dir agrees with List.
	for _, n := range got {
		d, err := FS{}.Dir(root, n)
		if err != nil || !isMaildir(d) {
			t.Errorf("Dir(%q) = %q, %v: not the listed folder", n, d, err)
		}
	}
}

func TestFSListEmptyAndMissing(t *testing.T) {
	root := t.TempDir()
	got, err := FS{}.List(root)
	if err != nil || len(got) != 0 {
		t.Errorf("List of an empty root = %q, %v", got, err)
	}
	// The root itself being a Maildir does not make a folder: INBOX is ROOT/INBOX.
	lyMaildir(t, root)
	got, err = FS{}.List(root)
	if err != nil || len(got) != 0 {
		t.Errorf("List of a root Maildir = %q, %v", got, err)
	}
	if _, err := (FS{}).List(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing root: %v, want ErrNotExist", err)
	}
}

func TestMaildirPPList(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	lyMaildir(t, filepath.Join(outside, "ext"))

	lyMaildir(t, root)
	lyMaildir(t, filepath.Join(root, ".A"))
	lyMaildir(t, filepath.Join(root, ".A.B"))
	lyMaildir(t, filepath.Join(root, ".Entwürfe.日本語"))
	lyMkdir(t, filepath.Join(root, ".NoCur", "new"))
	lyMkdir(t, filepath.Join(root, ".notmuch", "xapian"))
	lyMaildir(t, filepath.Join(root, "plain"))         // no leading dot: not a folder
	lyMaildir(t, filepath.Join(root, ".A", ".Nested")) // maildir++ is flat
	lySymlink(t, filepath.Join(outside, "ext"), filepath.Join(root, ".Link"))
	fldWrite(t, filepath.Join(root, ".file"), "x")
	fldWrite(t, filepath.Join(root, "cur", "1.x:2,S"), "x")

	got, err := MaildirPP{}.List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "A/B", "Entwürfe/日本語", "INBOX"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for _, n := range got {
		d, err := MaildirPP{}.Dir(root, n)
		if err != nil || !isMaildir(d) {
			t.Errorf("Dir(%q) = %q, %v: not the listed folder", n, d, err)
		}
	}

	// Without cur/ in the root there is no INBOX.
	root2 := t.TempDir()
	lyMaildir(t, filepath.Join(root2, ".Sub"))
	got, err = MaildirPP{}.List(root2)
	if err != nil || !reflect.DeepEqual(got, []string{"Sub"}) {
		t.Errorf("List without INBOX = %q, %v", got, err)
	}
	if _, err := (MaildirPP{}).List(filepath.Join(root2, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing root: %v, want ErrNotExist", err)
	}
}

func TestRootInUse(t *testing.T) {
	base := t.TempDir()
	if used, err := RootInUse(filepath.Join(base, "missing")); used || err != nil {
		t.Errorf("missing root: %v, %v", used, err)
	}
	empty := filepath.Join(base, "empty")
	lyMkdir(t, empty)
	if used, err := RootInUse(empty); used || err != nil {
		t.Errorf("empty root: %v, %v", used, err)
	}
	withFile := filepath.Join(base, "withfile")
	lyMkdir(t, withFile)
	fldWrite(t, filepath.Join(withFile, ".hidden"), "")
	if used, err := RootInUse(withFile); !used || err != nil {
		t.Errorf("root with a dot-file: %v, %v", used, err)
	}
	withDir := filepath.Join(base, "withdir")
	lyMaildir(t, filepath.Join(withDir, "INBOX"))
	if used, err := RootInUse(withDir); !used || err != nil {
		t.Errorf("root with a folder: %v, %v", used, err)
	}
}
