package importer

import (
	"fmt"
	"mailsync/config"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The importers build a tomlDoc and emit.go writes it out: keys in the
// order the README lists them (decode.go's key lists), a comment above
// every value that was converted or needs a look, and problems repeated
// beside the account they concern, so that the file reads on its own.

type tomlDoc struct {
	header   []string // comment lines at the top
	general  *tomlTable
	accounts []*tomlAccount
}

type tomlAccount struct {
	name  string
	notes []string // comments under [accounts.NAME]
	top   *tomlTable
	// remote and local are the sub-tables; folderMap is remote.folder_map,
	// written as a table of its own so that each rename has its line.
	remote, local  *tomlTable
	folderMap      []mapEntry
	folderMapNotes []string
	// inbox is where an mbsync MaildirStore keeps INBOX (its Inbox), and
	// the line that says so (0: mbsync's default), for the INBOX check.
	inbox        string
	inboxLine    int
	inboxDefault bool
	// disabled writes the whole account commented out: mailsync refuses
	// it in a way no single value explains (see translation.finish).
	disabled bool
}

type mapEntry struct{ remote, local string }

type tomlTable struct {
	vals map[string]*tomlVal
}

// tomlVal is one key's value: a string, int64, bool or []string.
type tomlVal struct {
	v     any
	notes []string
	// disabled writes the key commented out: a value the user should see
	// but that would not load as it is (a CA file that does not exist).
	disabled bool
	// placeholder marks a value the importer made up (see setAside).
	placeholder bool
}

func newTable() *tomlTable { return &tomlTable{vals: map[string]*tomlVal{}} }

func newAccount(name string) *tomlAccount {
	return &tomlAccount{name: name, top: newTable(), remote: newTable(), local: newTable()}
}

// set stores key = v, with optional notes (comment lines) above it.
func (t *tomlTable) set(key string, v any, notes ...string) *tomlVal {
	tv := &tomlVal{v: v, notes: notes}
	t.vals[key] = tv
	return tv
}

func (t *tomlTable) note(key, note string) {
	if tv, ok := t.vals[key]; ok {
		tv.notes = append(tv.notes, note)
	}
}

func (t *tomlTable) has(key string) bool { _, ok := t.vals[key]; return ok }

func (t *tomlTable) get(key string) (any, bool) {
	tv, ok := t.vals[key]
	if !ok || tv.disabled {
		return nil, false
	}
	return tv.v, true
}

// Key orders: decode.go's generalKeys, accountKeys, remoteKeys and
// localKeys, which follow the README.
var (
	scheduleKeyOrder = []string{"autorefresh", "quick", "idle_folders", "watch_local", "keepalive", "jitter"}
	hookKeyOrder     = []string{"presync_hook", "postsync_hook", "newmail_hook", "hook_timeout"}
	generalKeyOrder  = slices.Concat([]string{"state_dir", "max_sync_accounts", "failure_hook", "mailboxes_file", "mailboxes_format"}, scheduleKeyOrder, hookKeyOrder)
	accountKeyOrder  = slices.Concat([]string{"max_age", "max_size"}, scheduleKeyOrder, hookKeyOrder)
	remoteKeyOrder   = []string{"host", "port", "tls", "allow_plaintext", "user",
		"password", "password_command", "password_file", "max_connections",
		"folders", "readonly", "sync_deletes", "expunge", "timeout", "compress",
		"ca_file", "cert_fingerprint", "tls_server_name", "auth_mechanisms", "provider",
		"oauth2_token_command", "oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_command",
		"oauth2_refresh_token", "oauth2_refresh_token_command", "oauth2_token_url"}
	localKeyOrder = []string{"path", "layout", "folder_names", "previous_tool", "previous_state", "readonly", "sync_deletes", "fsync"}
)

// tomlString writes s as a TOML string: a literal string ('...') when s
// has backslashes or double quotes but nothing a literal string cannot
// hold, which keeps shell commands readable; a basic string otherwise.
func tomlString(s string) string {
	if strings.ContainsAny(s, `"\`) && !strings.ContainsAny(s, "'\n\r\t") && !hasControl(s) {
		return "'" + s + "'"
	}
	return config.QuoteTOML(s)
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return true
		}
	}
	return false
}

func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = tomlString(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("importer: no TOML form for %T", v))
}

// writeComment writes text as comment lines, wrapped near 78 columns.
// Control characters and invalid UTF-8 from the other tool's file, which
// TOML does not allow even in comments, are written as \xNN.
func writeComment(b *strings.Builder, text string) {
	var clean strings.Builder
	for i, r := range text {
		switch {
		case r == utf8.RuneError && strings.HasPrefix(text[i:], "\uFFFD"):
			clean.WriteRune(r)
		case r == utf8.RuneError, r < 0x20 && r != '\t' && r != '\n', r == 0x7f:
			fmt.Fprintf(&clean, "\\x%02x", text[i])
		default:
			clean.WriteRune(r)
		}
	}
	for _, para := range strings.Split(clean.String(), "\n") {
		line := "#"
		for _, w := range strings.Fields(para) {
			if len(line) > 2 && len(line)+1+len(w) > 78 {
				b.WriteString(line + "\n")
				line = "#  "
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
}

func writeTable(b *strings.Builder, t *tomlTable, order []string) {
	for _, k := range order {
		tv, ok := t.vals[k]
		if !ok {
			continue
		}
		for _, n := range tv.notes {
			writeComment(b, n)
		}
		prefix := ""
		if tv.disabled {
			prefix = "# "
		}
		fmt.Fprintf(b, "%s%s = %s\n", prefix, k, tomlValue(tv.v))
	}
}

// render writes the account's tables.
func (a *tomlAccount) render(b *strings.Builder) {
	name := config.TOMLKey(a.name)
	fmt.Fprintf(b, "\n[accounts.%s]\n", name)
	for _, n := range a.notes {
		writeComment(b, n)
	}
	writeTable(b, a.top, accountKeyOrder)
	fmt.Fprintf(b, "\n[accounts.%s.remote]\n", name)
	writeTable(b, a.remote, remoteKeyOrder)
	if len(a.folderMap) > 0 {
		// A table of its own rather than an inline one: TOML keeps
		// inline tables on one line, which a long map makes unreadable.
		fmt.Fprintf(b, "\n[accounts.%s.remote.folder_map]\n", name)
		for _, n := range a.folderMapNotes {
			writeComment(b, n)
		}
		fm := slices.Clone(a.folderMap)
		slices.SortStableFunc(fm, func(x, y mapEntry) int { return strings.Compare(x.remote, y.remote) })
		for _, e := range fm {
			fmt.Fprintf(b, "%s = %s\n", tomlString(e.remote), tomlString(e.local))
		}
	}
	fmt.Fprintf(b, "\n[accounts.%s.local]\n", name)
	writeTable(b, a.local, localKeyOrder)
}

func (d *tomlDoc) render() []byte {
	var b strings.Builder
	for _, h := range d.header {
		writeComment(&b, h)
	}
	if d.general != nil && len(d.general.vals) > 0 {
		b.WriteString("\n[general]\n")
		writeTable(&b, d.general, generalKeyOrder)
	}
	for _, a := range d.accounts {
		if !a.disabled {
			a.render(&b)
			continue
		}
		var ab strings.Builder
		a.render(&ab)
		for _, l := range strings.SplitAfter(ab.String(), "\n") {
			if l == "" || l == "\n" || strings.HasPrefix(l, "#") {
				b.WriteString(l)
			} else {
				b.WriteString("# " + l)
			}
		}
	}
	return []byte(b.String())
}
