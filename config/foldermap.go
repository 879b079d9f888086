package config

import (
	"fmt"
	"strings"
)

// folder_map renames remote folders locally. Because sync runs in both
// directions, the mapping must be invertible, and the identity mapping of
// unlisted folders must not collide with it: with {"A" = "B"}, a remote
// folder "B" would also want local "B". The helpers below give callers
// exactly these answers so no one re-derives them.

// MapToLocal returns the local name of the remote folder with the given
// canonical name: its folder_map entry, or the name itself.
func (r *Remote) MapToLocal(canonical string) string {
	if local, ok := r.FolderMap[canonical]; ok {
		return local
	}
	return canonical
}

// MapToRemote returns the canonical remote name for a local folder name.
// ok is false when local is the identity image of a remote name that is
// mapped elsewhere: with {"A" = "B"}, local "A" has no remote counterpart
// because remote "A" lives at local "B".
func (r *Remote) MapToRemote(local string) (canonical string, ok bool) {
	for remote, l := range r.FolderMap {
		if l == local {
			return remote, true
		}
	}
	if _, mapped := r.FolderMap[local]; mapped {
		return "", false
	}
	return local, true
}

// LocalCollision reports whether the unmapped remote folder canonical would
// land on a local name that folder_map already gives to another remote
// folder; such a folder cannot be synced.
func (r *Remote) LocalCollision(canonical string) bool {
	if _, mapped := r.FolderMap[canonical]; mapped {
		return false
	}
	for _, l := range r.FolderMap {
		if l == canonical {
			return true
		}
	}
	return false
}

// checkMapKey validates a remote (canonical) folder name used as a
// folder_map key.
func checkMapKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("remote folder name is empty")
	case strings.ContainsRune(k, 0):
		return fmt.Errorf("remote folder name contains a NUL byte")
	}
	return nil
}

// checkLocalName validates a folder_map value. Local names become paths
// under the Maildir root, so anything that could escape it, alias another
// folder, or be mistaken for a Maildir's own cur/new/tmp is refused.
func checkLocalName(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("local folder name is empty")
	case strings.ContainsRune(v, 0):
		return fmt.Errorf("local folder name %s contains a NUL byte", quoteValue(v))
	case strings.HasPrefix(v, "/"):
		return fmt.Errorf("local folder name %s must not start with \"/\"", quoteValue(v))
	case strings.HasSuffix(v, "/"):
		return fmt.Errorf("local folder name %s must not end with \"/\"", quoteValue(v))
	case strings.Contains(v, "//"):
		return fmt.Errorf("local folder name %s must not contain \"//\"", quoteValue(v))
	}
	for _, c := range strings.Split(v, "/") {
		switch c {
		case ".", "..":
			return fmt.Errorf("local folder name %s must not contain a %q component", quoteValue(v), c)
		case "cur", "new", "tmp":
			return fmt.Errorf("local folder name %s must not contain a %q component: it is reserved by Maildir", quoteValue(v), c)
		}
	}
	return nil
}
