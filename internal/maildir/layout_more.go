package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The layouts in this file exist so that mailsync can adopt a Maildir tree
// that another tool wrote, in place, without renaming a directory: both
// are what `mailsync import` chooses when the other tool's configuration
// says its tree looks like this.

// Dotted is offlineimap's default Maildir layout (sep = "."), and mbsync's
// with "Flatten .": every folder is a directory directly under ROOT, its
// hierarchy joined with dots, so "A/B" lives at ROOT/A.B and INBOX at
// ROOT/INBOX. Unlike maildir++, the names carry no leading dot and ROOT
// itself is no folder.
type Dotted struct{}

// MbsyncLegacy is mbsync's "SubFolders Legacy" layout: a top-level folder
// is a directory under ROOT, and each deeper level a dot-directory inside
// its parent, so "top/sub/subsub" lives at ROOT/top/.sub/.subsub and INBOX
// at ROOT/INBOX.
type MbsyncLegacy struct{}

// checkNoDotStart refuses components starting with ".": in the dotted
// layout such a folder would be hidden (and read back under another
// name), in the legacy layout ".x" already means "a child called x".
func checkNoDotStart(layout, name string) error {
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, ".") {
			return fmt.Errorf("folder name %q has a component starting with '.', which the %s layout cannot represent", name, layout)
		}
	}
	return nil
}

func (Dotted) Dir(root, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkNoDotStart("dotted", name); err != nil {
		return "", err
	}
	// "a.b" would be read back as "a/b": refuse it rather than merge two
	// folders into one directory.
	if strings.Contains(name, ".") {
		return "", fmt.Errorf("folder name %q contains '.', which the dotted layout uses as its separator", name)
	}
	return filepath.Join(root, strings.ReplaceAll(name, "/", ".")), nil
}

func (Dotted) List(root string) ([]string, error) {
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		// Symlinks are not followed (DirEntry.IsDir is false for them):
		// they could point outside the tree.
		if !de.IsDir() || strings.HasPrefix(n, ".") || n == "cur" || n == "new" || n == "tmp" {
			continue
		}
		name := strings.ReplaceAll(n, ".", "/")
		// "a..b" or "a." has no folder name that maps back to it.
		if checkName(name) != nil {
			continue
		}
		if isMaildir(filepath.Join(root, n)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (MbsyncLegacy) Dir(root, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkNoDotStart("mbsync-legacy", name); err != nil {
		return "", err
	}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		parts[i] = "." + parts[i]
	}
	return filepath.Join(root, filepath.Join(parts...)), nil
}

func (MbsyncLegacy) List(root string) ([]string, error) {
	var names []string
	// walk lists the children of the folder directory dir, which are its
	// dot-directories, as mbsync's maildir_list_recurse does.
	var walk func(dir, prefix string) error
	walk = func(dir, prefix string) error {
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, de := range des {
			n := de.Name()
			if !de.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." || n[1] == '.' {
				continue
			}
			p := filepath.Join(dir, n)
			name := prefix + "/" + n[1:]
			if isMaildir(p) {
				names = append(names, name)
			}
			if err := walk(p, name); err != nil {
				return err
			}
		}
		return nil
	}
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		n := de.Name()
		if !de.IsDir() || strings.HasPrefix(n, ".") || n == "cur" || n == "new" || n == "tmp" {
			continue
		}
		p := filepath.Join(root, n)
		if isMaildir(p) {
			names = append(names, n)
		}
		if err := walk(p, n); err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	return names, nil
}
