package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// accountNameRE keeps names safe as file names and systemd instance names.
var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Known keys per table, in the order the documentation lists them. They
// drive unknown-key detection and "did you mean" suggestions.
var (
	rootKeys = []string{"general", "accounts"}
	// scheduleKeys and hookKeys are set per account or, as the default of
	// every account, in [general].
	scheduleKeys = []string{"autorefresh", "quick", "idle_folders", "watch_local", "keepalive", "jitter"}
	hookKeys     = []string{"presync_hook", "postsync_hook", "newmail_hook", "hook_timeout"}
	generalKeys  = slices.Concat([]string{"state_dir", "max_sync_accounts", "failure_hook", "mailboxes_file", "mailboxes_format"}, scheduleKeys, hookKeys)
	accountKeys  = slices.Concat([]string{"max_age", "max_size"}, scheduleKeys, hookKeys, []string{"remote", "local"})
	remoteKeys   = []string{"host", "port", "tls", "allow_plaintext", "user",
		"password", "password_command", "password_file", "max_connections",
		"folders", "folder_map", "readonly", "sync_deletes", "expunge", "timeout", "compress",
		"ca_file", "cert_fingerprint", "tls_server_name", "auth_mechanisms", "provider",
		"oauth2_token_command", "oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_command",
		"oauth2_refresh_token", "oauth2_refresh_token_command", "oauth2_token_url"}
	localKeys       = []string{"path", "layout", "folder_names", "previous_tool", "previous_state", "readonly", "sync_deletes", "fsync"}
	passwordSources = []string{"password", "password_command", "password_file"}
)

type decoder struct {
	file  string
	src   string
	env   Env
	lines keyLines
	order map[string]int // keyID → position in file order
	errs  Errors
}

func newDecoder(file string, data []byte, env Env) *decoder {
	return &decoder{file: file, src: string(data), env: env, order: map[string]int{}}
}

// errorf records a problem with the key at path. The line is the key's own
// or, for a missing key, that of the nearest enclosing table.
func (d *decoder) errorf(path []string, format string, args ...any) {
	d.add(path, fmt.Sprintf(format, args...), nil)
}

func (d *decoder) add(path []string, msg string, err error) {
	e := &Error{File: d.file, Line: d.lines.line(path), Key: keyString(path), Msg: msg, Err: err}
	if len(path) >= 2 && path[0] == "accounts" {
		e.Account = path[1]
	}
	d.errs = append(d.errs, e)
}

// decodeTOML runs the TOML parser, turning a panic in it into an error:
// whatever the input, Parse must fail politely.
func decodeTOML(src string, v any) (md toml.MetaData, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in the TOML parser: %v", r)
		}
	}()
	return toml.Decode(src, v)
}

func (d *decoder) decode() *Config {
	var root map[string]any
	md, err := decodeTOML(d.src, &root)
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	d.lines = locateKeys(d.src)
	for i, k := range md.Keys() {
		d.order[keyID(k)] = i
	}

	cfg := &Config{Path: d.file, Accounts: map[string]*Account{}}
	rt := d.newTable(nil, root, rootKeys)
	rt.hints = map[string]string{}
	for _, k := range generalKeys {
		rt.hints[k] = k + " belongs in [general]"
	}
	for _, k := range slices.Concat(scheduleKeys, hookKeys) {
		rt.hints[k] = k + " belongs in [general] or [accounts.NAME]"
	}
	cfg.General = d.general(rt)
	d.accounts(rt, cfg)
	rt.checkUnknown()
	d.checkOverlaps(cfg)
	return cfg
}

var redefinedRE = regexp.MustCompile(`^Key '(.*)' has already been defined\.$`)

func (d *decoder) syntaxError(err error) {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		d.errs = append(d.errs, &Error{File: d.file, Msg: err.Error(), Err: err})
		return
	}
	e := &Error{File: d.file, Line: d.syntaxLine(pe.Position), Key: pe.LastKey, Msg: pe.Message, Err: err}
	// The parser's wording is kept, minus two things that read badly once
	// the key is already in the prefix.
	if m := redefinedRE.FindStringSubmatch(e.Msg); m != nil {
		if e.Key == "" {
			e.Key = m[1]
		}
		e.Msg = "defined more than once"
	}
	e.Msg = strings.ReplaceAll(e.Msg, `'\n'`, "end of line")
	if rest, ok := strings.CutPrefix(e.Key, "accounts."); ok {
		name := rest
		if strings.HasPrefix(name, `"`) {
			if end := strings.Index(name[1:], `"`); end >= 0 {
				name = name[1 : end+1]
			}
		} else if i := strings.IndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
		e.Account = name
	}
	d.errs = append(d.errs, e)
}

// syntaxLine corrects the parser's line for errors at a newline, which it
// attributes to the line after the one the user has to fix.
func (d *decoder) syntaxLine(p toml.Position) int {
	if p.Line <= 1 {
		return p.Line
	}
	src := stripBOM(d.src) // offsets are relative to the input without it
	if p.Start < 0 || p.Start > len(src) {
		return p.Line
	}
	if l := 1 + strings.Count(src[:p.Start], "\n"); l == p.Line-1 {
		return l
	}
	return p.Line
}

// table is one TOML table being validated. It remembers which keys the
// schema allows so that everything else can be reported as unknown.
type table struct {
	d     *decoder
	path  []string
	m     map[string]any
	known []string
	hints map[string]string // unknown key → hint, for keys put in the wrong table
}

func (d *decoder) newTable(path []string, m map[string]any, known []string) *table {
	return &table{d: d, path: path, m: m, known: known}
}

func (t *table) key(k string) []string {
	return append(slices.Clip(t.path), k)
}

