package importer

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailsync/config"
)

// Offlineimap translates the offlineimap configuration data, read from
// path. An error is returned only when offlineimap itself would refuse
// the file (an *InputError); everything else is a Problem in the Result.
func Offlineimap(path string, data []byte, opts Options) (*Result, error) {
	f, err := parseINI(path, data)
	if err != nil {
		var ie *iniError
		if errors.As(err, &ie) {
			return nil, &InputError{File: ie.file, Line: ie.line, Msg: ie.msg}
		}
		return nil, err
	}
	general, ok := f.byName["general"]
	if !ok {
		return nil, &InputError{File: path, Msg: "no [general] section, so no accounts (offlineimap would stop too)"}
	}
	t := &translation{file: path, opts: opts, doc: &tomlDoc{general: newTable()}}
	o := &oimp{t: t, f: f, taken: map[string]bool{}, usedRepos: map[string]bool{}}
	return o.run(general)
}

type oimp struct {
	t *translation
	f *iniFile

	metadata   string // "~/.offlineimap" or as configured, mailsync's form
	pythonfile string // as written, for messages
	fsync      *tomlVal
	timeout    *tomlVal
	taken      map[string]bool
	usedRepos  map[string]bool
	// ignored collects, per section, keys that have no effect worth
	// translating; they are listed in a comment, not reported.
	ignoredNotes []string
}

// sect reads one section, remembering which keys were looked at so that
// the rest can be reported.
type sect struct {
	o    *oimp
	s    *iniSection
	acct *tomlAccount
	used map[string]bool
}

func (o *oimp) sect(s *iniSection, acct *tomlAccount) *sect {
	return &sect{o: o, s: s, acct: acct, used: map[string]bool{}}
}

func (s *sect) problem(line int, what, suggestion string) {
	s.o.t.problem(s.acct, line, what, suggestion)
}

// get returns the interpolated value of key (from the section or DEFAULT).
func (s *sect) get(key string) (string, int, bool) {
	s.used[key] = true
	v, line, ok, err := s.o.f.get(s.s, key)
	if !ok {
		return "", 0, false
	}
	if err != nil {
		s.problem(line, fmt.Sprintf("[%s] %s: %v", s.s.name, key, err), "offlineimap would stop on this value too; fix it and import again")
		return "", line, false
	}
	return v, line, true
}

// boolean reads key as configparser's getboolean does.
func (s *sect) boolean(key string) (val bool, line int, ok bool) {
	v, line, ok := s.get(key)
	if !ok {
		return false, line, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, line, true
	case "0", "no", "false", "off":
		return false, line, true
	}
	s.problem(line, fmt.Sprintf("%s = %q is not a boolean", key, v), "offlineimap accepts yes/no, true/false, on/off, 1/0; fix it and import again")
	return false, line, false
}

func (s *sect) integer(key string) (int64, int, bool) {
	v, line, ok := s.get(key)
	if !ok {
		return 0, line, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v), "_", ""), 10, 64)
	if err != nil {
		s.problem(line, fmt.Sprintf("%s = %q is not an integer", key, v), "fix it and import again")
		return 0, line, false
	}
	return n, line, true
}

// py parses key's value as a Python expression.
func (s *sect) py(key string) (node pyNode, src string, line int, ok bool) {
	v, line, ok := s.get(key)
	if !ok {
		return nil, "", line, false
	}
	n, err := parsePy(v)
	if err != nil {
		s.problem(line, fmt.Sprintf("%s %s is Python the importer does not translate (%v)", key, quoteForMsg(v), err), s.o.pyHint(key))
		return nil, v, line, false
	}
	return n, v, line, true
}

func (o *oimp) pyHint(key string) string {
	switch key {
	case "folderfilter":
		return `rewrite it as mailsync folder patterns: folders = ["*", "!Trash"] (later patterns win, "!" excludes)`
	case "nametrans":
		return `list the renames in [accounts.NAME.remote.folder_map] ("remote name" = "local name")`
	case "remotepasseval":
		return `set password_command to a shell command that prints the password, e.g. "pass show mail/work"`
	case "idlefolders":
		return `set idle_folders = ["INBOX", …]`
	case "newmail_hook":
		return "set newmail_hook to a shell command"
	}
	return "translate it by hand"
}

