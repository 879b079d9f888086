package importer

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"mailsync/config"
)

// Mbsync translates the mbsync configuration data, read from path. An
// error is returned only when mbsync itself could not read the file (an
// *InputError); everything else is a Problem in the Result.
//
// mailsync's account is one IMAP store synced with one Maildir store:
// every Channel between the same two stores becomes part of the same
// account, its Patterns and mailbox pairs merged into folders and
// folder_map.
func Mbsync(path string, data []byte, opts Options) (*Result, error) {
	c, err := parseMbsync(path, data)
	if err != nil {
		return nil, err
	}
	t := &translation{file: path, opts: opts, doc: &tomlDoc{general: newTable()}, utf7: true}
	m := &mbimp{t: t, c: c, accounts: map[string]*mbSection{}, stores: map[string]*mbStore{}}
	m.run()
	return t.finish(), nil
}

type mbimp struct {
	t        *translation
	c        *mbConfig
	accounts map[string]*mbSection // IMAPAccount sections by name
	stores   map[string]*mbStore
	global   mbGlobal
	notes    []string
}

// mbStore is an IMAPStore or a MaildirStore, with an IMAPStore's account
// options (from its IMAPAccount, or given inline) merged in.
type mbStore struct {
	sec   *mbSection
	imap  bool
	vals  map[string]mbLine // last line of each keyword
	acct  map[string]mbLine // IMAP account options
	aname string            // the IMAPAccount's name, or the store's
}

// mbGlobal holds the options given outside any section.
type mbGlobal struct {
	channelOpts []mbLine // Sync, Create, Remove, Expunge, SyncState, MaxMessages, ...
	fsync       *mbLine
}

// Keywords by section, as mbsync 1.4 knows them (drv_imap.c, drv_maildir.c,
// driver.c and config.c).
var (
	mbAccountKeys = []string{"host", "port", "timeout", "user", "usercmd", "pass", "passcmd", "usekeychain", "tunnel",
		"authmech", "authmechs", "ssltype", "tlstype", "sslversion", "sslversions", "tlsversions", "systemcertificates",
		"certificatefile", "clientcertificate", "clientkey", "cipherstring", "pipelinedepth", "disableextension",
		"disableextensions", "requiressl", "useimaps", "usesslv2", "usesslv3", "usetlsv1", "usetlsv1.1", "usetlsv1.2",
		"requirecram"}
	mbGenericStoreKeys = []string{"path", "trash", "trashremotenew", "trashnewonly", "maxsize", "mapinbox", "flatten"}
	mbIMAPStoreKeys    = slices.Concat([]string{"account", "usenamespace", "pathdelimiter", "subscribedonly"}, mbGenericStoreKeys, mbAccountKeys)
	mbMaildirKeys      = slices.Concat([]string{"inbox", "altmap", "infodelimiter", "subfolders"}, mbGenericStoreKeys)
	mbChannelOptKeys   = []string{"sync", "syncstate", "copyarrivaldate", "maxmessages", "expireunread", "expunge", "create", "remove"}
	mbChannelKeys      = slices.Concat([]string{"far", "near", "master", "slave", "pattern", "patterns", "maxsize"}, mbChannelOptKeys)
	mbGlobalKeys       = slices.Concat([]string{"fsync", "fielddelimiter", "bufferlimit"}, mbChannelOptKeys)
)

func (m *mbimp) problem(acct *tomlAccount, line int, what, suggestion string) {
	m.t.problem(acct, line, what, suggestion)
}

// unknown reports the lines of s whose keyword is not in known.
func (m *mbimp) unknown(lines []mbLine, known []string, where string) {
	for _, l := range lines {
		if slices.Contains(known, l.key()) {
			continue
		}
		sugg := "mbsync would refuse it too; remove it"
		if mbSectionKinds[l.key()] {
			sugg = "a new section needs an empty line before it (mbsync refuses this too)"
		}
		m.problem(nil, l.line, fmt.Sprintf("unknown keyword %q in %s", l.cmd, where), sugg)
	}
}

// lastOf indexes lines by keyword, the last one winning as in mbsync.
func lastOf(lines []mbLine) map[string]mbLine {
	out := map[string]mbLine{}
	for _, l := range lines {
		out[l.key()] = l
	}
	return out
}

func (l mbLine) arg() string {
	if len(l.args) == 0 {
		return ""
	}
	return l.args[0]
}

// mbBool is mbsync's parse_bool.
func mbBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		return true, true
	case "no", "false", "off", "0":
		return false, true
	}
	return false, false
}

