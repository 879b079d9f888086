package importer

import (
	"fmt"
	"strings"
)

// rules is an ordered mailsync pattern list. nil (no rule) selects nothing.
type rules []string

// purePos: no exclusion, so the list selects the union of its patterns.
func (r rules) purePos() bool {
	for _, p := range r {
		if strings.HasPrefix(p, "!") {
			return false
		}
	}
	return true
}

// pureNeg: "*" followed only by exclusions: everything but their union.
func (r rules) pureNeg() bool {
	if len(r) == 0 || r[0] != "*" {
		return false
	}
	for _, p := range r[1:] {
		if !strings.HasPrefix(p, "!") {
			return false
		}
	}
	return true
}

// matchesAll: the list is exactly ["*"].
func (r rules) matchesAll() bool { return len(r) == 1 && r[0] == "*" }

func notRules(r rules) (rules, bool) {
	switch {
	case len(r) == 0:
		return rules{"*"}, true
	case r.pureNeg():
		// not (everything but X) = X
		out := rules{}
		for _, p := range r[1:] {
			out = append(out, p[1:])
		}
		return out, true
	case r.purePos():
		out := rules{"*"}
		for _, p := range r {
			out = append(out, "!"+p)
		}
		return out, true
	}
	return nil, false
}

// andRules: a folder passes if both pass. Appending exclusions to any list
// is exact, since the last match wins; so is keeping b's inclusions when a
// selects everything.
func andRules(a, b rules) (rules, bool) {
	switch {
	case len(a) == 0 || len(b) == 0:
		return rules{}, true
	case b.pureNeg():
		return append(append(rules{}, a...), b[1:]...), true
	case a.pureNeg():
		return append(append(rules{}, b...), a[1:]...), true
	}
	return nil, false
}

// orRules: a folder passes if either does. Appending inclusions is exact.
func orRules(a, b rules) (rules, bool) {
	switch {
	case a.matchesAll() || b.matchesAll():
		return rules{"*"}, true
	case b.purePos():
		return append(append(rules{}, a...), b...), true
	case a.purePos():
		return append(append(rules{}, b...), a...), true
	}
	return nil, false
}

// filterError says which part of a folderfilter could not be translated.
type filterError struct {
	at  int
	msg string
}

func (e *filterError) Error() string { return e.msg }

func ferr(n pyNode, format string, args ...any) error {
	return &filterError{n.pos(), fmt.Sprintf(format, args...)}
}

// translateFilter turns a folderfilter lambda into folder patterns.
func translateFilter(fn pyNode) (rules, error) {
	l, ok := fn.(*pyLambda)
	if !ok || len(l.params) < 1 {
		if nm, ok := fn.(*pyName); ok {
			return nil, ferr(fn, "%s is a function from the pythonfile", nm.id)
		}
		return nil, ferr(fn, "expected a lambda taking the folder name")
	}
	return predRules(l.body, l.params[0], 0)
}

func isParam(n pyNode, param string) bool {
	nm, ok := n.(*pyName)
	return ok && nm.id == param
}

// literalNames evaluates a list, tuple, set or dict literal to the folder
// names it holds (a dict's keys).
func literalNames(n pyNode) ([]string, error) {
	v, err := pyEval(n, pyEnv{}, 0)
	if err != nil {
		return nil, err
	}
	var elems []any
	switch v := v.(type) {
	case []any:
		elems = v
	case *pyDictVal:
		for _, k := range v.keys {
			elems = append(elems, k)
		}
	case string:
		return nil, ferr(n, "'in' a string tests for a substring of it, not for a folder name")
	default:
		return nil, ferr(n, "expected a list of folder names, not %s", typeOf(v))
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := e.(string)
		if !ok {
			return nil, ferr(n, "the list holds %s, not only folder names", typeOf(e))
		}
		out = append(out, s)
	}
	return out, nil
}

// exactPattern is the pattern matching exactly name, which exists only when
// name holds neither of the pattern characters.
func exactPattern(n pyNode, name string) (string, error) {
	if strings.ContainsAny(name, "*%") {
		return "", ferr(n, "folder name %q contains * or %%, which mailsync's patterns cannot match literally", name)
	}
	if name == "" {
		return "", ferr(n, "empty folder name")
	}
	if strings.HasPrefix(name, "!") {
		return "", ferr(n, "folder name %q starts with !, which mailsync's patterns read as an exclusion", name)
	}
	return name, nil
}