// leftovers reports the section's own keys that no handler read: known
// offlineimap keys with no mailsync equivalent (unsupported, with a
// suggestion), harmless ones (ignored, with a reason, in a comment), and
// unknown ones.
func (s *sect) leftovers(ignored map[string]string, unsupported map[string]string) {
	for _, k := range s.s.keys {
		if s.used[k] {
			continue
		}
		v := s.s.vals[k]
		switch {
		case ignored[k] != "":
			s.o.ignoredNotes = append(s.o.ignoredNotes, fmt.Sprintf("[%s] %s (line %d): %s", s.s.name, k, v.line, ignored[k]))
		case unsupported[k] != "":
			what, sugg, _ := strings.Cut(unsupported[k], "|")
			s.problem(v.line, fmt.Sprintf("%s: %s", k, what), sugg)
		case strings.HasPrefix(k, "customflag_"):
			s.problem(v.line, k+": mailsync syncs the standard flags only, not keywords", "remove it; the keyword stays on the server")
		default:
			s.problem(v.line, fmt.Sprintf("unknown key %q in [%s]", k, s.s.name), "offlineimap ignores it too; remove it")
		}
	}
}

func (o *oimp) run(general *iniSection) (*Result, error) {
	t := o.t
	t.doc.header = []string{
		fmt.Sprintf("mailsync configuration imported by `mailsync import offlineimap` from %s.", t.file),
		"Review the comments below, then run `mailsync sync --dry-run` before the first `mailsync sync`. " +
			"offlineimap's state is left as it is: mailsync reads it (previous_state) to adopt each Maildir without downloading it again, " +
			"and keeps offlineimap's file names, so switching back stays possible.",
		`Folder names use "/" between levels, as mailsync's patterns do; offlineimap wrote them with the server's separator, ` +
			`so if your server uses "." (Courier, some Cyrus), write "/" where a name below has a ".".`,
	}
	g := o.sect(general, nil)
	o.metadata = "~/.offlineimap"
	if v, line, ok := g.get("metadata"); ok {
		if p, notes, ok := t.pathValue(nil, line, "metadata", strings.TrimSpace(v), true); ok {
			o.metadata = p
			t.doc.header = append(t.doc.header, notes...)
		}
	}
	if v, _, ok := g.get("pythonfile"); ok {
		o.pythonfile = strings.TrimSpace(v)
	}
	if n, line, ok := g.integer("maxsyncaccounts"); ok {
		if n >= 1 && n <= math.MaxInt32 {
			t.doc.general.set("max_sync_accounts", n)
		} else {
			g.problem(line, fmt.Sprintf("maxsyncaccounts = %d", n), "mailsync needs at least 1; set max_sync_accounts")
		}
	}
	if b, _, ok := g.boolean("fsync"); ok {
		o.fsync = &tomlVal{v: b, notes: []string{"From [general] fsync."}}
	}
	if n, line, ok := g.integer("socktimeout"); ok {
		if n > 0 {
			o.timeout = &tomlVal{v: durString(time.Duration(n) * time.Second),
				notes: []string{fmt.Sprintf("From [general] socktimeout = %d (seconds).", n)}}
		} else {
			g.problem(line, fmt.Sprintf("socktimeout = %d", n), "mailsync's timeout must be positive; leave it out for the default 60s")
		}
	}
	accountsVal, accountsLine, ok := g.get("accounts")
	if !ok {
		return nil, &InputError{File: t.file, Line: general.line, Msg: "[general] has no accounts key, so there is nothing to sync (offlineimap would stop too)"}
	}
	g.leftovers(map[string]string{
		"ui":                          "the user interface: mailsync has its own output",
		"ignore-readonly":             "warnings about read-only folders",
		"dry-run":                     "use `mailsync sync --dry-run`",
		"utime_from_header":           "mailsync does not set file times from the Date header",
		"filename_use_mail_timestamp": "mailsync names new files its own way",
	}, nil)

	listed := map[string]bool{}
	for _, raw := range strings.Split(accountsVal, ",") {
		name := strings.TrimSpace(raw)
		if name == "" || listed[name] {
			continue
		}
		listed[name] = true
		sec, ok := o.f.byName["Account "+name]
		if !ok {
			t.problem(nil, accountsLine, fmt.Sprintf("account %q has no [Account %s] section", name, name),
				"offlineimap would stop too; add the section or remove the name from accounts")
			continue
		}
		o.account(name, sec)
	}
	for _, s := range o.f.sections {
		switch {
		case s.name == "general":
		case s.name == "mbnames":
			o.mbnames(s)
		case strings.HasPrefix(s.name, "Account "):
			if !listed[strings.TrimPrefix(s.name, "Account ")] {
				o.ignoredNotes = append(o.ignoredNotes, fmt.Sprintf("[%s] (line %d): not in [general] accounts, so offlineimap does not sync it; not imported", s.name, s.line))
			}
		case strings.HasPrefix(s.name, "Repository "):
			if !o.usedRepos[strings.TrimPrefix(s.name, "Repository ")] {
				o.ignoredNotes = append(o.ignoredNotes, fmt.Sprintf("[%s] (line %d): used by no imported account; not imported", s.name, s.line))
			}
		default:
			o.ignoredNotes = append(o.ignoredNotes, fmt.Sprintf("[%s] (line %d): a section offlineimap does not read; not imported", s.name, s.line))
		}
	}
	if len(t.doc.accounts) == 0 {
		t.problem(nil, accountsLine, "no account could be imported", "see the problems above; mailsync needs at least one account")
	}
	if len(o.ignoredNotes) > 0 {
		t.doc.header = append(t.doc.header, "Left out on purpose (no effect mailsync needs to reproduce):")
		for _, n := range o.ignoredNotes {
			t.doc.header = append(t.doc.header, "  "+n)
		}
	}
	return t.finish(), nil
}

