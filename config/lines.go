package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// BurntSushi/toml knows where every key is but does not export it, so
// semantic errors (found after decoding) would otherwise have no line.
// keyLines is a deliberately small scanner over the source text that
// recovers the line on which each key path is first defined. It only has to
// be right for files the TOML parser accepted, but it is total: on any input
// it terminates without panicking, and on garbage it merely knows fewer
// lines.

type keyPos struct {
	line int
	// explicit is false for tables that only exist because a longer path
	// mentioned them ("accounts" in [accounts.x.remote]); a later explicit
	// [accounts] header is the better place to point at.
	explicit bool
}

type keyLines map[string]keyPos

func keyID(path []string) string { return strings.Join(path, "\x00") }

// line returns the line where path was first defined or, failing that, the
// line of its nearest defined ancestor (the enclosing table header, for a
// missing required key); 0 when nothing on the way is known.
func (kl keyLines) line(path []string) int {
	for i := len(path); i > 0; i-- {
		if p, ok := kl[keyID(path[:i])]; ok {
			return p.line
		}
	}
	return 0
}

func (kl keyLines) define(path []string, line int, explicit bool) {
	id := keyID(path)
	if old, ok := kl[id]; ok && (old.explicit || !explicit) {
		return
	}
	kl[id] = keyPos{line: line, explicit: explicit}
}

// defineAll defines path explicitly and its prefixes from base on (those
// not already part of the enclosing table) implicitly.
func (kl keyLines) defineAll(path []string, base, line int) {
	for i := base + 1; i < len(path); i++ {
		kl.define(path[:i], line, false)
	}
	kl.define(path, line, true)
}

// maxValueDepth bounds recursion on pathological nesting; deeper content is
// skipped, which costs at most some line numbers.
const maxValueDepth = 200

type lineScanner struct {
	s    string
	i    int
	line int
	out  keyLines
}

func locateKeys(src string) keyLines {
	sc := &lineScanner{s: stripBOM(src), line: 1, out: keyLines{}}
	sc.run()
	return sc.out
}

// stripBOM drops a byte order mark exactly as BurntSushi/toml does, so that
// offsets and lines agree with its own.
func stripBOM(src string) string {
	switch {
	case strings.HasPrefix(src, "\xff\xfe"), strings.HasPrefix(src, "\xfe\xff"):
		return src[2:]
	case strings.HasPrefix(src, "\xef\xbb\xbf"):
		return src[3:]
	}
	return src
}

func (sc *lineScanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *lineScanner) peek() byte {
	if sc.i >= len(sc.s) {
		return 0
	}
	return sc.s[sc.i]
}

func (sc *lineScanner) hasPrefix(p string) bool { return strings.HasPrefix(sc.s[sc.i:], p) }

func (sc *lineScanner) advance() {
	if sc.i < len(sc.s) {
		if sc.s[sc.i] == '\n' {
			sc.line++
		}
		sc.i++
	}
}

func (sc *lineScanner) skipSpace() {
	for !sc.eof() && (sc.peek() == ' ' || sc.peek() == '\t') {
		sc.i++
	}
}

// skipBlank skips whitespace, newlines and comments: everything that may
// separate elements of arrays and (TOML 1.1) multi-line inline tables.
func (sc *lineScanner) skipBlank() {
	for !sc.eof() {
		switch sc.peek() {
		case ' ', '\t', '\r', '\n':
			sc.advance()
		case '#':
			sc.skipComment()
		default:
			return
		}
	}
}

func (sc *lineScanner) skipComment() {
	for !sc.eof() && sc.peek() != '\n' {
		sc.i++
	}
}

// skipLine moves past the next newline. It always makes progress unless at
// EOF, which is what guarantees termination of run.
func (sc *lineScanner) skipLine() {
	for !sc.eof() {
		c := sc.peek()
		sc.advance()
		if c == '\n' {
			return
		}
	}
}

func (sc *lineScanner) run() {
	var table []string
	for {
		sc.skipBlank()
		if sc.eof() {
			return
		}
		line := sc.line
		if sc.peek() == '[' {
			sc.advance()
			closing := "]"
			if sc.peek() == '[' {
				sc.advance()
				closing = "]]"
			}
			sc.skipSpace()
			path, ok := sc.key()
			sc.skipSpace()
			if ok && sc.hasPrefix(closing) {
				sc.out.defineAll(path, 0, line)
				table = path
			}
			// Only a comment may follow a header; a malformed header is
			// abandoned with its line.
			sc.skipLine()
			continue
		}
		path, ok := sc.key()
		sc.skipSpace()
		if !ok || sc.peek() != '=' {
			sc.skipLine()
			continue
		}
		sc.advance()
		sc.skipSpace()
		full := concat(table, path)
		sc.out.defineAll(full, len(table), line)
		sc.value(full, true, 0)
		sc.skipLine()
	}
}

