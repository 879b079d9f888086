package importer

import (
	"sort"
	"strings"
)

// offlineimap's nametrans is a function from remote folder names to local
// ones; mailsync's folder_map is a finite table of exact renames. The two
// agree exactly when the function changes only a known, finite set of
// names, which is what support works out from the syntax: a dict lookup
// with the name as default, a conditional on a list of names, or the
// identity. For a rewrite rule (.replace, re.sub, "prefix" + name) the set
// is open, and the table can only list the folders known now.

// support returns the finite set of names outside which body (with param
// bound to the folder name) is the identity, or finite = false.
func support(body pyNode, param string, depth int) (names []string, finite bool) {
	if depth > maxPyDepth {
		return nil, false
	}
	depth++
	switch x := body.(type) {
	case *pyName:
		if x.id == param {
			return nil, true
		}
	case *pyCall:
		// {…}.get(name, name)
		if a, ok := x.fn.(*pyAttr); ok && a.name == "get" && len(x.args) == 2 && len(x.kwargs) == 0 && isParam(x.args[0], param) {
			if d, ok := a.obj.(*pyDict); ok {
				keys, err := literalNames(d)
				if err != nil {
					return nil, false
				}
				rest, fin := support(x.args[1], param, depth)
				if !fin {
					return nil, false
				}
				return append(keys, rest...), true
			}
		}
	case *pyIf:
		// A if name in […] else B, and the negated and == forms.
		if set, positive, ok := finiteCondition(x.cond, param); ok {
			other := x.els
			if !positive {
				other = x.then
			}
			rest, fin := support(other, param, depth)
			if !fin {
				return nil, false
			}
			return append(set, rest...), true
		}
	case *pyBool:
		// {…}.get(name) or name
		if x.op == "or" && len(x.args) == 2 && isParam(x.args[1], param) {
			if c, ok := x.args[0].(*pyCall); ok {
				if a, ok := c.fn.(*pyAttr); ok && a.name == "get" && len(c.args) == 1 && isParam(c.args[0], param) {
					if d, ok := a.obj.(*pyDict); ok {
						keys, err := literalNames(d)
						if err == nil {
							return keys, true
						}
					}
				}
			}
		}
	}
	return nil, false
}

// finiteCondition recognises "name in [...]", "name == 'x'" and their
// negations; positive says whether the listed names take the "then" side.
func finiteCondition(cond pyNode, param string) (names []string, positive, ok bool) {
	c, isCmp := cond.(*pyCompare)
	if !isCmp || len(c.ops) != 1 {
		if u, isNot := cond.(*pyUnary); isNot && u.op == "not" {
			n, p, ok := finiteCondition(u.x, param)
			return n, !p, ok
		}
		if b, isBool := cond.(*pyBool); isBool && b.op == "or" {
			var all []string
			for _, a := range b.args {
				n, p, ok := finiteCondition(a, param)
				if !ok || !p {
					return nil, false, false
				}
				all = append(all, n...)
			}
			return all, true, true
		}
		return nil, false, false
	}
	l, r, op := c.xs[0], c.xs[1], c.ops[0]
	switch {
	case isParam(l, param) && (op == "in" || op == "not in"):
		n, err := literalNames(r)
		if err != nil {
			return nil, false, false
		}
		return n, op == "in", true
	case (op == "==" || op == "!=") && (isParam(l, param) || isParam(r, param)):
		other := r
		if isParam(r, param) {
			other = l
		}
		if s, ok := other.(*pyStr); ok {
			return []string{s.s}, op == "==", true
		}
	}
	return nil, false, false
}

// nametransSupport is support for a nametrans lambda.
func nametransSupport(fn pyNode) ([]string, bool) {
	l, ok := fn.(*pyLambda)
	if !ok || len(l.params) != 1 {
		return nil, false
	}
	names, finite := support(l.body, l.params[0], 0)
	sort.Strings(names)
	return uniqStrings(names), finite
}

func uniqStrings(s []string) []string {
	out := s[:0:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// applyNametrans runs fn on name; the result must be a string.
func applyNametrans(fn pyNode, name string) (string, error) {
	v, err := evalLambda1(fn, name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", evalErr(fn, "nametrans returned %s for %q, not a folder name", typeOf(v), name)
	}
	return s, nil
}

// undoReplace returns name and the names that the .replace(a, b) calls in
// fn would turn into it: a+name for a removed prefix, name with b turned
// back into a otherwise. They are candidates only; the caller keeps those
// fn really maps to name.
func undoReplace(fn pyNode, name string) []string {
	out := []string{name}
	var walk func(n pyNode, depth int)
	walk = func(n pyNode, depth int) {
		if n == nil || depth > maxPyDepth {
			return
		}
		depth++
		switch x := n.(type) {
		case *pyLambda:
			walk(x.body, depth)
		case *pyCall:
			if a, ok := x.fn.(*pyAttr); ok && a.name == "replace" && len(x.args) >= 2 {
				from, ok1 := x.args[0].(*pyStr)
				to, ok2 := x.args[1].(*pyStr)
				if ok1 && ok2 && from.s != "" {
					if to.s == "" {
						out = append(out, from.s+name)
					} else {
						out = append(out, strings.ReplaceAll(name, to.s, from.s))
					}
				}
			}
			walk(x.fn, depth)
			for _, a := range x.args {
				walk(a, depth)
			}
		case *pyAttr:
			walk(x.obj, depth)
		case *pyIf:
			walk(x.cond, depth)
			walk(x.then, depth)
			walk(x.els, depth)
		case *pyBin:
			walk(x.l, depth)
			walk(x.r, depth)
		case *pyBool:
			for _, a := range x.args {
				walk(a, depth)
			}
		}
	}
	walk(fn, 0)
	return out
}
