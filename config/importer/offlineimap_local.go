package importer

import (
	"fmt"
	"slices"
	"strings"

	"mailsync/config"
	"mailsync/internal/maildir"
)

// remoteFolders sets folders from the remote repository's filter and
// includes; the local repository may narrow it further.
func (o *oimp) remoteFolders(acct *tomlAccount, st *remoteState) {
	t := o.t
	var fr rules
	switch {
	case st.filter != nil:
		fr = st.filter
	case st.filterSet:
		return // untranslatable, reported; mailsync's default stays
	default:
		fr = rules{"*"}
	}
	if len(st.includes) > 0 {
		inc, err := exactRules(&pyStr{}, st.includes)
		if err != nil {
			t.problem(acct, st.filterLine, fmt.Sprintf("folderincludes: %v", err), "add the folders to folders by hand")
		} else {
			fr, _ = orRules(fr, inc) // inclusions can always be appended
		}
	}
	o.setFolders(acct, fr, st.filterLine, "offlineimap: folderfilter"+map[bool]string{true: " and folderincludes", false: ""}[len(st.includes) > 0]+".")
	if st.gmail && !st.filterSet && len(st.includes) == 0 {
		acct.remote.set("folders", []string{"*"}, `offlineimap synced every Gmail folder; provider = "gmail" alone would leave out [Gmail]/All Mail, Important and Starred, which hold copies of messages in the other folders.`)
	}
}

func (o *oimp) setFolders(acct *tomlAccount, fr rules, line int, note string) {
	t := o.t
	if fr.matchesAll() {
		acct.remote.set("folders", []string{"*"})
		delete(acct.remote.vals, "folders") // the default
		return
	}
	if len(fr) == 0 {
		t.problem(acct, line, "the folder filter selects no folder", "check it; folders is left at its default")
		return
	}
	out := make([]string, 0, len(fr))
	for _, p := range fr {
		dec, ok := t.pattern(p)
		if !ok {
			t.problem(acct, line, fmt.Sprintf("folder name %q is not valid modified UTF-7", strings.TrimPrefix(p, "!")), "write it in UTF-8")
		}
		if ok {
			out = append(out, dec)
		} else {
			out = append(out, p)
		}
	}
	acct.remote.set("folders", out, note)
}

func (o *oimp) local(sec *iniSection, acct *tomlAccount, acctName string, st *remoteState) {
	t := o.t
	l := o.sect(sec, acct)
	lt := acct.local
	typ, tline, _ := l.get("type")
	switch strings.TrimSpace(typ) {
	case "Maildir":
	case "GmailMaildir":
		acct.notes = append(acct.notes, "The local repository is a GmailMaildir: mailsync keeps it as a plain Maildir (labels are not synced).")
	default:
		l.problem(tline, fmt.Sprintf("[%s] type = %q: mailsync's local side is a Maildir", sec.name, typ), "only type = Maildir or GmailMaildir can be the local repository")
	}
	root := ""
	if v, line, ok := l.get("localfolders"); ok {
		if p, notes, ok := t.pathValue(acct, line, "localfolders", strings.TrimSpace(v), true); ok {
			lt.set("path", p, notes...)
			root = p
		}
	} else {
		l.problem(sec.line, fmt.Sprintf("[%s] has no localfolders", sec.name), "set path")
	}
	if root == "" {
		root = "~/Mail/" + acct.name
		lt.set("path", root, "Placeholder: see NOT TRANSLATED above.")
	}
	sep := "."
	if v, _, ok := l.get("sep"); ok {
		sep = strings.TrimSpace(v)
	}
	layout := string(config.LayoutDotted)
	switch sep {
	case ".":
		lt.set("layout", layout, `offlineimap's default sep = ".": folder "A/B" is the directory A.B.`)
	case "/":
		layout = string(config.LayoutFS)
		lt.set("layout", layout, `offlineimap: sep = "/": nested directories.`)
	default:
		layout = string(config.LayoutFS)
		l.problem(l.s.vals["sep"].line, fmt.Sprintf("sep = %q: mailsync's layouts join levels with \"/\" (fs) or \".\" (dotted)", sep),
			"rename the folders to one of those, or keep offlineimap for this account; the TOML says fs")
		lt.set("layout", layout)
	}
	if t.utf7 {
		lt.set("folder_names", string(config.FolderNamesIMAPUTF7), "offlineimap keeps non-ASCII folder names in IMAP's modified UTF-7 (no utf8foldernames).")
	} else {
		lt.set("folder_names", string(config.FolderNamesUTF8), "offlineimap: utf8foldernames (or decodefoldernames).")
	}
	lt.set("previous_tool", "offlineimap")
	lt.set("previous_state", o.metadata+"/Account-"+acctName, "offlineimap's state for this account (its metadata directory); mailsync reads it and never writes it.")
	if b, _, ok := l.boolean("readonly"); ok {
		lt.set("readonly", b)
	}
	if b, _, ok := l.boolean("sync_deletes"); ok {
		lt.set("sync_deletes", b)
	}
	if o.fsync != nil {
		lt.vals["fsync"] = o.fsync
	}
	if b, line, ok := l.boolean("createfolders"); ok && !b {
		l.problem(line, "createfolders = no: mailsync creates locally the folders that appear on the server", "exclude the folders you do not want with folders")
	}
	if _, line, ok := l.get("startdate"); ok {
		l.problem(line, "startdate: mailsync has no start date", `use max_age = "YYYY-MM-DD" for a similar limit`)
	}
	if _, line, ok := l.get("folderincludes"); ok {
		l.problem(line, "folderincludes on the local repository", "add the folders to folders")
	}
	localNT, _, localNTLine, _ := l.py("nametrans")
	var localFilter rules
	localFilterLine := 0
	if n, src, line, ok := l.py("folderfilter"); ok {
		localFilterLine = line
		rs, err := translateFilter(n)
		if err != nil {
			l.problem(line, fmt.Sprintf("local folderfilter %s: %v", quoteForMsg(src), err), o.pyHint("folderfilter"))
		} else {
			localFilter = rs
		}
	}
	l.leftovers(map[string]string{
		"restoreatime":                "mailsync leaves directory access times alone",
		"utime_from_header":           "mailsync does not set file times from the Date header",
		"filename_use_mail_timestamp": "mailsync names new files its own way",
		"foldersort":                  "the order folders are synced in",
		"dynamic_folderfilter":        "folders are matched against the patterns at every sync",
	}, nil)
	if st == nil {
		return
	}
	fm := &folderMapper{o: o, acct: acct, st: st, sep: sep, layout: layout, root: root,
		localNT: localNT, localNTLine: localNTLine}
	fm.build()
	if localFilter != nil {
		fm.applyLocalFilter(localFilter, localFilterLine)
	}
}

