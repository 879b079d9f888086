// Package safeio writes files so that a reader, or a crash, sees either the
// old content or the new, never a part.
package safeio

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, mode perm: it writes a temporary file
// beside path, syncs it, renames it over path and syncs the directory. The
// directory must exist.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	// CreateTemp makes the file 0600; chmod rather than depend on the umask.
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
