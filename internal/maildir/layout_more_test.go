package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestMoreLayoutDir(t *testing.T) {
	const root = "/mail"
	tests := []struct {
		layout Layout
		name   string
		want   string // "" means an error is expected
	}{
		{Dotted{}, "INBOX", "/mail/INBOX"},
		{Dotted{}, "A", "/mail/A"},
		{Dotted{}, "Lists/go", "/mail/Lists.go"},
		{Dotted{}, "A/B/C", "/mail/A.B.C"},
		{Dotted{}, "INBOX/Sub", "/mail/INBOX.Sub"},
		{Dotted{}, "Entwürfe/日本語", "/mail/Entwürfe.日本語"},
		{Dotted{}, "[Gmail]/Sent Mail", "/mail/[Gmail].Sent Mail"},
		{Dotted{}, "Entw&APw-rfe", "/mail/Entw&APw-rfe"},
		{Dotted{}, "a.b", ""},
		{Dotted{}, "a/b.c", ""},
		{Dotted{}, ".hidden", ""},
		{Dotted{}, "a/.b", ""},
		{Dotted{}, "", ""},
		{Dotted{}, "a//b", ""},
		{Dotted{}, "../x", ""},
		{Dotted{}, "a/cur", ""},
		{Dotted{}, "tmp", ""},
		{Dotted{}, "a\x00b", ""},

		{MbsyncLegacy{}, "INBOX", "/mail/INBOX"},
		{MbsyncLegacy{}, "top", "/mail/top"},
		{MbsyncLegacy{}, "top/sub", "/mail/top/.sub"},
		{MbsyncLegacy{}, "top/sub/subsub", "/mail/top/.sub/.subsub"},
		{MbsyncLegacy{}, "INBOX/sub", "/mail/INBOX/.sub"},
		{MbsyncLegacy{}, "a.b/c.d", "/mail/a.b/.c.d"},
		{MbsyncLegacy{}, "Entwürfe/日本語", "/mail/Entwürfe/.日本語"},
		{MbsyncLegacy{}, ".hidden", ""},
		{MbsyncLegacy{}, "top/.sub", ""},
		{MbsyncLegacy{}, "", ""},
		{MbsyncLegacy{}, "a/", ""},
		{MbsyncLegacy{}, "a/../b", ""},
		{MbsyncLegacy{}, "new", ""},
		{MbsyncLegacy{}, "a/cur", ""},
	}
	for _, tc := range tests {
		got, err := tc.layout.Dir(root, tc.name)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%T Dir(%q) = %q, want error", tc.layout, tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%T Dir(%q) = %q, %v; want %q", tc.layout, tc.name, got, err, tc.want)
		}
	}
}

func TestLayoutNamedMore(t *testing.T) {
	for name, want := range map[string]Layout{
		"fs": FS{}, "maildir++": MaildirPP{}, "dotted": Dotted{}, "mbsync-legacy": MbsyncLegacy{}, "": FS{},
	} {
		if got := LayoutNamed(name); got != want {
			t.Errorf("LayoutNamed(%q) = %T, want %T", name, got, want)
		}
	}
}

func TestDottedList(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	lyMaildir(t, filepath.Join(outside, "ext"))

	lyMaildir(t, filepath.Join(root, "INBOX"))
	lyMaildir(t, filepath.Join(root, "Lists"))
	lyMaildir(t, filepath.Join(root, "Lists.go"))
	lyMaildir(t, filepath.Join(root, "Lists.go.announce"))
	lyMaildir(t, filepath.Join(root, "[Gmail].Sent Mail"))
	lyMaildir(t, filepath.Join(root, "Entwürfe"))
	lyMkdir(t, filepath.Join(root, "NoCur", "new"))
	lyMaildir(t, filepath.Join(root, ".notmuch"))     // hidden: not a folder
	lyMaildir(t, filepath.Join(root, "Lists", "Sub")) // the dotted layout is flat
	lyMaildir(t, filepath.Join(root, "bad..name"))    // no folder name maps to it
	lyMaildir(t, filepath.Join(root, "trailing."))
	lySymlink(t, filepath.Join(outside, "ext"), filepath.Join(root, "Link"))
	fldWrite(t, filepath.Join(root, "file"), "x")
	// The root being a Maildir does not make it a folder.
	lyMaildir(t, root)

	got, err := Dotted{}.List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Entwürfe", "INBOX", "Lists", "Lists/go", "Lists/go/announce", "[Gmail]/Sent Mail"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for _, n := range got {
		d, err := Dotted{}.Dir(root, n)
		if err != nil || !isMaildir(d) {
			t.Errorf("Dir(%q) = %q, %v: not the listed folder", n, d, err)
		}
	}
	if _, err := (Dotted{}).List(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing root: %v, want ErrNotExist", err)
	}
}

func TestMbsyncLegacyList(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	lyMaildir(t, filepath.Join(outside, "ext"))

	lyMaildir(t, filepath.Join(root, "INBOX"))
	lyMaildir(t, filepath.Join(root, "INBOX", ".sub"))
	lyMaildir(t, filepath.Join(root, "top"))
	lyMaildir(t, filepath.Join(root, "top", ".sub"))
	lyMaildir(t, filepath.Join(root, "top", ".sub", ".subsub"))
	// A level that is no Maildir itself still holds children.
	lyMkdir(t, filepath.Join(root, "nomd", ".mid"))
	lyMaildir(t, filepath.Join(root, "nomd", ".mid", ".leaf"))
	// Inside a folder, plain directories are not children.
	lyMaildir(t, filepath.Join(root, "top", "plain"))
	// Maildir's own directories are not walked.
	lyMaildir(t, filepath.Join(root, "top", "cur", ".x"))
	// Hidden top-level directories are not folders.
	lyMaildir(t, filepath.Join(root, ".notmuch"))
	lySymlink(t, filepath.Join(outside, "ext"), filepath.Join(root, "top", ".link"))
	lySymlink(t, root, filepath.Join(root, "top", ".loop"))
	fldWrite(t, filepath.Join(root, "top", ".file"), "x")

	got, err := MbsyncLegacy{}.List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"INBOX", "INBOX/sub", "nomd/mid/leaf", "top", "top/sub", "top/sub/subsub"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for _, n := range got {
		d, err := MbsyncLegacy{}.Dir(root, n)
		if err != nil || !isMaildir(d) {
			t.Errorf("Dir(%q) = %q, %v: not the listed folder", n, d, err)
		}
	}
	if _, err := (MbsyncLegacy{}).List(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing root: %v, want ErrNotExist", err)
	}
}

// FuzzMoreLayouts checks that Dir never panics and that every folder Dir
// accepts is listed back under the same name: a layout that could not
// read back what it wrote would see a folder vanish and another appear.
func FuzzMoreLayouts(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "Lists/go", "a.b", ".x", "top/sub/subsub", "Entwürfe/日本語", "a//b", "a/cur"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, l := range []Layout{Dotted{}, MbsyncLegacy{}} {
			root := t.TempDir()
			dir, err := l.Dir(root, name)
			if err != nil {
				continue
			}
			if len(dir) > 200 {
				continue // beyond what a file system takes in one component
			}
			if err := os.MkdirAll(filepath.Join(dir, "cur"), 0o700); err != nil {
				continue // a name the file system refuses (too long, say)
			}
			got, err := l.List(root)
			if err != nil {
				t.Fatalf("%T List: %v", l, err)
			}
			if !slices.Contains(got, name) {
				t.Fatalf("%T: Dir(%q) = %q, but List = %q", l, name, dir, got)
			}
		}
	})
}
