// Package importer translates offlineimap's and mbsync's configurations
// into mailsync's TOML, for `mailsync import offlineimap|mbsync`.
//
// A translation is a Result: the TOML, and the Problems found, each with
// the file and line of the other tool's configuration it comes from and a
// suggestion. A Problem is something the TOML cannot say (arbitrary Python,
// an unknown key, a behaviour mailsync does not have): the importer never
// guesses silently. Values that translate but change form (minutes to a
// duration, a SHA-256 pin to "sha256:…") carry a comment in the TOML
// instead. The TOML always loads as it is: a value that cannot be carried
// over is left out, or written commented out, and reported.
package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"mailsync/config"
	"mailsync/internal/mutf7"
)

// Problem is one thing that could not be translated.
type Problem struct {
	File       string
	Line       int // 0 when it concerns the file as a whole
	What       string
	Suggestion string
}

// String renders the problem as FILE:LINE: what: suggestion.
func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Suggestion == "" {
		return loc + ": " + p.What
	}
	return loc + ": " + p.What + ": " + p.Suggestion
}

// Result is a translation.
type Result struct {
	TOML     []byte
	Problems []Problem
}

// InputError is a configuration the other tool itself would refuse to
// read (a syntax error), so there is nothing to translate.
type InputError struct {
	File string
	Line int
	Msg  string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Options are the environment of a translation.
type Options struct {
	// Env is asked for HOME, XDG_CONFIG_HOME and the variables that
	// offlineimap expands in paths; nil means os.Getenv.
	Env func(string) string
}

func (o Options) getenv(k string) string {
	if o.Env == nil {
		return os.Getenv(k)
	}
	return o.Env(k)
}

// DefaultOfflineimapPath is where offlineimap looks for its configuration:
// $XDG_CONFIG_HOME/offlineimap/config when that file exists, else
// ~/.offlineimaprc (offlineimap's init.py, in that order).
func DefaultOfflineimapPath(env func(string) string) string {
	o := Options{Env: env}
	if base := config.XDGBase(o.getenv, "XDG_CONFIG_HOME", ".config"); base != "" {
		p := filepath.Join(base, "offlineimap", "config")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(o.getenv("HOME"), ".offlineimaprc")
}

// DefaultMbsyncPath is where mbsync looks for its configuration:
// ~/.mbsyncrc, which is all mbsync 1.4 reads; when it does not exist,
// $XDG_CONFIG_HOME/isyncrc, which mbsync 1.5 reads too.
func DefaultMbsyncPath(env func(string) string) string {
	o := Options{Env: env}
	rc := filepath.Join(o.getenv("HOME"), ".mbsyncrc")
	if _, err := os.Stat(rc); err == nil {
		return rc
	}
	if base := config.XDGBase(o.getenv, "XDG_CONFIG_HOME", ".config"); base != "" {
		p := filepath.Join(base, "isyncrc")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return rc
}

// translation is the state shared by both importers.
type translation struct {
	file     string
	opts     Options
	doc      *tomlDoc
	problems []Problem
	// utf7 is whether the other tool keeps folder names in modified UTF-7
	// (names in its config are then UTF-7 too, and mailsync's are UTF-8).
	utf7 bool
}

// problem records something untranslatable. If acct is not nil, the TOML
// repeats it under the account's header.
func (t *translation) problem(acct *tomlAccount, line int, what, suggestion string) {
	p := Problem{File: t.file, Line: line, What: what, Suggestion: suggestion}
	// A global option read for several channels or accounts is reported
	// once (and noted in each account).
	if !slices.Contains(t.problems, p) {
		t.problems = append(t.problems, p)
	}
	if acct != nil {
		where := "line " + fmt.Sprint(line)
		if line == 0 {
			where = "this file"
		}
		note := fmt.Sprintf("NOT TRANSLATED (%s): %s: %s", where, what, suggestion)
		if !slices.Contains(acct.notes, note) {
			acct.notes = append(acct.notes, note)
		}
	}
}

// finish renders the document, and checks that mailsync loads it. A
// value mailsync refuses (a host name with a space in it, a folder name it
// cannot store) is written commented out, or replaced by a placeholder
// where the key is required, and reported with mailsync's reason; an
// account refused in a way no value explains (its Maildir inside
// another's) is written commented out whole. So the TOML loads as it is.
// An error that names no account is a bug in the importer, reported
// rather than handed over as if it were fine. With no account left the
// TOML cannot load, and the problems say why.
func (t *translation) finish() *Result {
	var (
		out  []byte
		errs config.Errors
	)
	for round := 0; ; round++ {
		out = t.doc.render()
		errs = nil
		_, err := config.Parse("imported.toml", out, t.opts.getenv)
		switch {
		case err == nil, !slices.ContainsFunc(t.doc.accounts, func(a *tomlAccount) bool { return !a.disabled }):
		case errors.As(err, &errs):
		default:
			errs = config.Errors{{Msg: err.Error()}}
		}
		if len(errs) == 0 || round == maxFinishRounds {
			break
		}
		var bugs config.Errors
		for _, e := range errs {
			if !t.setAside(e) && !t.disableAccount(e) {
				bugs = append(bugs, e)
			}
		}
		if errs = bugs; len(errs) > 0 {
			break
		}
	}
	for _, e := range errs {
		t.problems = append(t.problems, Problem{File: t.file, What: "the translation does not load: " + e.Error(),
			Suggestion: "edit the TOML by hand where it says so, and report this as a bug in mailsync import"})
	}
	sort.SliceStable(t.problems, func(i, j int) bool { return t.problems[i].Line < t.problems[j].Line })
	return &Result{TOML: out, Problems: t.problems}
}

// disableAccount writes the account e names commented out, and reports
// it. It returns false when e names no account still written.
func (t *translation) disableAccount(e *config.Error) bool {
	for _, a := range t.doc.accounts {
		if a.name == e.Account && !a.disabled {
			a.disabled = true
			t.problem(a, 0, fmt.Sprintf("account %s: %s", a.name, t.tildeMsg(e.Msg)),
				"the TOML has the account commented out; correct it and uncomment it")
			return true
		}
	}
	return false
}

// placeholderHost stands in for a server name the importer could not
// carry over: the .invalid TLD (RFC 2606) never resolves, so a sync fails
// at once, naming it.
const placeholderHost = "imap.invalid"

// placeholderUser stands in for a user name the importer could not carry
// over; the server refuses it.
const placeholderUser = "SET-ME"

// maxFinishRounds bounds finish's rounds: each sets aside at least one
// value, and a value refused in one round can reveal another.
const maxFinishRounds = 8

// setAside comments out the value of the translation that e, an error of
// loading it, names, and reports it. It returns false when e names no
// value the translation set (or one already set aside).
func (t *translation) setAside(e *config.Error) bool {
	for _, a := range t.doc.accounts {
		if a.name != e.Account {
			continue
		}
		prefix := "accounts." + config.TOMLKey(a.name) + "."
		rest, ok := strings.CutPrefix(e.Key, prefix)
		if !ok {
			return false
		}
		if name, ok := strings.CutPrefix(rest, "remote.folder_map."); ok {
			for i, m := range a.folderMap {
				if config.TOMLKey(m.remote) == name {
					a.folderMap = slices.Delete(a.folderMap, i, i+1)
					t.problem(a, 0, fmt.Sprintf("folder_map %s = %s: %s", tomlString(m.remote), tomlString(m.local), e.Msg),
						"it is left out of folder_map; add a rename mailsync accepts")
					return true
				}
			}
			return false
		}
		table, key := a.top, rest
		if k, ok := strings.CutPrefix(rest, "remote."); ok {
			table, key = a.remote, k
		} else if k, ok := strings.CutPrefix(rest, "local."); ok {
			table, key = a.local, k
		}
		v, ok := table.vals[key]
		if !ok || v.disabled || v.placeholder {
			return false
		}
		// A refused local.path (a Maildir inside another account's) is
		// the account's to answer for, in disableAccount.
		if table == a.local && key == "path" {
			return false
		}
		what := fmt.Sprintf("%s = %s: %s", key, tomlValue(v.v), t.tildeMsg(e.Msg))
		v.disabled = true
		// Required keys get a placeholder, which keeps the TOML loading.
		placeholder := map[string]string{"host": placeholderHost, "user": placeholderUser}[key]
		if table != a.remote {
			placeholder = ""
		}
		if placeholder == "" {
			t.problem(a, 0, what, "the TOML has it commented out; correct it and uncomment it")
			return true
		}
		t.problem(a, 0, what, "the TOML has a placeholder; set "+key)
		table.set(key, placeholder, "Placeholder: see NOT TRANSLATED above.").placeholder = true
		return true
	}
	return false
}

var envVarRE = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

// pathValue turns a path from the other tool's config into one mailsync
// accepts: absolute or "~/…". ok is false when it cannot (the problem is
// recorded). expandVars is offlineimap's os.path.expandvars; mbsync
// expands only "~".
func (t *translation) pathValue(acct *tomlAccount, line int, key, raw string, expandVars bool) (string, []string, bool) {
	var notes []string
	p := raw
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = "~" + strings.TrimPrefix(p, "~")
	} else if strings.HasPrefix(p, "~") {
		t.problem(acct, line, fmt.Sprintf("%s %q uses ~user", key, raw), "mailsync expands only ~/; write the absolute path")
		return "", nil, false
	}
	if expandVars && strings.Contains(p, "$") {
		var missing []string
		p = envVarRE.ReplaceAllStringFunc(p, func(m string) string {
			name := strings.Trim(m[1:], "{}")
			if v, ok := lookupEnv(t.opts, name); ok {
				return v
			}
			missing = append(missing, name)
			return m
		})
		if len(missing) > 0 {
			t.problem(acct, line, fmt.Sprintf("%s %q uses $%s, which is not set here", key, raw, missing[0]),
				"set it and import again, or write the path out")
			return "", nil, false
		}
		notes = append(notes, fmt.Sprintf("%s was %q; mailsync does not expand variables, so they are expanded here.", key, raw))
	}
	if strings.HasPrefix(p, "~") {
		return p, notes, true
	}
	if !filepath.IsAbs(p) {
		cwd, err := os.Getwd()
		if err != nil {
			t.problem(acct, line, fmt.Sprintf("%s %q is relative", key, raw), "write it as an absolute path")
			return "", nil, false
		}
		abs := filepath.Join(cwd, p)
		t.problem(acct, line, fmt.Sprintf("%s %q is relative to the directory the tool was started in", key, raw),
			fmt.Sprintf("the TOML says %s (the directory of this import); correct it if the tool ran elsewhere", abs))
		p = abs
	}
	return t.homeShort(p), notes, true
}

// tildeMsg writes the paths under $HOME in mailsync's message msg as ~/…,
// as the TOML has them.
func (t *translation) tildeMsg(msg string) string {
	home := t.opts.getenv("HOME")
	if !filepath.IsAbs(home) || home == "/" {
		return msg
	}
	msg = strings.ReplaceAll(msg, home+"/", "~/")
	return strings.ReplaceAll(msg, "("+home+")", "(~)")
}

// homeShort writes a path under $HOME as ~/…, the form the TOML uses, so
// that paths compare whichever way the other tool's config spelt them.
func (t *translation) homeShort(p string) string {
	home := t.opts.getenv("HOME")
	if filepath.IsAbs(home) && home != "/" && strings.HasPrefix(p, home+"/") {
		return "~/" + strings.TrimPrefix(p, home+"/")
	}
	return p
}

func lookupEnv(o Options, name string) (string, bool) {
	if o.Env == nil {
		return os.LookupEnv(name)
	}
	v := o.Env(name)
	return v, v != ""
}

// expandHome resolves "~/" for checks that read the file system now.
func (t *translation) expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(t.opts.getenv("HOME"), strings.TrimPrefix(p, "~"))
	}
	return p
}

