package importer

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"mailsync/config"
)

// maildirLocal sets the local table from a MaildirStore: path, layout.
// It returns the root and the layout, for the INBOX checks.
func (m *mbimp) maildirLocal(acct *tomlAccount, st *mbStore) (root, layout string) {
	t := m.t
	lt := acct.local
	v := st.vals
	// Without Inbox, INBOX is at mbsync's default, which the store's
	// first line stands for in messages.
	inbox, inboxLine := "~/Maildir", st.sec.line
	acct.inboxDefault = true
	if l, ok := v["inbox"]; ok {
		inbox, inboxLine = l.arg(), l.line
		acct.inboxDefault = false
	}
	sub := ""
	subLine := 0
	if l, ok := v["subfolders"]; ok {
		sub, subLine = strings.ToLower(l.arg()), l.line
	}
	flatten := ""
	if l, ok := v["flatten"]; ok {
		flatten = l.arg()
		if flatten != "." {
			m.problem(acct, l.line, fmt.Sprintf("Flatten %q: mailsync's flat layout joins levels with \".\"", flatten),
				"rename the folders to use \".\", or keep mbsync for this account; the TOML says dotted")
		}
	}
	pathLine, hasPath := v["path"]
	switch {
	case sub == "maildir++" && flatten == "":
		layout = string(config.LayoutMaildirPP)
		root = inbox
		lt.set("layout", layout, "mbsync: SubFolders Maildir++ (the Inbox is the root).")
		if hasPath {
			m.problem(acct, pathLine.line, "Path with SubFolders Maildir++", "mbsync refuses this too; remove Path")
		}
	default:
		if !hasPath {
			m.problem(acct, st.sec.line, fmt.Sprintf("MaildirStore %s has no Path", st.sec.name), "set path (mbsync needs one for folders besides INBOX)")
			root = path.Dir(strings.TrimSuffix(inbox, "/"))
		} else {
			root = pathLine.arg()
			if !strings.HasSuffix(root, "/") {
				m.problem(acct, pathLine.line, fmt.Sprintf("Path %q does not end with \"/\": mbsync puts folder NAME at %sNAME", root, root),
					"mailsync keeps the folders in a directory: move them there (or add the \"/\" and let mbsync move them) before the first sync")
			}
			root = strings.TrimSuffix(root, "/")
		}
		switch {
		case flatten != "":
			layout = string(config.LayoutDotted)
			lt.set("layout", layout, `mbsync: Flatten ".": folder "A/B" is the directory A.B.`)
		case sub == "verbatim":
			layout = string(config.LayoutFS)
			lt.set("layout", layout, "mbsync: SubFolders Verbatim.")
		case sub == "legacy":
			layout = string(config.LayoutMbsyncLegacy)
			lt.set("layout", layout, `mbsync: SubFolders Legacy: folder "A/B/C" is the directory A/.B/.C.`)
		case sub == "":
			layout = string(config.LayoutFS)
			lt.set("layout", layout, "mbsync has no SubFolders here, so no folder has sub-folders; mailsync nests any that appear.")
		default:
			m.problem(acct, subLine, fmt.Sprintf("SubFolders %q", sub), "use Verbatim, Maildir++ or Legacy (mbsync refuses this too)")
			layout = string(config.LayoutFS)
			lt.set("layout", layout)
		}
	}
	if p, notes, ok := t.pathValue(acct, pathLine.line, "Path", root, false); ok {
		lt.set("path", p, notes...)
		root = p
	} else {
		root = "~/Mail/" + acct.name
		lt.set("path", root, "Placeholder: see NOT TRANSLATED above.")
	}
	acct.inbox = t.homeShort(inbox)
	acct.inboxLine = inboxLine
	if l, ok := v["altmap"]; ok {
		if on, _ := mbBool(l.arg()); on {
			m.problem(acct, l.line, "AltMap yes: the UIDs are in a Berkeley DB, not in the file names mailsync reads",
				"convert the Maildir with mdconvert first (mbsync keeps working after it)")
		}
	}
	if l, ok := v["infodelimiter"]; ok && l.arg() != ":" {
		m.problem(acct, l.line, fmt.Sprintf("InfoDelimiter %q: mailsync's Maildir names use ':'", l.arg()),
			"mailsync cannot adopt this Maildir as it is; keep mbsync for it")
	}
	if l, ok := v["trash"]; ok {
		m.problem(acct, l.line, "MaildirStore Trash: mailsync has no equivalent", storeHint("trash"))
	}
	if l, ok := v["mapinbox"]; ok {
		m.problem(acct, l.line, "MaildirStore MapInbox: mailsync has no equivalent", storeHint("mapinbox"))
	}
	if l, ok := v["maxsize"]; ok {
		if n, ok := mbSize(l.arg()); !ok {
			m.problem(acct, l.line, fmt.Sprintf("MaxSize %q", l.arg()), "mbsync refuses it too")
		} else if n > 0 {
			acct.top.set("max_size", n, fmt.Sprintf("mbsync: MaxSize %s (K and M are 1024-based) on the Maildir side. mbsync stored a placeholder for a larger message; mailsync skips it, and reports it.", l.arg()))
		}
	}
	for _, k := range []string{"trashnewonly", "trashremotenew"} {
		if l, ok := v[k]; ok {
			acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: only used with Trash.", l.cmd, l.line))
		}
	}
	return root, layout
}