// mbSize is mbsync's parse_size: a number with k or m (KiB, MiB), and an
// optional b.
func mbSize(s string) (int64, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return 0, false
	}
	rest := strings.ToLower(s[i:])
	switch {
	case strings.HasPrefix(rest, "k"):
		n *= 1 << 10
		rest = rest[1:]
	case strings.HasPrefix(rest, "m"):
		n *= 1 << 20
		rest = rest[1:]
	}
	if rest == "b" {
		rest = ""
	}
	return n, rest == ""
}

func (m *mbimp) run() {
	t := m.t
	t.doc.header = []string{
		fmt.Sprintf("mailsync configuration imported by `mailsync import mbsync` from %s.", t.file),
		"Review the comments below, then run `mailsync sync --dry-run` before the first `mailsync sync`. " +
			"mbsync's state is left as it is: mailsync reads it (previous_state) to adopt each Maildir without downloading it again, " +
			"and keeps the U= in file names, so switching back stays possible.",
		"Each account is one IMAPStore synced with one MaildirStore: the Channels between them are merged into folders and folder_map.",
	}
	for _, l := range m.c.globals {
		switch k := l.key(); {
		case k == "fsync":
			l := l
			m.global.fsync = &l
		case k == "fielddelimiter":
			if l.arg() != ":" {
				m.notes = append(m.notes, fmt.Sprintf("FieldDelimiter %s (line %d): part of the state files' names under SyncState.", l.arg(), l.line))
			}
		case k == "bufferlimit":
			m.notes = append(m.notes, fmt.Sprintf("BufferLimit (line %d): mailsync bounds its memory by itself.", l.line))
		case slices.Contains(mbChannelOptKeys, k):
			m.global.channelOpts = append(m.global.channelOpts, l)
		}
	}
	m.unknown(m.c.globals, mbGlobalKeys, "the global section")

	// Stores and accounts first: channels refer to them.
	for _, s := range m.c.sections {
		switch s.kind {
		case "imapaccount":
			m.unknown(s.items, mbAccountKeys, "IMAPAccount "+s.name)
			m.accounts[s.name] = s
		case "imapstore", "maildirstore":
			st := &mbStore{sec: s, imap: s.kind == "imapstore", vals: lastOf(s.items), aname: s.name}
			if st.imap {
				m.unknown(s.items, mbIMAPStoreKeys, "IMAPStore "+s.name)
				st.acct = map[string]mbLine{}
				if a, ok := st.vals["account"]; ok {
					as, found := m.accounts[a.arg()]
					if !found {
						m.problem(nil, a.line, fmt.Sprintf("IMAPStore %s uses IMAPAccount %q, which is not defined before it", s.name, a.arg()),
							"mbsync refuses this too; define the account first")
					} else {
						st.aname = as.name
						for k, v := range lastOf(as.items) {
							st.acct[k] = v
						}
					}
				}
				for _, l := range s.items {
					if slices.Contains(mbAccountKeys, l.key()) {
						st.acct[l.key()] = l
					}
				}
			} else {
				m.unknown(s.items, mbMaildirKeys, "MaildirStore "+s.name)
			}
			if _, dup := m.stores[s.name]; dup {
				m.problem(nil, s.line, fmt.Sprintf("store %q is defined twice", s.name), "rename one; channels use the first")
				continue
			}
			m.stores[s.name] = st
		}
	}

	type pair struct{ imap, maildir string }
	var order []pair
	byPair := map[pair][]*mbChannel{}
	for _, s := range m.c.sections {
		switch s.kind {
		case "channel":
			ch := m.channel(s)
			if ch == nil {
				continue
			}
			p := pair{ch.imapStore.sec.name, ch.maildirStore.sec.name}
			if _, ok := byPair[p]; !ok {
				order = append(order, p)
			}
			byPair[p] = append(byPair[p], ch)
		case "group":
			m.unknown(s.items, []string{"channel", "channels"}, "Group "+s.name)
			m.notes = append(m.notes, fmt.Sprintf("Group %s (line %d): mailsync syncs every account, or those named with -a.", s.name, s.line))
		}
	}
	used := map[string]bool{}
	for _, p := range order {
		used[p.imap], used[p.maildir] = true, true
	}
	for _, s := range m.c.sections {
		if (s.kind == "imapstore" || s.kind == "maildirstore") && !used[s.name] {
			m.notes = append(m.notes, fmt.Sprintf("%s %s (line %d): used by no Channel; not imported.", map[bool]string{true: "IMAPStore", false: "MaildirStore"}[s.kind == "imapstore"], s.name, s.line))
		}
	}

	// Name the accounts: the IMAPAccount's name, unless two accounts
	// share it.
	count := map[string]int{}
	for _, p := range order {
		count[m.stores[p.imap].aname]++
	}
	taken := map[string]bool{}
	for _, p := range order {
		name := m.stores[p.imap].aname
		if count[name] > 1 {
			name = name + "-" + p.maildir
		}
		m.account(name, taken, byPair[p])
	}
	if len(order) == 0 {
		m.problem(nil, 0, "no Channel connects an IMAPStore with a MaildirStore", "mailsync needs at least one such account")
	}
	if len(m.notes) > 0 {
		t.doc.header = append(t.doc.header, "Left out on purpose (no effect mailsync needs to reproduce):")
		for _, n := range m.notes {
			t.doc.header = append(t.doc.header, "  "+n)
		}
	}
}

