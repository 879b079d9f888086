package config

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem with a configuration file, located as precisely as
// possible. It renders as
//
//	<file>:<line>: <key>: <msg>
//
// for example
//
//	/home/u/.config/mailsync/config.toml:12: accounts.personal.remote.port: must be between 1 and 65535 (got 70000)
//
// ":<line>" is left out when the line is unknown, "<key>: " when the problem
// is not about one key (a syntax error with no key in sight) and "<file>:"
// when the config did not come from a file, in which case the line is
// written "line N:".
type Error struct {
	File    string
	Line    int    // 1-based; 0 when unknown
	Key     string // full TOML key, e.g. accounts.personal.remote.port
	Account string // account name, "" when the problem is outside any account
	Msg     string // complete human-readable message; Err is not appended
	Err     error  // underlying cause, for errors.Is / errors.As
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File)
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	case e.File != "":
		b.WriteString(e.File)
		b.WriteString(": ")
	case e.Line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	b.WriteString(msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is what Load and Parse return on failure: every problem found,
// sorted by line (problems without a line first), never empty. Reporting
// them all at once saves the user an edit-run cycle per mistake.
// errors.As(err, &e) with e of type *Error yields the first one.
type Errors []*Error

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// keyString renders a key path the way TOML would accept it back, quoting
// the parts that are not bare keys (folder_map keys such as
// "[Gmail]/Sent Mail", or invalid account names), so that the key in a
// message can be searched for in the file.
func keyString(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(TOMLKey(p))
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// TOMLKey is k as a TOML key: bare when it can be, quoted otherwise.
func TOMLKey(k string) string {
	if isBareKey(k) {
		return k
	}
	return QuoteTOML(k)
}

// QuoteTOML quotes s as a TOML basic string, in ASCII-safe form for
// control characters and invalid UTF-8. strconv.Quote is not used because
// its \x and \a escapes are not valid TOML 1.0.
func QuoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteValue shows a user-supplied string in a message. It is capped so a
// pasted blob cannot flood the terminal.
func quoteValue(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xc0 == 0x80 { // don't split a UTF-8 sequence
			cut--
		}
		return QuoteTOML(s[:cut]) + "..."
	}
	return QuoteTOML(s)
}

// suggest returns the candidate closest to key if it is close enough to be
// a plausible typo, else "". Transpositions count as one edit because
// "hots" for "host" is the typical slip.
func suggest(key string, candidates []string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(key), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	if len(key) >= 6 {
		limit = 2
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions) over bytes.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
