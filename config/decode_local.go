package config

import (
	"slices"
	"strings"
)

func (d *decoder) local(t *table) Local {
	l := Local{Layout: LayoutFS}
	if raw, ok := t.str("path"); ok {
		if p, ok := d.expandPath(t.key("path"), raw); ok {
			l.Path = p
		}
	} else if !t.has("path") {
		d.errorf(t.key("path"), "required key is missing")
	}
	if s, ok := t.str("layout"); ok {
		switch lay := Layout(s); lay {
		case LayoutFS, LayoutMaildirPP, LayoutDotted, LayoutMbsyncLegacy:
			l.Layout = lay
		default:
			d.errorf(t.key("layout"), `must be "fs", "maildir++", "dotted" or "mbsync-legacy" (got %s)`, quoteValue(s))
		}
	}
	l.FolderNames = FolderNamesUTF8
	if s, ok := t.str("folder_names"); ok {
		switch fn := FolderNames(s); fn {
		case FolderNamesUTF8, FolderNamesIMAPUTF7:
			l.FolderNames = fn
		default:
			d.errorf(t.key("folder_names"), `must be "utf8" or "imap-utf7" (got %s)`, quoteValue(s))
		}
	}
	if s, ok := t.str("previous_tool"); ok {
		switch s {
		case PreviousOfflineimap, PreviousMbsync:
			l.PreviousTool = s
		default:
			d.errorf(t.key("previous_tool"), `must be "offlineimap" or "mbsync" (got %s)`, quoteValue(s))
		}
	}
	if raw, ok := t.str("previous_state"); ok {
		if l.PreviousTool == "" && !t.has("previous_tool") {
			d.errorf(t.key("previous_state"), "needs previous_tool, which says whose state it is")
		} else if p, ok := d.expandPath(t.key("previous_state"), raw); ok {
			l.PreviousState = p
		}
	}
	l.Readonly = t.boolean("readonly", false)
	l.SyncDeletes = t.boolean("sync_deletes", true)
	l.Fsync = t.boolean("fsync", true)
	t.checkUnknown()
	return l
}

// checkOverlaps refuses two accounts sharing a Maildir tree: each would see
// the other's messages as local additions and upload them.
func (d *decoder) checkOverlaps(cfg *Config) {
	names := cfg.AccountNames()
	slices.SortStableFunc(names, func(a, b string) int {
		return d.lines.line([]string{"accounts", a}) - d.lines.line([]string{"accounts", b})
	})
	for i, b := range names {
		pb := cfg.Accounts[b].Local.Path
		if pb == "" {
			continue
		}
		for _, a := range names[:i] {
			pa := cfg.Accounts[a].Local.Path
			if pa == "" {
				continue
			}
			if pa == pb || isUnder(pa, pb) || isUnder(pb, pa) {
				d.errorf([]string{"accounts", b, "local", "path"},
					"overlaps accounts.%s.local.path (%s); each account needs a directory of its own", a, pa)
				break
			}
		}
	}
}

func isUnder(dir, p string) bool {
	return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}