// folderName converts a folder name as the other tool's config writes it
// into mailsync's canonical form (UTF-8). ok is false when it is no valid
// modified UTF-7, which the caller reports.
func (t *translation) folderName(s string) (string, bool) {
	if !t.utf7 {
		return s, true
	}
	if !strings.ContainsRune(s, '&') {
		return s, true
	}
	return mutf7.Decode(s)
}

// pattern converts one folder pattern ("!" and wildcards kept).
func (t *translation) pattern(p string) (string, bool) {
	neg := strings.HasPrefix(p, "!")
	body, ok := t.folderName(strings.TrimPrefix(p, "!"))
	if neg {
		body = "!" + body
	}
	return body, ok
}

var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// accountName makes name a valid mailsync account name, unique among
// taken; the note says what changed.
func accountName(name string, taken map[string]bool) (string, string) {
	n := name
	if !accountNameRE.MatchString(n) {
		var b strings.Builder
		for _, r := range n {
			if r < 0x80 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				b.WriteRune(r)
			} else {
				b.WriteByte('-')
			}
		}
		n = strings.TrimLeft(b.String(), "._-")
		if n == "" {
			n = "account"
		}
	}
	base := n
	for i := 2; taken[strings.ToLower(n)]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	taken[strings.ToLower(n)] = true
	if n != name {
		return n, fmt.Sprintf("The account is called %q in the other tool's configuration; mailsync account names are letters, digits, '.', '_' and '-', and unique.", name)
	}
	return n, ""
}