// Sync operation bits (config.c).
const (
	opNew = 1 << iota
	opReNew
	opDelete
	opFlags
	dirPull
	dirPush
	opTypes = opNew | opReNew | opDelete | opFlags
)

// account builds one mailsync account from the channels between one IMAP
// store and one Maildir store.
func (m *mbimp) account(name string, taken map[string]bool, chans []*mbChannel) {
	t := m.t
	mname, rename := accountName(name, taken)
	acct := newAccount(mname)
	if rename != "" {
		acct.notes = append(acct.notes, rename)
	}
	is, ms := chans[0].imapStore, chans[0].maildirStore
	var cnames []string
	for _, ch := range chans {
		cnames = append(cnames, fmt.Sprintf("%s (line %d)", ch.sec.name, ch.sec.line))
	}
	acct.notes = append(acct.notes, fmt.Sprintf("From IMAPStore %s and MaildirStore %s, synced by Channel %s.", is.sec.name, ms.sec.name, strings.Join(cnames, ", ")))

	m.imapRemote(acct, is)
	root, layout := m.maildirLocal(acct, ms)

	// The channels' policies must agree: mailsync has one per account.
	var pol policy
	for i, ch := range chans {
		p := m.policy(acct, ch)
		if i == 0 {
			pol = p
			continue
		}
		if p != pol {
			m.problem(acct, ch.sec.line, fmt.Sprintf("Channel %s syncs differently from Channel %s (Sync, Expunge, SyncState or MaxMessages)", ch.sec.name, chans[0].sec.name),
				fmt.Sprintf("mailsync has one setting per account; the TOML follows %s", chans[0].sec.name))
		}
	}
	rt, lt := acct.remote, acct.local
	if pol.remoteReadonly {
		rt.set("readonly", true, "mbsync: Sync does not push to the server.")
	} else {
		if !pol.localSyncDeletes {
			lt.set("sync_deletes", false, "mbsync: Sync does not push deletions.")
		}
		if !pol.expunge {
			rt.set("expunge", false, "mbsync: Expunge leaves out the server; messages deleted there are only flagged \\Deleted.")
		}
	}
	if pol.localReadonly {
		lt.set("readonly", true, "mbsync: Sync does not pull from the server.")
	} else if !pol.remoteSyncDeletes {
		rt.set("sync_deletes", false, "mbsync: Sync does not pull deletions.")
	}

	m.folders(acct, chans, root, layout)

	lt.set("folder_names", string(config.FolderNamesIMAPUTF7), "mbsync 1.4 keeps non-ASCII folder names in IMAP's modified UTF-7.")
	lt.set("previous_tool", "mbsync")
	switch {
	case pol.syncState == "":
		acct.notes = append(acct.notes, "SyncState *: mbsync keeps its state in each folder (.mbsyncstate), where mailsync reads it.")
	case strings.HasSuffix(pol.syncState, "/"):
		if p, notes, ok := t.pathValue(acct, pol.syncStateLine, "SyncState", pol.syncState, false); ok {
			note := "mbsync's SyncState directory; mailsync reads the state there and never writes it."
			if pol.syncStateLine == 0 {
				note = "mbsync's default SyncState directory; mailsync reads the state there and never writes it."
			}
			lt.set("previous_state", strings.TrimSuffix(p, "/"), append(notes, note)...)
		}
	default:
		dir := path.Dir(pol.syncState)
		m.problem(acct, pol.syncStateLine, fmt.Sprintf("SyncState %s is a prefix of file names, not a directory", pol.syncState),
			fmt.Sprintf("previous_state is set to %s; check that mailsync finds the state there", dir))
		if p, notes, ok := t.pathValue(acct, pol.syncStateLine, "SyncState", dir, false); ok {
			lt.set("previous_state", p, notes...)
		}
	}
	if f := m.global.fsync; f != nil {
		if b, ok := mbBool(f.arg()); ok {
			lt.set("fsync", b, "mbsync: FSync.")
		} else {
			m.problem(acct, f.line, fmt.Sprintf("FSync %q is not a boolean", f.arg()), "mbsync refuses it too")
		}
	}
	t.doc.accounts = append(t.doc.accounts, acct)
}