func exactRules(n pyNode, names []string) (rules, error) {
	out := rules{}
	for _, name := range names {
		p, err := exactPattern(n, name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func predRules(n pyNode, param string, depth int) (rules, error) {
	if depth > maxPyDepth {
		return nil, ferr(n, "expression is nested too deeply")
	}
	depth++
	switch x := n.(type) {
	case *pyConst:
		if b, ok := x.v.(bool); ok {
			if b {
				return rules{"*"}, nil
			}
			return rules{}, nil
		}
	case *pyUnary:
		if x.op == "not" {
			r, err := predRules(x.x, param, depth)
			if err != nil {
				return nil, err
			}
			out, ok := notRules(r)
			if !ok {
				return nil, ferr(x, "negating this combination cannot be written as folder patterns")
			}
			return out, nil
		}
	case *pyBool:
		acc, err := predRules(x.args[0], param, depth)
		if err != nil {
			return nil, err
		}
		for _, a := range x.args[1:] {
			r, err := predRules(a, param, depth)
			if err != nil {
				return nil, err
			}
			var ok bool
			if x.op == "and" {
				acc, ok = andRules(acc, r)
			} else {
				acc, ok = orRules(acc, r)
			}
			if !ok {
				return nil, ferr(a, "this %q of two mixed conditions cannot be written as folder patterns", x.op)
			}
		}
		return acc, nil
	case *pyCompare:
		if len(x.ops) != 1 {
			return nil, ferr(x, "chained comparisons are not translated")
		}
		l, r, op := x.xs[0], x.xs[1], x.ops[0]
		switch {
		case isParam(l, param) && (op == "in" || op == "not in"):
			names, err := literalNames(r)
			if err != nil {
				return nil, err
			}
			pos, err := exactRules(r, names)
			if err != nil {
				return nil, err
			}
			if op == "in" {
				return pos, nil
			}
			out, _ := notRules(pos)
			return out, nil
		case (op == "==" || op == "!=") && (isParam(l, param) || isParam(r, param)):
			other := r
			if isParam(r, param) {
				other = l
			}
			s, ok := other.(*pyStr)
			if !ok {
				return nil, ferr(other, "compare the folder name with a string literal")
			}
			p, err := exactPattern(other, s.s)
			if err != nil {
				return nil, err
			}
			if op == "==" {
				return rules{p}, nil
			}
			return rules{"*", "!" + p}, nil
		case isParam(r, param) && (op == "in" || op == "not in"):
			s, ok := l.(*pyStr)
			if !ok {
				return nil, ferr(l, "test for a string literal inside the folder name")
			}
			if strings.ContainsAny(s.s, "*%") || s.s == "" {
				return nil, ferr(l, "%q cannot be matched literally by mailsync's patterns", s.s)
			}
			pos := rules{"*" + s.s + "*"}
			if op == "in" {
				return pos, nil
			}
			out, _ := notRules(pos)
			return out, nil
		case (op == "is not" || op == "is") && isNone(r):
			inner, err := predRules(l, param, depth)
			if err != nil {
				return nil, err
			}
			if op == "is not" {
				return inner, nil
			}
			out, ok := notRules(inner)
			if !ok {
				return nil, ferr(x, "negating this combination cannot be written as folder patterns")
			}
			return out, nil
		}
		return nil, ferr(x, "this comparison is not translated")
	case *pyCall:
		fn := dottedName(x.fn)
		switch fn {
		case "re.search", "re.match", "re.fullmatch":
			if len(x.args) != 2 || len(x.kwargs) != 0 {
				return nil, ferr(x, "%s with flags is not translated (mailsync's patterns are case-sensitive)", fn)
			}
			if !isParam(x.args[1], param) {
				return nil, ferr(x.args[1], "%s must be applied to the folder name", fn)
			}
			pat, ok := x.args[0].(*pyStr)
			if !ok {
				return nil, ferr(x.args[0], "the regular expression must be a string literal")
			}
			return regexRules(x.args[0], pat.s, fn != "re.search", fn == "re.fullmatch")
		case "bool":
			if len(x.args) == 1 {
				return predRules(x.args[0], param, depth)
			}
		}
		if a, ok := x.fn.(*pyAttr); ok && isParam(a.obj, param) && (a.name == "startswith" || a.name == "endswith") && len(x.args) == 1 {
			var names []string
			if s, ok := x.args[0].(*pyStr); ok {
				names = []string{s.s}
			} else {
				var err error
				if names, err = literalNames(x.args[0]); err != nil {
					return nil, err
				}
			}
			out := rules{}
			for _, s := range names {
				if strings.ContainsAny(s, "*%") {
					return nil, ferr(x.args[0], "%q cannot be matched literally by mailsync's patterns", s)
				}
				if a.name == "startswith" {
					if strings.HasPrefix(s, "!") || s == "" {
						return nil, ferr(x.args[0], "%q cannot start a mailsync pattern", s)
					}
					out = append(out, s+"*")
				} else {
					out = append(out, "*"+s)
				}
			}
			return out, nil
		}
		if fn != "" && !strings.Contains(fn, ".") {
			return nil, ferr(x, "%s() is a function from the pythonfile", fn)
		}
	}
	return nil, ferr(n, "this form is not translated")
}

func isNone(n pyNode) bool {
	c, ok := n.(*pyConst)
	return ok && c.v == nil
}

// regexRules translates a regular expression made of literal text, ".*",
// "[^/]*" and alternations, anchored or not, into patterns. A regex is
// matched against the whole name by a pattern, so an unanchored end
// becomes a trailing "*" and an unanchored start a leading one.
func regexRules(n pyNode, pat string, anchoredStart, anchoredEnd bool) (rules, error) {
	p := &reParser{src: pat, n: n}
	alts, err := p.alternation(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.src) {
		return nil, ferr(n, "regular expression %q: unbalanced ')'", pat)
	}
	out := rules{}
	for _, a := range alts {
		g := a.body
		if !a.start && !anchoredStart {
			g = "*" + g
		}
		if !a.end && !anchoredEnd {
			g += "*"
		}
		g = collapseStars(g)
		if g == "" {
			return nil, ferr(n, "regular expression %q matches an empty folder name only", pat)
		}
		if strings.HasPrefix(g, "!") {
			return nil, ferr(n, "regular expression %q gives a pattern starting with !, which mailsync reads as an exclusion", pat)
		}
		out = append(out, g)
	}
	return dedupe(out), nil
}

func collapseStars(s string) string {
	for strings.Contains(s, "**") {
		s = strings.ReplaceAll(s, "**", "*")
	}
	return s
}

func dedupe(r rules) rules {
	seen := map[string]bool{}
	out := rules{}
	for _, p := range r {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// maxAlternatives bounds the expansion of nested alternations.
const maxAlternatives = 256