// folders merges the channels' mailbox selections into folders and
// folder_map, and checks where INBOX lives.
func (m *mbimp) folders(acct *tomlAccount, chans []*mbChannel, root, layout string) {
	t := m.t
	var lists []rules
	syncsInbox := false
	for _, ch := range chans {
		if len(ch.patterns) > 0 {
			if ch.imapBox != ch.maildirBox {
				m.problem(acct, ch.patLine, fmt.Sprintf("Channel %s maps the prefix %q on the server to %q in the Maildir", ch.sec.name, ch.imapBox, ch.maildirBox),
					"mailsync renames exact names only: list each renamed folder in folder_map")
			}
			r := rules{}
			for _, p := range ch.patterns {
				neg := strings.HasPrefix(p, "!")
				body := ch.imapBox + strings.TrimPrefix(p, "!")
				if neg {
					body = "!" + body
				}
				r = append(r, body)
			}
			// mbsync: "later matches take precedence", as in mailsync.
			lists = append(lists, r)
			nf, _ := config.NewFolderFilter([]string(rulesWithPrefix(ch.patterns, ch.maildirBox)))
			if nf.Match("INBOX") {
				syncsInbox = true
			}
			continue
		}
		remote, local := ch.imapBox, ch.maildirBox
		if remote == "" {
			remote = "INBOX"
		}
		if local == "" {
			local = "INBOX"
		}
		if strings.ContainsAny(remote, "*%") {
			m.problem(acct, ch.sec.line, fmt.Sprintf("mailbox %q contains * or %%, which mailsync's patterns cannot match literally", remote), "rename it on the server")
			continue
		}
		lists = append(lists, rules{remote})
		if local == "INBOX" {
			syncsInbox = true
		}
		r, okR := t.folderName(remote)
		l, okL := t.folderName(local)
		if !okR || !okL {
			m.problem(acct, ch.sec.line, fmt.Sprintf("mailbox %q or %q is not valid modified UTF-7", remote, local), "write the rename in folder_map by hand")
			continue
		}
		if r != l {
			acct.folderMap = append(acct.folderMap, mapEntry{r, l})
		}
	}
	// The union of the channels' selections: a list with exclusions must
	// come first, and only one may have them.
	slices.SortStableFunc(lists, func(a, b rules) int {
		switch {
		case !a.purePos() && b.purePos():
			return -1
		case a.purePos() && !b.purePos():
			return 1
		}
		return 0
	})
	var all rules
	for i, r := range lists {
		if i > 0 && !r.purePos() {
			m.problem(acct, chans[0].sec.line, "two channels exclude folders with \"!\" patterns; their union cannot be written as one folders list",
				"write folders by hand")
			break
		}
		all = append(all, r...)
	}
	all = dedupe(all)
	if !all.matchesAll() && len(all) > 0 {
		var out []string
		for _, p := range all {
			d, ok := t.pattern(p)
			if !ok {
				m.problem(acct, chans[0].patLine, fmt.Sprintf("pattern %q is not valid modified UTF-7", p), "write it in UTF-8")
				d = p
			}
			out = append(out, d)
		}
		acct.remote.set("folders", out, "mbsync: the Channels' Patterns and mailboxes.")
	}

	// Where INBOX is: mailsync keeps it at ROOT/INBOX (maildir++: ROOT).
	if !syncsInbox || layout == string(config.LayoutMaildirPP) {
		return
	}
	for _, e := range acct.folderMap {
		if e.remote == "INBOX" {
			return // a channel put it somewhere already
		}
	}
	inbox := strings.TrimSuffix(acct.inbox, "/")
	rootSlash := strings.TrimSuffix(root, "/") + "/"
	switch rest, under := strings.CutPrefix(inbox, rootSlash); {
	case under && rest == "INBOX":
	case under && rest != "" && !strings.ContainsAny(rest, "/") && !(layout == string(config.LayoutDotted) && strings.Contains(rest, ".")):
		name, ok := t.folderName(rest)
		if !ok {
			name = rest
		}
		acct.folderMap = append(acct.folderMap, mapEntry{"INBOX", name})
		acct.folderMapNotes = append(acct.folderMapNotes,
			fmt.Sprintf("mbsync: Inbox %s, which is where this layout puts a folder %q. Sub-folders of INBOX (INBOX/x), if the server has any, are not renamed.", acct.inbox, name))
	default:
		line := acct.inboxLine
		what := fmt.Sprintf("Inbox %s is not inside Path %s", acct.inbox, root)
		if acct.inboxDefault {
			what = fmt.Sprintf("INBOX is at mbsync's default Inbox ~/Maildir, not inside Path %s", root)
		}
		m.problem(acct, line, what+"; mailsync keeps INBOX at "+rootSlash+"INBOX",
			fmt.Sprintf("move it there before the first sync (mv %s %sINBOX), or mailsync downloads INBOX again", acct.inbox, rootSlash))
	}
}

// rulesWithPrefix prefixes each pattern (after any "!").
func rulesWithPrefix(pats []string, prefix string) rules {
	out := rules{}
	for _, p := range pats {
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			out = append(out, "!"+prefix+rest)
		} else {
			out = append(out, prefix+p)
		}
	}
	return out
}