func (o *oimp) mbnames(s *iniSection) {
	r := o.sect(s, nil)
	t := o.t
	if on, line, ok := r.boolean("enabled"); ok && on {
		fname, fline, ok := r.get("filename")
		if !ok {
			r.problem(line, "[mbnames] enabled without a filename", "offlineimap refuses this too; set mailboxes_file in [general]")
		} else if p, notes, ok := t.pathValue(nil, fline, "filename", strings.TrimSpace(fname), true); ok {
			t.doc.general.set("mailboxes_file", p, append(notes,
				`offlineimap: [mbnames] filename. mailsync rewrites it after a sync that changed the folders, one line per local folder.`)...)
			header, _, _ := r.get("header")
			if !strings.Contains(header, "mailboxes") {
				t.doc.general.set("mailboxes_format", config.MailboxesLines,
					"offlineimap's [mbnames] header is not mutt's `mailboxes`: one folder path per line; check what reads the file.")
			}
		}
	}
	for _, k := range s.keys {
		r.used[k] = true
	}
}

// durString writes d the way mailsync's config reads it: "5m", "1h30m", "45s".
func durString(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Millisecond)
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.s)
			d -= n * u.d
		}
	}
	return b.String()
}

var maxAgeDateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (o *oimp) account(name string, sec *iniSection) {
	t := o.t
	mname, rename := accountName(name, o.taken)
	acct := newAccount(mname)
	if rename != "" {
		acct.notes = append(acct.notes, rename)
	}
	a := o.sect(sec, acct)
	lname, lline, lok := a.get("localrepository")
	rname, rline, rok := a.get("remoterepository")
	lname, rname = strings.TrimSpace(lname), strings.TrimSpace(rname)
	if !lok || !rok {
		t.problem(nil, sec.line, fmt.Sprintf("[Account %s] needs localrepository and remoterepository", name), "offlineimap would stop too; add them")
		return
	}
	lsec, lfound := o.f.byName["Repository "+lname]
	rsec, rfound := o.f.byName["Repository "+rname]
	if !lfound {
		t.problem(nil, lline, fmt.Sprintf("there is no [Repository %s]", lname), "offlineimap would stop too; add it")
	}
	if !rfound {
		t.problem(nil, rline, fmt.Sprintf("there is no [Repository %s]", rname), "offlineimap would stop too; add it")
	}
	if !lfound || !rfound {
		return
	}
	o.usedRepos[lname], o.usedRepos[rname] = true, true
	acct.notes = append(acct.notes, fmt.Sprintf("From [Account %s] (line %d), with [Repository %s] and [Repository %s].", name, sec.line, rname, lname))

	// The account's own keys.
	if v, line, ok := a.get("autorefresh"); ok {
		min, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		switch {
		case err != nil || math.IsNaN(min) || math.IsInf(min, 0):
			a.problem(line, fmt.Sprintf("autorefresh = %q is not a number of minutes", v), "set autorefresh to a duration like \"5m\"")
		case min <= 0:
			acct.notes = append(acct.notes, "autorefresh = 0: offlineimap synced once per run; so does `mailsync sync` (the daemon syncs every autorefresh, 5m by default).")
		default:
			d := time.Duration(min * float64(time.Minute))
			if d < time.Second {
				a.problem(line, fmt.Sprintf("autorefresh = %s minutes is under mailsync's minimum of 1s", v), "autorefresh is set to 1s; choose a longer one")
				d = time.Second
			}
			acct.top.set("autorefresh", durString(d), fmt.Sprintf("offlineimap: autorefresh = %s (minutes).", strings.TrimSpace(v)))
		}
	}
	if n, line, ok := a.integer("quick"); ok {
		if n < -1 || n > math.MaxInt32 {
			a.problem(line, fmt.Sprintf("quick = %d", n), "use -1, 0 or a positive count")
		} else {
			acct.top.set("quick", n)
		}
	}
	for _, h := range [][2]string{{"presynchook", "presync_hook"}, {"postsynchook", "postsync_hook"}} {
		if v, _, ok := a.get(h[0]); ok && strings.TrimSpace(v) != "" {
			acct.top.set(h[1], strings.TrimSpace(v))
		}
	}
	if v, line, ok := a.get("maxage"); ok {
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n < 1 {
				a.problem(line, fmt.Sprintf("maxage = %d", n), "offlineimap refuses it too; use a positive number of days")
			} else {
				acct.top.set("max_age", fmt.Sprintf("%dd", n), fmt.Sprintf("offlineimap: maxage = %d (days).", n))
			}
		} else if maxAgeDateRE.MatchString(v) {
			if _, err := config.ParseMaxAge(v); err != nil {
				a.problem(line, fmt.Sprintf("maxage = %q is not a valid date", v), "fix it and import again")
			} else {
				acct.top.set("max_age", v)
			}
		} else {
			a.problem(line, fmt.Sprintf("maxage = %q is neither a number of days nor a date", v), `set max_age = "90d" or "2024-01-31"`)
		}
	}
	if n, line, ok := a.integer("maxsize"); ok {
		if n < 0 {
			a.problem(line, fmt.Sprintf("maxsize = %d", n), "use a positive size in bytes")
		} else {
			acct.top.set("max_size", n, "offlineimap: maxsize (bytes). Larger messages are skipped, and reported.")
		}
	}
	t.utf7 = true
	if b, _, ok := a.boolean("utf8foldernames"); ok && b {
		t.utf7 = false
	}
	if b, line, ok := a.boolean("synclabels"); ok && b {
		a.problem(line, "synclabels: mailsync does not sync Gmail labels into a header", "remove it; each label is still synced as the folder Gmail shows it as")
	}
	if b, line, ok := a.boolean("maildir-windows-compatible"); ok && b {
		a.problem(line, "maildir-windows-compatible: mailsync writes standard Maildir names (with ':')",
			"mailsync cannot adopt this Maildir as it is; convert the file names, or keep offlineimap for it")
	}
	if v, _, ok := a.get("status_backend"); ok {
		acct.notes = append(acct.notes, fmt.Sprintf("status_backend = %s: offlineimap's state is in %s/Account-%s.", strings.TrimSpace(v), o.metadata, name))
	}
	a.leftovers(map[string]string{
		"labelsheader": "only used with synclabels",
		"ignorelabels": "only used with synclabels",
		"skipsleep":    "offlineimap's sleep between syncs",
	}, map[string]string{
		"filterheaders": "mailsync uploads messages unchanged|remove it",
		"proxy":         "mailsync does not connect through a SOCKS or HTTP proxy|connect directly, or through a tunnel the system provides (e.g. torsocks mailsync …)",
		"authproxy":     "mailsync does not connect through a proxy|remove it",
	})

	st := o.remote(rsec, acct, name)
	o.local(lsec, acct, name, st)
	t.doc.accounts = append(t.doc.accounts, acct)
}

var hexRE = regexp.MustCompile(`^[0-9a-fA-F]+$`)

var oauth2KeyNames = []string{"oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_command",
	"oauth2_refresh_token", "oauth2_refresh_token_command", "oauth2_token_url"}
