package importer

import (
	"fmt"
	"regexp"
	"strings"
)

// This file reads offlineimap's configuration the way Python's configparser
// (which offlineimap uses, with its defaults) does, so that what is
// imported is what offlineimap saw: the same continuation lines, the same
// comments, the same "%(name)s" interpolation, the same errors. Every value
// keeps the line it started on, for messages.

// iniFile is a parsed configparser file.
type iniFile struct {
	path     string
	sections []*iniSection // in file order, without DEFAULT
	byName   map[string]*iniSection
	defaults *iniSection // the DEFAULT section, possibly empty
}

type iniSection struct {
	name string
	line int
	keys []string // lower-cased option names, in file order
	vals map[string]*iniValue
}

type iniValue struct {
	key  string // lower-cased, as configparser's optionxform leaves it
	raw  string // continuation lines joined with "\n", uninterpolated
	line int
}

// iniError is a configparser error: offlineimap would refuse the file.
type iniError struct {
	file string
	line int
	msg  string
}

func (e *iniError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// configparser's SECTCRE and OPTCRE.
var (
	sectRE = regexp.MustCompile(`^\[(.+)\]`)
	optRE  = regexp.MustCompile(`^(.*?)\s*([=:])\s*(.*)$`)
)

const defaultSection = "DEFAULT"

// parseINI parses data as configparser.ConfigParser() would (strict, "#"
// and ";" full-line comments, no inline comments, empty lines kept inside
// values). It stops at the first error, as offlineimap would not start.
func parseINI(path string, data []byte) (*iniFile, error) {
	f := &iniFile{path: path, byName: map[string]*iniSection{},
		defaults: &iniSection{name: defaultSection, vals: map[string]*iniValue{}}}
	text := strings.TrimPrefix(string(data), "\ufeff")
	lines := strings.SplitAfter(text, "\n")
	var (
		cur         *iniSection
		curOpt      *iniValue
		optLines    []string
		indentLevel int
		seen        = map[string]bool{} // sections and section/option pairs
	)
	flush := func() {
		if curOpt != nil {
			// configparser joins the lines and drops trailing empty ones.
			curOpt.raw = strings.TrimRight(strings.Join(optLines, "\n"), " \t\r\n")
		}
		curOpt, optLines = nil, nil
	}
	for i, line := range lines {
		lineno := i + 1
		line = strings.TrimRight(line, "\r\n")
		if strings.IndexByte(line, 0) >= 0 {
			return nil, &iniError{path, lineno, "the line contains a NUL byte"}
		}
		stripped := strings.TrimSpace(line)
		comment := strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";")
		value := stripped
		if comment {
			value = ""
		}
		if value == "" {
			// An empty line inside a value is part of it; a comment line
			// is not.
			if !comment && curOpt != nil {
				optLines = append(optLines, "")
			}
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t\f\v"))
		if cur != nil && curOpt != nil && indent > indentLevel {
			optLines = append(optLines, value)
			continue
		}
		indentLevel = indent
		if m := sectRE.FindStringSubmatch(value); m != nil {
			flush()
			name := m[1]
			switch {
			case name == defaultSection:
				cur = f.defaults
			case seen[name]:
				return nil, &iniError{path, lineno, fmt.Sprintf("section [%s] is defined twice (configparser refuses that)", name)}
			default:
				cur = &iniSection{name: name, line: lineno, vals: map[string]*iniValue{}}
				f.sections = append(f.sections, cur)
				f.byName[name] = cur
			}
			seen[name] = true
			continue
		}
		if cur == nil {
			return nil, &iniError{path, lineno, "file contains no section header before this line"}
		}
		m := optRE.FindStringSubmatch(value)
		if m == nil || m[1] == "" {
			return nil, &iniError{path, lineno, fmt.Sprintf("cannot parse %q: want \"key = value\"", truncate(value, 60))}
		}
		flush()
		key := strings.ToLower(strings.TrimRight(m[1], " \t"))
		pair := cur.name + "\x00" + key
		if seen[pair] {
			return nil, &iniError{path, lineno, fmt.Sprintf("option %q is set twice in [%s] (configparser refuses that)", key, cur.name)}
		}
		seen[pair] = true
		curOpt = &iniValue{key: key, line: lineno}
		optLines = []string{strings.TrimSpace(m[3])}
		cur.vals[key] = curOpt
		cur.keys = append(cur.keys, key)
	}
	flush()
	return f, nil
}

// lookup returns the raw value of key in section s or in DEFAULT.
func (f *iniFile) lookup(s *iniSection, key string) (*iniValue, bool) {
	if s != nil {
		if v, ok := s.vals[key]; ok {
			return v, true
		}
	}
	v, ok := f.defaults.vals[key]
	return v, ok
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

var keyRefRE = regexp.MustCompile(`^%\(([^)]+)\)s`)

// get returns the interpolated value of key in section s, as
// ConfigParser.get would, and the line it was set on.
func (f *iniFile) get(s *iniSection, key string) (val string, line int, ok bool, err error) {
	v, ok := f.lookup(s, key)
	if !ok {
		return "", 0, false, nil
	}
	var b strings.Builder
	if err := f.interpolate(s, &b, v.raw, 1); err != nil {
		return "", v.line, true, err
	}
	return b.String(), v.line, true, nil
}

// maxInterpolated bounds an interpolated value: ten levels of references
// that each name another value several times grow exponentially, and
// configparser would run out of memory on them where the importer must
// answer.
const maxInterpolated = 1 << 20

func (f *iniFile) interpolate(s *iniSection, b *strings.Builder, rest string, depth int) error {
	if depth > maxInterpolationDepth {
		return fmt.Errorf("interpolation is nested more than %d deep (a %%(name)s loop?)", maxInterpolationDepth)
	}
	for rest != "" {
		if b.Len() > maxInterpolated {
			return fmt.Errorf("the value grows beyond %d bytes through %%(name)s references", maxInterpolated)
		}
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			m := keyRefRE.FindStringSubmatch(rest)
			if m == nil {
				return fmt.Errorf("bad interpolation reference %q: write %%(name)s, or %%%% for a %%", truncate(rest, 30))
			}
			rest = rest[len(m[0]):]
			v, ok := f.lookup(s, strings.ToLower(m[1]))
			if !ok {
				return fmt.Errorf("%%(%s)s refers to an option that is not set in this section or in [DEFAULT]", m[1])
			}
			if strings.Contains(v.raw, "%") {
				if err := f.interpolate(s, b, v.raw, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(v.raw)
			}
		default:
			return fmt.Errorf("'%%' must be followed by '%%' or '(' (configparser's rule; write %%%% for a %%), found %q", truncate(rest, 30))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
