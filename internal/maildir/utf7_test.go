package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUTF7Names(t *testing.T) {
	root := t.TempDir()
	for _, layout := range []Layout{FS{}, MaildirPP{}} {
		u := UTF7Names{layout}
		dir, err := u.Dir(root, "Entwürfe/Café & Co")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dir, "Entw&APw-rfe") || !strings.Contains(dir, "Caf&AOk- &- Co") {
			t.Errorf("%T: Dir = %s", layout, dir)
		}
		if err := (&Folder{Dir: dir}).Create(); err != nil {
			t.Fatal(err)
		}
		names, err := u.List(root)
		if err != nil || !slices.Contains(names, "Entwürfe/Café & Co") {
			t.Errorf("%T: List = %v, %v", layout, names, err)
		}
	}
	// A raw UTF-8 directory has no modified UTF-7 name.
	if err := (&Folder{Dir: filepath.Join(root, "Grüße")}).Create(); err != nil {
		t.Fatal(err)
	}
	if _, err := (UTF7Names{FS{}}).List(root); err == nil || !strings.Contains(err.Error(), `rename it to "Gr&APwA3w-e"`) {
		t.Errorf("raw UTF-8 name: %v", err)
	}
	os.RemoveAll(filepath.Join(root, "Grüße"))
}