// folderMapper builds folder_map from the two nametrans functions.
type folderMapper struct {
	o           *oimp
	acct        *tomlAccount
	st          *remoteState
	sep, layout string
	root        string
	localNT     pyNode
	localNTLine int
	entries     map[string]string // remote → local, both as offlineimap sees them ('/' separated)
}

// toLocalSep and fromLocalSep convert between offlineimap's remote names
// ('/' separated, as on the server) and its local visible names, which use
// the local sep.
func (m *folderMapper) toLocalSep(s string) string   { return strings.ReplaceAll(s, "/", m.sep) }
func (m *folderMapper) fromLocalSep(s string) string { return strings.ReplaceAll(s, m.sep, "/") }

// diskNames lists the folders in the local Maildir now, as local names.
func (m *folderMapper) diskNames() []string {
	names, err := maildir.LayoutNamed(m.layout).List(m.o.t.expandHome(m.root))
	if err != nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = m.toLocalSep(n)
	}
	return out
}

func (m *folderMapper) build() {
	t := m.o.t
	m.entries = map[string]string{}
	st := m.st
	switch {
	case st.nametrans == nil && m.localNT == nil:
		return
	case st.nametrans == nil:
		// Only the local side renames: folder_map is its inverse, which is
		// exact when the local function changes a finite set of names.
		names, finite := nametransSupport(m.localNT)
		if !finite {
			t.problem(m.acct, m.localNTLine, "the local nametrans rewrites names, and the remote repository has none",
				"list the renames in [accounts."+m.acct.name+".remote.folder_map] (\"remote name\" = \"local name\")")
			return
		}
		for _, ln := range names {
			rn, err := applyNametrans(m.localNT, ln)
			if err != nil {
				t.problem(m.acct, m.localNTLine, fmt.Sprintf("local nametrans: %v", err), "add the rename to folder_map by hand")
				continue
			}
			if r, l := m.fromLocalSep(rn), m.fromLocalSep(ln); r != l {
				m.entries[r] = l
			}
		}
		m.emit("offlineimap: the local repository's nametrans (inverted).")
		return
	}
	names, finite := nametransSupport(st.nametrans)
	note := "offlineimap: nametrans."
	if !finite {
		switch {
		case st.filterFinite != nil:
			names = append(append([]string{}, st.filterFinite...), st.includes...)
			note = "offlineimap: nametrans, applied to the folders the folderfilter lists."
		default:
			// An open rewrite rule: the table can hold only the folders
			// known now, from the config and from the Maildir on disk.
			names = append(append(append([]string{}, st.includes...), st.idle...), exactNames(st.filter)...)
			for _, ln := range m.diskNames() {
				if m.localNT != nil {
					if rn, err := applyNametrans(m.localNT, ln); err == nil {
						names = append(names, m.fromLocalSep(rn))
					}
					continue
				}
				// Without the reverse function, try the names that undo
				// the rule's .replace calls, and keep those it provably
				// maps to this folder.
				// INBOX is on every server: it is what maps to itself.
				if m.fromLocalSep(ln) == "INBOX" {
					continue
				}
				for _, c := range undoReplace(st.nametrans, m.fromLocalSep(ln)) {
					if v, err := applyNametrans(st.nametrans, c); err == nil && m.toLocalSep(v) == ln {
						names = append(names, c)
					}
				}
			}
			t.problem(m.acct, st.nametransLine, "nametrans is a rewrite rule, and mailsync's folder_map lists exact names",
				"folder_map holds the folders found in the config and in "+m.root+" now; add folders created later to it by hand")
			note = "offlineimap: nametrans, applied to the folders known at import time (a rewrite rule: folders created later are not renamed)."
		}
	}
	slices.Sort(names)
	for _, rn := range slices.Compact(names) {
		ln, err := applyNametrans(st.nametrans, rn)
		if err != nil {
			t.problem(m.acct, st.nametransLine, fmt.Sprintf("nametrans fails on %q: %v", rn, err), "add its rename to folder_map by hand")
			continue
		}
		if ln == rn {
			continue
		}
		if m.localNT != nil {
			back, err := applyNametrans(m.localNT, m.toLocalSep(ln))
			if err != nil || m.fromLocalSep(back) != rn {
				if !finite && st.filterFinite == nil {
					// A disk folder that the local function does not map
					// back is not one the remote function produced.
					continue
				}
				t.problem(m.acct, m.localNTLine, fmt.Sprintf("the local nametrans does not turn %q back into %q", ln, rn),
					"offlineimap would create a second folder on the server; check the two functions, and folder_map")
			}
		}
		m.entries[rn] = ln
	}
	m.emit(note)
}

