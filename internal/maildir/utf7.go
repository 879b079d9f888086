package maildir

import (
	"fmt"
	"strings"

	"mailsync/internal/mutf7"
)

// UTF7Names is a layout whose directory names keep non-ASCII folder names
// in IMAP's modified UTF-7 ("Entw&APw-rfe" for "Entwürfe"), as offlineimap
// and mbsync 1.4 write them by default, so that mailsync can take over
// their Maildirs as they are. Folder names stay UTF-8 everywhere else.
type UTF7Names struct{ Layout Layout }

// Dir encodes each component of name, then places it as the inner layout does.
func (u UTF7Names) Dir(root, name string) (string, error) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = mutf7.Encode(p)
	}
	return u.Layout.Dir(root, strings.Join(parts, "/"))
}

// List lists the inner layout's folders and decodes their names. A
// directory whose name is not modified UTF-7 (a raw UTF-8 name that a mail
// client made) is an error: it has no name this layout could give back.
func (u UTF7Names) List(root string) ([]string, error) {
	names, err := u.Layout.List(root)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		parts := strings.Split(n, "/")
		for i, p := range parts {
			d, ok := mutf7.Decode(p)
			if !ok {
				return nil, fmt.Errorf("local folder %q is not in modified UTF-7, as folder_names = \"imap-utf7\" requires; "+
					"rename it to %q", n, mutf7.Encode(n))
			}
			parts[i] = d
		}
		out = append(out, strings.Join(parts, "/"))
	}
	return out, nil
}