func concat(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// key reads a possibly dotted key: bare, "basic" or 'literal' parts
// separated by dots with optional blanks around them.
func (sc *lineScanner) key() ([]string, bool) {
	var parts []string
	for {
		sc.skipSpace()
		p, ok := sc.keyPart()
		if !ok {
			return nil, false
		}
		parts = append(parts, p)
		sc.skipSpace()
		if sc.peek() != '.' {
			return parts, true
		}
		sc.advance()
	}
}

func (sc *lineScanner) keyPart() (string, bool) {
	switch sc.peek() {
	case '"':
		if sc.hasPrefix(`"""`) {
			return "", false
		}
		sc.advance()
		return sc.basicString()
	case '\'':
		if sc.hasPrefix(`'''`) {
			return "", false
		}
		sc.advance()
		return sc.literalString()
	}
	start := sc.i
	for !sc.eof() && isBareKeyByte(sc.peek()) {
		sc.i++
	}
	if sc.i == start {
		return "", false
	}
	return sc.s[start:sc.i], true
}

// basicString reads the rest of a single-line "..." string (the opening
// quote already consumed) and returns its decoded value, so that quoted
// keys compare equal to what the TOML decoder produced.
func (sc *lineScanner) basicString() (string, bool) {
	var b strings.Builder
	for !sc.eof() {
		c := sc.peek()
		switch c {
		case '"':
			sc.advance()
			return b.String(), true
		case '\n':
			return "", false
		case '\\':
			sc.advance()
			if !sc.escape(&b) {
				return "", false
			}
		default:
			b.WriteByte(c)
			sc.advance()
		}
	}
	return "", false
}

// escape decodes one escape sequence after the backslash.
func (sc *lineScanner) escape(b *strings.Builder) bool {
	c := sc.peek()
	sc.advance()
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case '"', '\\':
		b.WriteByte(c)
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if sc.i+n > len(sc.s) {
			return false
		}
		v, err := strconv.ParseUint(sc.s[sc.i:sc.i+n], 16, 32)
		if err != nil {
			return false
		}
		sc.i += n
		if !utf8.ValidRune(rune(v)) {
			return false
		}
		b.WriteRune(rune(v))
	default:
		return false
	}
	return true
}

func (sc *lineScanner) literalString() (string, bool) {
	start := sc.i
	for !sc.eof() {
		switch sc.peek() {
		case '\'':
			s := sc.s[start:sc.i]
			sc.advance()
			return s, true
		case '\n':
			return "", false
		}
		sc.i++
	}
	return "", false
}

// multiline skips a multi-line string (basic or literal) whose opening
// delimiter is at the current position, counting the newlines inside it.
func (sc *lineScanner) multiline(delim string) bool {
	sc.i += len(delim)
	q := delim[0]
	for !sc.eof() {
		c := sc.peek()
		if c == '\\' && q == '"' {
			sc.advance()
			sc.advance()
			continue
		}
		if sc.hasPrefix(delim) {
			sc.i += len(delim)
			// Up to two quotes may directly precede the closing delimiter
			// ("""a"""" is `a"`); the delimiter is the last three.
			for k := 0; k < 2 && sc.peek() == q; k++ {
				sc.i++
			}
			return true
		}
		sc.advance()
	}
	return false
}

// value skips one value, recording the keys of inline tables under path
// when record is set (inside arrays elements have no key path).
func (sc *lineScanner) value(path []string, record bool, depth int) bool {
	if depth > maxValueDepth {
		return false
	}
	switch c := sc.peek(); {
	case sc.hasPrefix(`"""`):
		return sc.multiline(`"""`)
	case sc.hasPrefix(`'''`):
		return sc.multiline(`'''`)
	case c == '"':
		sc.advance()
		_, ok := sc.basicString()
		return ok
	case c == '\'':
		sc.advance()
		_, ok := sc.literalString()
		return ok
	case c == '[':
		sc.advance()
		for {
			sc.skipBlank()
			if sc.eof() {
				return false
			}
			if sc.peek() == ']' {
				sc.advance()
				return true
			}
			if !sc.value(nil, false, depth+1) {
				return false
			}
			sc.skipBlank()
			switch sc.peek() {
			case ',':
				sc.advance()
			case ']':
			default:
				return false
			}
		}
	case c == '{':
		sc.advance()
		for {
			sc.skipBlank()
			if sc.eof() {
				return false
			}
			if sc.peek() == '}' {
				sc.advance()
				return true
			}
			line := sc.line
			k, ok := sc.key()
			sc.skipSpace()
			if !ok || sc.peek() != '=' {
				return false
			}
			sc.advance()
			sc.skipSpace()
			full := concat(path, k)
			if record {
				sc.out.defineAll(full, len(path), line)
			}
			if !sc.value(full, record, depth+1) {
				return false
			}
			sc.skipBlank()
			switch sc.peek() {
			case ',':
				sc.advance()
			case '}':
			default:
				return false
			}
		}
	default:
		return sc.scalar()
	}
}

// scalar skips a bare value: number, boolean, date or time.
func (sc *lineScanner) scalar() bool {
	start := sc.i
	sc.bare()
	if sc.i == start {
		return false
	}
	// A date may be separated from its time by a space:
	// 1979-05-27 07:32:00.
	if isDate(sc.s[start:sc.i]) && sc.peek() == ' ' && sc.i+1 < len(sc.s) && isDigit(sc.s[sc.i+1]) {
		sc.i++
		sc.bare()
	}
	return true
}

func (sc *lineScanner) bare() {
	for !sc.eof() {
		switch sc.peek() {
		case ' ', '\t', '\r', '\n', ',', ']', '}', '#', '[', '{', '"', '\'', '=':
			return
		}
		sc.i++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
