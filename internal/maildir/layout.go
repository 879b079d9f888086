package maildir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Layout maps folder names ('/'-separated, UTF-8) to directories under a root.
type Layout interface {
	// Dir returns the folder's directory, or an error if the layout cannot
	// represent the name.
	Dir(root, name string) (string, error)
	// List returns the names of the Maildir folders under root, sorted.
	List(root string) ([]string, error)
}

// LayoutNamed returns the layout of a config's local.layout value; the
// config has checked it, so an unknown name is the nested layout.
func LayoutNamed(name string) Layout {
	switch name {
	case "maildir++":
		return MaildirPP{}
	case "dotted":
		return Dotted{}
	case "mbsync-legacy":
		return MbsyncLegacy{}
	}
	return FS{}
}

// FS is the nested layout: folder "A/B" lives at ROOT/A/B, INBOX at ROOT/INBOX.
type FS struct{}

// MaildirPP is the Maildir++ layout: ROOT is INBOX and "A/B" lives at ROOT/.A.B.
type MaildirPP struct{}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty folder name")
	}
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".", "..":
			return fmt.Errorf("folder name %q has an empty, '.' or '..' component", name)
		case "cur", "new", "tmp":
			return fmt.Errorf("folder name %q has a component %q, which is a Maildir directory name", name, c)
		}
		if strings.ContainsRune(c, 0) {
			return fmt.Errorf("folder name %q contains NUL", name)
		}
	}
	return nil
}

func (FS) Dir(root, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if strings.HasPrefix(name, ".") || strings.Contains(name, "/.") {
		return "", fmt.Errorf("folder name %q has a component starting with '.', which the fs layout hides", name)
	}
	return filepath.Join(root, filepath.FromSlash(name)), nil
}

func (FS) List(root string) ([]string, error) {
	var names []string
	var walk func(dir, prefix string) error
	walk = func(dir, prefix string) error {
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, de := range des {
			n := de.Name()
			// Symlinked directories are not followed: they could point
			// outside the tree or loop.
			if !de.IsDir() || strings.HasPrefix(n, ".") || n == "cur" || n == "new" || n == "tmp" {
				continue
			}
			p := filepath.Join(dir, n)
			name := prefix + n
			if isMaildir(p) {
				names = append(names, name)
			}
			if err := walk(p, name+"/"); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

func (MaildirPP) Dir(root, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if name == "INBOX" {
		return root, nil
	}
	if strings.Contains(name, ".") {
		return "", fmt.Errorf("folder name %q contains '.', which the maildir++ layout uses as its separator", name)
	}
	return filepath.Join(root, "."+strings.ReplaceAll(name, "/", ".")), nil
}

func (MaildirPP) List(root string) ([]string, error) {
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var names []string
	if isMaildir(root) {
		names = append(names, "INBOX")
	}
	for _, de := range des {
		n := de.Name()
		if !de.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		if isMaildir(filepath.Join(root, n)) {
			names = append(names, strings.ReplaceAll(n[1:], ".", "/"))
		}
	}
	sort.Strings(names)
	return names, nil
}

func isMaildir(dir string) bool {
	st, err := os.Lstat(filepath.Join(dir, "cur"))
	return err == nil && st.IsDir()
}

// RootInUse reports whether root exists and holds anything at all. An
// unmounted disk shows up as a missing or empty root.
func RootInUse(root string) (bool, error) {
	f, err := os.Open(root)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return true, nil
	}
	if err == io.EOF {
		return false, nil
	}
	return false, err // e.g. root is a regular file: say so rather than "empty"
}
