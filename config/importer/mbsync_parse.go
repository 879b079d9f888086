package importer

import (
	"strings"
)

// This file reads mbsync's configuration as mbsync 1.4 does (config.c):
// lines of a keyword and arguments, arguments split at spaces unless
// double-quoted, backslash escaping the next character, "#" starting a
// comment where an argument would start. A line whose keyword opens a
// section (IMAPAccount, IMAPStore, MaildirStore, Channel, Group) starts
// one, and an empty line ends it; comment lines do not. Keywords are
// case-insensitive.

type mbLine struct {
	line int
	cmd  string   // as written
	args []string // at least one
}

// key is the keyword, lower-cased for comparisons.
func (l mbLine) key() string { return strings.ToLower(l.cmd) }

type mbSection struct {
	kind  string // lower-cased section keyword
	name  string
	line  int
	head  mbLine // the line that opened it
	items []mbLine
}

type mbConfig struct {
	globals  []mbLine
	sections []*mbSection
}

var mbSectionKinds = map[string]bool{"imapaccount": true, "imapstore": true, "maildirstore": true, "channel": true, "group": true}

// mbArgs splits one line into arguments. comment reports a line that is a
// comment (or holds only one); an error is a broken quote or escape,
// which mbsync refuses too.
func mbArgs(s string) (args []string, errMsg string) {
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] == '#' {
			return args, ""
		}
		var b strings.Builder
		escaped, quoted := false, false
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case escaped && c >= 32:
				escaped = false
				b.WriteByte(c)
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = !quoted
			case !quoted && isSpace(c):
				goto done
			default:
				b.WriteByte(c)
			}
		}
	done:
		if escaped {
			return nil, "unterminated escape sequence (mbsync refuses it too)"
		}
		if quoted {
			return nil, "missing closing quote (mbsync refuses it too)"
		}
		args = append(args, b.String())
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseMbsync splits the file into global lines and sections. Only broken
// quoting is an error; everything else is judged by the translation.
func parseMbsync(path string, data []byte) (*mbConfig, error) {
	c := &mbConfig{}
	var cur *mbSection
	text := strings.TrimPrefix(string(data), "\ufeff")
	for i, raw := range strings.Split(text, "\n") {
		lineno := i + 1
		if strings.IndexByte(raw, 0) >= 0 {
			return nil, &InputError{File: path, Line: lineno, Msg: "the line contains a NUL byte"}
		}
		trimmed := strings.TrimLeft(raw, " \t\r\v\f")
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment line does not end a section
		}
		args, msg := mbArgs(raw)
		if msg != "" {
			return nil, &InputError{File: path, Line: lineno, Msg: msg}
		}
		if len(args) == 0 {
			cur = nil
			continue
		}
		l := mbLine{line: lineno, cmd: args[0], args: args[1:]}
		if len(l.args) == 0 {
			// mbsync: "parameter missing"; the line is skipped.
			l.args = nil
		}
		if cur == nil && mbSectionKinds[l.key()] {
			name := ""
			if len(l.args) > 0 {
				name = l.args[0]
			}
			cur = &mbSection{kind: l.key(), name: name, line: lineno, head: l}
			c.sections = append(c.sections, cur)
			continue
		}
		if cur != nil {
			cur.items = append(cur.items, l)
		} else {
			c.globals = append(c.globals, l)
		}
	}
	return c, nil
}
