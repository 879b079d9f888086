package sync

import (
	"fmt"
	"strings"
)

// Folder names exist in three forms:
//   - canonical: the server's name with its hierarchy delimiter replaced by
//     '/', INBOX upper-cased. Patterns, the state and messages use it.
//   - remote: the server's own name (UTF-8; go-imap does the modified UTF-7).
//   - local: the canonical name after folder_map, '/'-separated.

// canonicalName converts a server name. It fails when the name contains '/'
// but the server's delimiter is something else: such a name has no
// unambiguous local form.
func canonicalName(remote string, delim rune) (string, error) {
	name := remote
	if delim != '/' && delim != 0 {
		if strings.ContainsRune(remote, '/') {
			return "", fmt.Errorf("server folder %q contains '/' but the server's hierarchy delimiter is %q; it can't be mapped to a local folder", remote, delim)
		}
		name = strings.ReplaceAll(remote, string(delim), "/")
	}
	if first, rest, _ := strings.Cut(name, "/"); strings.EqualFold(first, "INBOX") {
		if rest == "" && !strings.HasSuffix(name, "/") {
			return "INBOX", nil
		}
		return "INBOX/" + rest, nil
	}
	return name, nil
}

// remoteName converts a canonical name back to the server's form.
func remoteName(canonical string, delim rune) (string, error) {
	if delim == '/' || delim == 0 {
		if delim == 0 && strings.Contains(canonical, "/") {
			return "", fmt.Errorf("folder %q is nested but the server has a flat namespace", canonical)
		}
		return canonical, nil
	}
	for _, c := range strings.Split(canonical, "/") {
		if strings.ContainsRune(c, delim) {
			return "", fmt.Errorf("folder %q contains the server's hierarchy delimiter %q", canonical, delim)
		}
	}
	return strings.ReplaceAll(canonical, "/", string(delim)), nil
}
