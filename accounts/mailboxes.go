package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mailsync/config"
	"mailsync/internal/safeio"
	msync "mailsync/sync"
)

// mailboxesList renders the local folders of every account of cfg, in
// account and folder order, as [general] mailboxes_format says: the list a
// mail client reads (mutt's `mailboxes`), as offlineimap's mbnames writes
// it. An account whose Maildir root does not exist yet has no folders.
func mailboxesList(cfg *config.Config) ([]byte, error) {
	var b bytes.Buffer
	for _, name := range cfg.AccountNames() {
		acct := cfg.Accounts[name]
		layout := msync.LocalLayout(acct)
		folders, err := layout.List(acct.Local.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s's folders: %w", name, err)
		}
		for _, f := range folders {
			dir, err := layout.Dir(acct.Local.Path, f)
			if err != nil {
				continue // a name the layout cannot hold is not synced either
			}
			switch cfg.General.Mailboxes.Format {
			case config.MailboxesLines:
				b.WriteString(dir)
			default:
				b.WriteString("mailboxes " + muttQuote(dir))
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

// muttQuote quotes s for a mutt config line: in double quotes, with
// backslash, double quote, backtick and $ escaped.
func muttQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", "$", `\$`)
	return `"` + r.Replace(s) + `"`
}

// mailboxesConfig is cfg if it names a mailboxes_file, else nil.
func mailboxesConfig(cfg *config.Config) *config.Config {
	if cfg.General.Mailboxes.File == "" {
		return nil
	}
	return cfg
}

// writeMailboxes writes cfg's mailboxes_file, if it has one, when its
// content changed: atomically (safeio), and not at all after a sync that
// added or removed no folder, so that a client watching the file is not
// woken for nothing.
func writeMailboxes(cfg *config.Config) error {
	m := cfg.General.Mailboxes
	if m.File == "" {
		return nil
	}
	list, err := mailboxesList(cfg)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(m.File); err == nil && bytes.Equal(old, list) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(m.File), 0o755); err != nil {
		return fmt.Errorf("writing mailboxes_file: %w", err)
	}
	if err := safeio.WriteFile(m.File, list, 0o644); err != nil {
		return fmt.Errorf("writing mailboxes_file: %w", err)
	}
	return nil
}
