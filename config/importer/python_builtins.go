package importer

import (
	"regexp"
	"strings"
)

func strArg(n pyNode, args []any, i int, what string) (string, error) {
	if i >= len(args) {
		return "", evalErr(n, "%s: missing argument", what)
	}
	s, ok := args[i].(string)
	if !ok {
		return "", evalErr(n, "%s: argument %d must be a string, not %s", what, i+1, typeOf(args[i]))
	}
	return s, nil
}

func callBuiltin(n *pyCall, f *pyFunc, args []any, kw map[string]any) (any, error) {
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			return evalErr(n, "%s takes %d to %d arguments (got %d)", f.name, lo, hi, len(args))
		}
		return nil
	}
	if len(kw) > 0 && !strings.HasPrefix(f.name, "re.") {
		return nil, evalErr(n, "keyword arguments to %s are not translated", f.name)
	}
	switch f.name {
	case "bool":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		return truthy(args[0]), nil
	case "str":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if s, ok := args[0].(string); ok {
			return s, nil
		}
		return nil, evalErr(n, "str() of %s is not translated", typeOf(args[0]))
	case "len":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		switch a := args[0].(type) {
		case string:
			return int64(len([]rune(a))), nil
		case []any:
			return int64(len(a)), nil
		}
		return nil, evalErr(n, "len() of %s is not translated", typeOf(args[0]))
	case "re.search", "re.match", "re.fullmatch":
		pat, err := strArg(n, args, 0, f.name)
		if err != nil {
			return nil, err
		}
		s, err := strArg(n, args, 1, f.name)
		if err != nil {
			return nil, err
		}
		flags, err := reFlags(n, args, 2, kw)
		if err != nil {
			return nil, err
		}
		re, err := compilePyRegexp(n, pat, f.name, flags)
		if err != nil {
			return nil, err
		}
		m := re.FindStringSubmatch(s)
		if m == nil {
			return nil, nil
		}
		return m, nil
	case "re.sub":
		if err := nargs(3, 5); err != nil {
			return nil, err
		}
		pat, err := strArg(n, args, 0, f.name)
		if err != nil {
			return nil, err
		}
		repl, err := strArg(n, args, 1, f.name)
		if err != nil {
			return nil, err
		}
		s, err := strArg(n, args, 2, f.name)
		if err != nil {
			return nil, err
		}
		count := int64(0)
		if len(args) > 3 {
			count, _ = args[3].(int64)
		}
		if c, ok := kw["count"].(int64); ok {
			count = c
		}
		flags, err := reFlags(n, args, 4, kw)
		if err != nil {
			return nil, err
		}
		re, err := compilePyRegexp(n, pat, f.name, flags)
		if err != nil {
			return nil, err
		}
		tmpl, err := pyReplTemplate(n, repl)
		if err != nil {
			return nil, err
		}
		return reSub(re, tmpl, s, count), nil
	case "dict.get":
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		d := f.recv.(*pyDictVal)
		k, _ := args[0].(string)
		if v, ok := d.m[k]; ok {
			return v, nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return nil, nil
	case "dict.keys":
		d := f.recv.(*pyDictVal)
		out := make([]any, len(d.keys))
		for i, k := range d.keys {
			out[i] = k
		}
		return out, nil
	}
	s, _ := f.recv.(string)
	switch f.name {
	case "str.replace":
		if err := nargs(2, 3); err != nil {
			return nil, err
		}
		old, err := strArg(n, args, 0, f.name)
		if err != nil {
			return nil, err
		}
		repl, err := strArg(n, args, 1, f.name)
		if err != nil {
			return nil, err
		}
		count := -1
		if len(args) == 3 {
			c, ok := args[2].(int64)
			if !ok {
				return nil, evalErr(n, "replace: the count must be an integer")
			}
			if c >= 0 && c < 1<<20 {
				count = int(c)
			}
		}
		return strings.Replace(s, old, repl, count), nil
	case "str.startswith", "str.endswith":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		var cands []string
		switch a := args[0].(type) {
		case string:
			cands = []string{a}
		case []any:
			for _, e := range a {
				es, ok := e.(string)
				if !ok {
					return nil, evalErr(n, "%s: the tuple must hold strings", f.name)
				}
				cands = append(cands, es)
			}
		default:
			return nil, evalErr(n, "%s: argument must be a string or a tuple of strings", f.name)
		}
		for _, c := range cands {
			if f.name == "str.startswith" && strings.HasPrefix(s, c) || f.name == "str.endswith" && strings.HasSuffix(s, c) {
				return true, nil
			}
		}
		return false, nil
	case "str.lower":
		return strings.ToLower(s), nargs(0, 0)
	case "str.upper":
		return strings.ToUpper(s), nargs(0, 0)
	case "str.strip", "str.lstrip", "str.rstrip":
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		cut := " \t\n\r\f\v"
		if len(args) == 1 && args[0] != nil {
			c, err := strArg(n, args, 0, f.name)
			if err != nil {
				return nil, err
			}
			cut = c
		}
		switch f.name {
		case "str.strip":
			return strings.Trim(s, cut), nil
		case "str.lstrip":
			return strings.TrimLeft(s, cut), nil
		}
		return strings.TrimRight(s, cut), nil
	case "str.removeprefix":
		p, err := strArg(n, args, 0, f.name)
		return strings.TrimPrefix(s, p), err
	case "str.removesuffix":
		p, err := strArg(n, args, 0, f.name)
		return strings.TrimSuffix(s, p), err
	case "str.split", "str.rsplit":
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		sep, err := strArg(n, args, 0, f.name)
		if err != nil || sep == "" {
			return nil, evalErr(n, "%s: the separator must be a non-empty string", f.name)
		}
		max := -1
		if len(args) == 2 {
			if m, ok := args[1].(int64); ok && m >= 0 && m < 1<<20 {
				max = int(m) + 1
			}
		}
		var parts []string
		if f.name == "str.split" {
			parts = strings.SplitN(s, sep, max)
		} else {
			parts = rsplitN(s, sep, max)
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "str.find":
		sub, err := strArg(n, args, 0, f.name)
		if err != nil {
			return nil, err
		}
		i := strings.Index(s, sub)
		if i > 0 {
			i = len([]rune(s[:i]))
		}
		return int64(i), nil
	case "str.count":
		sub, err := strArg(n, args, 0, f.name)
		if err != nil {
			return nil, err
		}
		return int64(strings.Count(s, sub)), nil
	}
	return nil, evalErr(n, "%s is not translated", f.name)
}

func rsplitN(s, sep string, n int) []string {
	if n < 0 {
		return strings.Split(s, sep)
	}
	var out []string
	for len(out) < n-1 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		out = append([]string{s[i+len(sep):]}, out...)
		s = s[:i]
	}
	return append([]string{s}, out...)
}

