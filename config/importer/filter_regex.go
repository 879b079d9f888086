package importer

import (
	"fmt"
	"strings"
)

// reAlt is one alternative of a regex, as a pattern body.
type reAlt struct {
	body       string
	start, end bool // anchored with ^ / $
}

type reParser struct {
	src string
	i   int
	n   pyNode
}

func (p *reParser) fail(format string, args ...any) error {
	return ferr(p.n, "regular expression %q: %s", p.src, fmt.Sprintf(format, args...))
}

func (p *reParser) alternation(depth int) ([]reAlt, error) {
	if depth > 16 {
		return nil, p.fail("groups nested too deeply")
	}
	var out []reAlt
	for {
		seq, err := p.sequence(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, seq...)
		if len(out) > maxAlternatives {
			return nil, p.fail("too many alternatives")
		}
		if p.i < len(p.src) && p.src[p.i] == '|' {
			p.i++
			continue
		}
		return out, nil
	}
}

// sequence parses up to "|" or ")" and returns its expansions.
func (p *reParser) sequence(depth int) ([]reAlt, error) {
	alts := []reAlt{{}}
	appendLit := func(s string) error {
		for i := range alts {
			if alts[i].end {
				return p.fail("text after $")
			}
			alts[i].body += s
		}
		return nil
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch c {
		case '|', ')':
			return alts, nil
		case '^':
			p.i++
			for i := range alts {
				if alts[i].body != "" || alts[i].start {
					return nil, p.fail("^ is only translated at the start")
				}
				alts[i].start = true
			}
		case '$':
			p.i++
			for i := range alts {
				alts[i].end = true
			}
		case '.':
			p.i++
			q := p.quant()
			switch q {
			case '*':
				if err := appendLit("*"); err != nil {
					return nil, err
				}
			case '+':
				// ".+" after "/" at the end is "/*": a folder name never
				// ends with the separator, so something follows it.
				if !p.atEnd() || !allEndWith(alts, "/") {
					return nil, p.fail(`"+" is only translated as "/.+" at the end`)
				}
				if err := appendLit("*"); err != nil {
					return nil, err
				}
			default:
				return nil, p.fail(`"." (one character) has no folder pattern; use ".*"`)
			}
		case '[':
			if !strings.HasPrefix(p.src[p.i:], "[^/]") {
				return nil, p.fail("character classes other than [^/] are not translated")
			}
			p.i += 4
			q := p.quant()
			switch {
			case q == '*', q == '+' && p.atEnd() && allEndWith(alts, "/"):
				if err := appendLit("%"); err != nil {
					return nil, err
				}
			default:
				return nil, p.fail(`[^/] is only translated as "[^/]*"`)
			}
		case '(':
			p.i++
			if strings.HasPrefix(p.src[p.i:], "?:") {
				p.i += 2
			} else if strings.HasPrefix(p.src[p.i:], "?") {
				return nil, p.fail("(?…) groups are not translated")
			}
			inner, err := p.alternation(depth + 1)
			if err != nil {
				return nil, err
			}
			if p.i >= len(p.src) || p.src[p.i] != ')' {
				return nil, p.fail("missing ')'")
			}
			p.i++
			if q := p.quant(); q != 0 {
				return nil, p.fail("a repeated group is not translated")
			}
			var next []reAlt
			for _, a := range alts {
				for _, b := range inner {
					if a.end && (b.body != "" || b.start) {
						return nil, p.fail("text after $")
					}
					if b.start && (a.body != "" || a.start) {
						return nil, p.fail("^ is only translated at the start")
					}
					next = append(next, reAlt{body: a.body + b.body, start: a.start || b.start, end: a.end || b.end})
				}
			}
			if len(next) > maxAlternatives {
				return nil, p.fail("too many alternatives")
			}
			alts = next
		case '\\':
			if p.i+1 >= len(p.src) {
				return nil, p.fail("trailing backslash")
			}
			e := p.src[p.i+1]
			p.i += 2
			if !strings.ContainsRune(`.[]()\/-^$|?+*{} &#~'"!,:;=<>_@`, rune(e)) {
				return nil, p.fail(`\%c is not translated`, e)
			}
			if e == '*' || e == '%' {
				return nil, p.fail("a literal %c cannot be matched by mailsync's patterns", e)
			}
			if p.quant() != 0 {
				return nil, p.fail("repetition is not translated")
			}
			if err := appendLit(string(e)); err != nil {
				return nil, err
			}
		case '*', '+', '?', '{':
			return nil, p.fail("repetition is not translated")
		case '%':
			return nil, p.fail("a literal %% cannot be matched by mailsync's patterns")
		default:
			p.i++
			if p.quant() != 0 {
				return nil, p.fail("repetition is not translated")
			}
			if err := appendLit(string(c)); err != nil {
				return nil, err
			}
		}
	}
	return alts, nil
}

// quant consumes a quantifier after an atom: '*', '+' or '?' (and
// rejects lazy and counted ones by returning '?').
func (p *reParser) quant() byte {
	if p.i >= len(p.src) {
		return 0
	}
	switch c := p.src[p.i]; c {
	case '*', '+':
		p.i++
		if p.i < len(p.src) && (p.src[p.i] == '?' || p.src[p.i] == '+') {
			p.i++
			return '?'
		}
		return c
	case '?', '{':
		p.i++
		return '?'
	}
	return 0
}

// atEnd: only "$", ")" or "|" follow.
func (p *reParser) atEnd() bool {
	return p.i >= len(p.src) || strings.ContainsRune("$)|", rune(p.src[p.i]))
}

func allEndWith(alts []reAlt, suffix string) bool {
	for _, a := range alts {
		if !strings.HasSuffix(a.body, suffix) {
			return false
		}
	}
	return true
}
