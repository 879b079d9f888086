package importer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokens.
type pyTokKind int

const (
	tEOF pyTokKind = iota
	tName
	tStr
	tNum
	tOp
)

type pyTok struct {
	kind pyTokKind
	s    string // name, decoded string, number text or operator
	at   int    // byte offset in the source
}

// pySyntaxError is a form the importer does not understand (or that is not
// Python at all).
type pySyntaxError struct {
	at  int
	msg string
}

func (e *pySyntaxError) Error() string { return e.msg }

// maxPyDepth bounds nesting, so that hostile input cannot exhaust the
// stack of the recursive-descent parser.
const maxPyDepth = 64

// maxPySource bounds the expression length; real ones are a few lines.
const maxPySource = 64 << 10

func pyLex(src string) ([]pyTok, error) {
	if len(src) > maxPySource {
		return nil, &pySyntaxError{0, "expression is too long"}
	}
	var toks []pyTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			// configparser has already joined continuation lines; the
			// newlines that remain are inside brackets or after a
			// backslash in any file offlineimap accepted.
			i++
		case c == '\\' && i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r'):
			i += 2
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case isStrStart(src[i:]):
			s, n, err := pyLexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, pyTok{tStr, s, i})
			i += n
		case c < utf8.RuneSelf && (c == '_' || unicode.IsLetter(rune(c))):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] < utf8.RuneSelf && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])))) {
				j++
			}
			toks = append(toks, pyTok{tName, src[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == '_' ||
				src[j] == 'e' || src[j] == 'E' || src[j] == 'x' || src[j] == 'X' ||
				src[j] >= 'a' && src[j] <= 'f' || src[j] >= 'A' && src[j] <= 'F') {
				j++
			}
			toks = append(toks, pyTok{tNum, src[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"**", "//", "==", "!=", "<=", ">=", "->", ":="} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("()[]{},:.+-*/%<>=|&^~@", rune(c)) {
					r, _ := utf8.DecodeRuneInString(src[i:])
					return nil, &pySyntaxError{i, fmt.Sprintf("unexpected character %q", r)}
				}
				op = src[i : i+1]
			}
			toks = append(toks, pyTok{tOp, op, i})
			i += len(op)
		}
	}
	return append(toks, pyTok{tEOF, "", len(src)}), nil
}

// isStrStart reports whether s starts a string literal, with an optional
// prefix (r, b, u, f, and their combinations).
func isStrStart(s string) bool {
	for i := 0; i < len(s) && i < 3; i++ {
		switch s[i] {
		case '\'', '"':
			return true
		case 'r', 'R', 'b', 'B', 'u', 'U', 'f', 'F':
			continue
		}
		return false
	}
	return false
}

func pyLexString(src string, start int) (string, int, error) {
	i := start
	raw, fstr := false, false
	for src[i] != '\'' && src[i] != '"' {
		switch src[i] {
		case 'r', 'R':
			raw = true
		case 'f', 'F':
			fstr = true
		}
		i++
	}
	if fstr {
		return "", 0, &pySyntaxError{start, "f-strings are not translated"}
	}
	q := src[i : i+1]
	if strings.HasPrefix(src[i:], q+q+q) {
		q = q + q + q
	}
	i += len(q)
	var b strings.Builder
	for {
		if i >= len(src) {
			return "", 0, &pySyntaxError{start, "unterminated string"}
		}
		if strings.HasPrefix(src[i:], q) {
			i += len(q)
			return b.String(), i - start, nil
		}
		c := src[i]
		if c == '\n' && len(q) == 1 {
			return "", 0, &pySyntaxError{start, "unterminated string"}
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return "", 0, &pySyntaxError{start, "unterminated string"}
		}
		if raw {
			// A raw string keeps the backslash, but it still protects
			// the quote after it.
			b.WriteByte('\\')
			b.WriteByte(src[i+1])
			i += 2
			continue
		}
		e := src[i+1]
		i += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i - 1
			for j < len(src) && j < i+2 && src[j] >= '0' && src[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(src[i-1:j], 8, 32)
			b.WriteRune(rune(n))
			i = j
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+width > len(src) {
				return "", 0, &pySyntaxError{i, "truncated escape in string"}
			}
			n, err := strconv.ParseUint(src[i:i+width], 16, 32)
			if err != nil || n > unicode.MaxRune {
				return "", 0, &pySyntaxError{i, "bad escape in string"}
			}
			b.WriteRune(rune(n))
			i += width
		default:
			// Python keeps an unknown escape as it is ("\d" is "\\d"),
			// which is how regular expressions are often written.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
}