func reFlags(n pyNode, args []any, i int, kw map[string]any) (int64, error) {
	var v any
	if i < len(args) {
		v = args[i]
	}
	if f, ok := kw["flags"]; ok {
		v = f
	}
	for k := range kw {
		if k != "flags" && k != "count" {
			return 0, evalErr(n, "keyword argument %s= is not translated", k)
		}
	}
	if v == nil {
		return 0, nil
	}
	f, ok := v.(int64)
	if !ok || f&^2 != 0 {
		return 0, evalErr(n, "regular expression flags other than re.IGNORECASE are not translated")
	}
	return f, nil
}

// compilePyRegexp compiles a Python pattern with Go's regexp, which shares
// the syntax of everything people put in a folderfilter; what it lacks
// (lookaround, backreferences) fails to compile and is reported.
func compilePyRegexp(n pyNode, pat, fn string, flags int64) (*regexp.Regexp, error) {
	if strings.Contains(pat, "(?P=") || strings.Contains(pat, "(?=") || strings.Contains(pat, "(?!") ||
		strings.Contains(pat, "(?<") && !strings.Contains(pat, "(?<name") {
		return nil, evalErr(n, "regular expression %q uses Python features mailsync's importer does not translate", pat)
	}
	goPat := "(?:" + pat + ")"
	switch fn {
	case "re.match":
		goPat = `^` + goPat
	case "re.fullmatch":
		goPat = `^` + goPat + `\z`
	}
	if flags&2 != 0 {
		goPat = "(?i)" + goPat
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		return nil, evalErr(n, "regular expression %q is not translated: %v", pat, err)
	}
	return re, nil
}

// pyReplTemplate turns a Python re.sub replacement ("\1", "\g<1>") into a
// Go Expand template.
func pyReplTemplate(n pyNode, repl string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(repl):
			e := repl[i+1]
			i++
			switch {
			case e >= '0' && e <= '9':
				j := i
				for j < len(repl) && j < i+2 && repl[j] >= '0' && repl[j] <= '9' {
					j++
				}
				b.WriteString("${" + repl[i:j] + "}")
				i = j - 1
			case e == 'g' && i+1 < len(repl) && repl[i+1] == '<':
				end := strings.IndexByte(repl[i:], '>')
				if end < 0 {
					return "", evalErr(n, "bad group reference in replacement %q", repl)
				}
				b.WriteString("${" + repl[i+2:i+end] + "}")
				i += end
			case e == 'n':
				b.WriteByte('\n')
			case e == 't':
				b.WriteByte('\t')
			case e == '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func reSub(re *regexp.Regexp, tmpl, s string, count int64) string {
	var b strings.Builder
	last := 0
	done := int64(0)
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		if count > 0 && done >= count {
			break
		}
		b.WriteString(s[last:m[0]])
		b.Write(re.ExpandString(nil, tmpl, s, m))
		last = m[1]
		done++
	}
	b.WriteString(s[last:])
	return b.String()
}