// sub returns the sub-table k, reporting a non-table value. ok is false
// when k is absent or invalid.
func (t *table) sub(k string, known []string) (*table, bool) {
	v, present := t.m[k]
	if !present {
		return nil, false
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		t.d.errorf(t.key(k), "must be a table, not %s", typeName(v))
		return nil, false
	}
	return t.d.newTable(t.key(k), m, known), true
}

func (t *table) has(k string) bool {
	_, ok := t.m[k]
	return ok
}

func (t *table) str(k string) (string, bool) {
	v, present := t.m[k]
	if !present {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.d.errorf(t.key(k), "must be a string, not %s", typeName(v))
	}
	return s, ok
}

func (t *table) integer(k string) (int64, bool) {
	v, present := t.m[k]
	if !present {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.d.errorf(t.key(k), "must be an integer, not %s", typeName(v))
	}
	return n, ok
}

// boolean returns the value of k or def when it is absent. Defaults that
// are true (sync_deletes, expunge, fsync) are why presence must be known.
func (t *table) boolean(k string, def bool) bool {
	v, present := t.m[k]
	if !present {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		t.d.errorf(t.key(k), "must be true or false, not %s", typeName(v))
		return def
	}
	return b
}

// intRange reads an integer in [lo, hi], or def when absent. hi < lo
// means no upper bound beyond what an int can hold.
func (t *table) intRange(k string, def int, lo, hi int64) int {
	n, ok := t.integer(k)
	if !ok {
		return def
	}
	switch {
	case hi >= lo && (n < lo || n > hi):
		t.d.errorf(t.key(k), "must be between %d and %d (got %d)", lo, hi, n)
		return def
	case n < lo:
		t.d.errorf(t.key(k), "must be at least %d (got %d)", lo, n)
		return def
	case n > math.MaxInt32:
		// Far beyond any sensible value, and it keeps int conversion safe
		// on 32-bit platforms.
		t.d.errorf(t.key(k), "is too large (got %d)", n)
		return def
	}
	return int(n)
}

// sortedKeys returns the table's keys in file order, so that messages come
// out in the order a user reads the file.
func (t *table) sortedKeys() []string {
	keys := make([]string, 0, len(t.m))
	pos := make(map[string]int, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
		p, ok := t.d.order[keyID(t.key(k))]
		if !ok {
			p = math.MaxInt
		}
		pos[k] = p
	}
	slices.SortFunc(keys, func(a, b string) int {
		if pa, pb := pos[a], pos[b]; pa != pb {
			return cmp.Compare(pa, pb)
		}
		return strings.Compare(a, b)
	})
	return keys
}

func (t *table) checkUnknown() {
	for _, k := range t.sortedKeys() {
		if slices.Contains(t.known, k) {
			continue
		}
		msg := "unknown key"
		if h, ok := t.hints[k]; ok {
			msg += "; " + h
		} else if s := suggest(k, t.known); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		t.d.errorf(t.key(k), "%s", msg)
	}
}

func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		// BurntSushi/toml marks TOML's local date and local time values
		// with these zone names.
		switch v.Location().String() {
		case "date-local":
			return "a date"
		case "time-local":
			return "a time"
		}
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// expandPath turns a configured path into an absolute, clean one. Only
// "~/" is expanded: a config file is not a shell script, and silently
// half-supporting $VARS would be worse than refusing them clearly.
func (d *decoder) expandPath(path []string, raw string) (string, bool) {
	p := raw
	switch {
	case raw == "":
		d.errorf(path, "must not be empty")
		return "", false
	case raw == "~" || strings.HasPrefix(raw, "~/"):
		home := d.env.get("HOME")
		if !filepath.IsAbs(home) {
			d.errorf(path, "cannot expand %s: HOME is not set to an absolute path", quoteValue("~"))
			return "", false
		}
		p = filepath.Join(home, strings.TrimPrefix(raw, "~"))
	case strings.HasPrefix(raw, "~"):
		d.errorf(path, `"~user" is not supported; use "~/" or an absolute path (got %s)`, quoteValue(raw))
		return "", false
	case strings.HasPrefix(raw, "$"):
		d.errorf(path, `environment variables are not expanded; use "~/" or an absolute path (got %s)`, quoteValue(raw))
		return "", false
	}
	if strings.ContainsRune(p, 0) {
		d.errorf(path, "must not contain a NUL byte")
		return "", false
	}
	if !filepath.IsAbs(p) {
		d.errorf(path, `must be an absolute path or start with "~/" (got %s)`, quoteValue(raw))
		return "", false
	}
	return filepath.Clean(p), true
}

func (d *decoder) stringList(path []string, v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		d.errorf(path, "must be an array of strings, not %s", typeName(v))
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.errorf(path, "element %d must be a string, not %s", i+1, typeName(e))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// duration reads a duration string in [lo, hi] (hi 0: no upper bound), or
// def when k is absent or wrong.
func (t *table) duration(k string, def, lo, hi time.Duration) time.Duration {
	v, present := t.m[k]
	if !present {
		return def
	}
	s, ok := v.(string)
	if !ok {
		t.d.errorf(t.key(k), `must be a duration string like "5m" or "30s", not %s`, typeName(v))
		return def
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		t.d.errorf(t.key(k), `must be a duration like "5m" or "30s" (got %s)`, quoteValue(s))
	case dur < lo:
		t.d.errorf(t.key(k), "must be at least %s (got %s)", shortDuration(lo), quoteValue(s))
	case hi > 0 && dur > hi:
		t.d.errorf(t.key(k), "must be at most %s (got %s)", shortDuration(hi), quoteValue(s))
	default:
		return dur
	}
	return def
}

// shortDuration writes d as a config file would: "29m", not "29m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