// exactNames returns the patterns of r that are plain names.
func exactNames(r rules) []string {
	var out []string
	for _, p := range r {
		if !strings.ContainsAny(p, "*%!") {
			out = append(out, p)
		}
	}
	return out
}

func (m *folderMapper) emit(note string) {
	t := m.o.t
	keys := make([]string, 0, len(m.entries))
	for k := range m.entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	owner := map[string]string{}
	for _, rn := range keys {
		ln := m.entries[rn]
		r, okR := t.folderName(rn)
		l, okL := t.folderName(ln)
		if !okR || !okL {
			t.problem(m.acct, m.st.nametransLine, fmt.Sprintf("folder name %q or %q is not valid modified UTF-7", rn, ln), "add the rename to folder_map by hand, in UTF-8")
			continue
		}
		if prev, dup := owner[l]; dup {
			t.problem(m.acct, m.st.nametransLine, fmt.Sprintf("nametrans maps both %q and %q to %q", prev, r, l),
				"folder_map must be one-to-one; rename one of them")
			continue
		}
		owner[l] = r
		m.acct.folderMap = append(m.acct.folderMap, mapEntry{r, l})
	}
	if len(m.acct.folderMap) > 0 {
		m.acct.folderMapNotes = append(m.acct.folderMapNotes, note)
	}
}

// applyLocalFilter narrows folders by the local repository's folderfilter,
// which offlineimap applies to local names.
func (m *folderMapper) applyLocalFilter(lf rules, line int) {
	t := m.o.t
	inverse := map[string]string{}
	for r, l := range m.entries {
		inverse[l] = r
	}
	conv := rules{}
	for _, p := range lf {
		neg := strings.HasPrefix(p, "!")
		body := m.fromLocalSep(strings.TrimPrefix(p, "!"))
		if !strings.ContainsAny(body, "*%") {
			if r, ok := inverse[body]; ok {
				body = r
			}
		} else {
			pf, _ := config.NewFolderFilter([]string{body})
			for r, l := range m.entries {
				if pf.Match(r) != pf.Match(l) {
					t.problem(m.acct, line, fmt.Sprintf("the local folderfilter pattern %q treats %q and its local name %q differently", body, r, l),
						"write folders by hand, in remote names")
					return
				}
			}
		}
		if neg {
			body = "!" + body
		}
		conv = append(conv, body)
	}
	// The remote patterns in folders are decoded already; only the local
	// ones (after them in combined) still need it.
	cur := rules{"*"}
	if v, ok := m.acct.remote.get("folders"); ok {
		cur = append(rules{}, v.([]string)...)
	} else if m.st.filterSet && m.st.filter == nil {
		return // the remote filter was not translated; reported already
	}
	combined, ok := andRules(cur, conv)
	if !ok {
		t.problem(m.acct, line, "the local and remote folderfilters together cannot be written as folder patterns", "write folders by hand")
		return
	}
	// conv is in the other tool's encoding; decode just those patterns.
	out := make([]string, 0, len(combined))
	for i, p := range combined {
		if i >= len(cur) {
			if d, ok := t.pattern(p); ok {
				p = d
			}
		}
		out = append(out, p)
	}
	if len(out) == 1 && out[0] == "*" {
		return
	}
	note := "offlineimap: folderfilter of the local repository, in remote names."
	if tv, ok := m.acct.remote.vals["folders"]; ok {
		tv.v = out
		tv.notes = append(tv.notes, note)
	} else {
		m.acct.remote.set("folders", out, note)
	}
}
