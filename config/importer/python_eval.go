package importer

import (
	"fmt"
	"strings"
)

type pyModule string // "re", "os", "subprocess", ...

type pyFunc struct {
	name string
	recv any // the string, dict or regexp the method is bound to
}

type pyDictVal struct {
	keys []string
	m    map[string]any
}

// pyEvalError says why an expression could not be evaluated.
type pyEvalError struct {
	at  int
	msg string
}

func (e *pyEvalError) Error() string { return e.msg }

func evalErr(n pyNode, format string, args ...any) error {
	return &pyEvalError{n.pos(), fmt.Sprintf(format, args...)}
}

// pyEnv binds names: the lambda's parameter, and the modules offlineimap
// puts in reach.
type pyEnv map[string]any

// evalLambda1 applies a one-parameter lambda to arg.
func evalLambda1(fn pyNode, arg string) (any, error) {
	l, ok := fn.(*pyLambda)
	if !ok || len(l.params) != 1 {
		return nil, evalErr(fn, "expected a lambda of one parameter (the folder name)")
	}
	env := pyEnv{"re": pyModule("re"), "bool": &pyFunc{name: "bool"}, "str": &pyFunc{name: "str"}, "len": &pyFunc{name: "len"}}
	env[l.params[0]] = arg
	return pyEval(l.body, env, 0)
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case int64:
		return v != 0
	case []any:
		return len(v) > 0
	case *pyDictVal:
		return len(v.keys) > 0
	case []string: // a regexp match
		return true
	}
	return true
}

func pyEqual(a, b any) bool {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case int64:
		b, ok := b.(int64)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !pyEqual(a[i], bl[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func pyEval(n pyNode, env pyEnv, depth int) (any, error) {
	if depth > maxPyDepth {
		return nil, evalErr(n, "expression is nested too deeply")
	}
	depth++
	switch n := n.(type) {
	case *pyName:
		if v, ok := env[n.id]; ok {
			return v, nil
		}
		return nil, evalErr(n, "unknown name %q (something from the pythonfile?)", n.id)
	case *pyStr:
		return n.s, nil
	case *pyNum:
		if !n.isInt {
			return nil, evalErr(n, "floating-point numbers are not translated")
		}
		return int64(n.n), nil
	case *pyConst:
		return n.v, nil
	case *pyList:
		out := make([]any, 0, len(n.elems))
		for _, e := range n.elems {
			v, err := pyEval(e, env, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *pyDict:
		d := &pyDictVal{m: map[string]any{}}
		for i, k := range n.keys {
			kv, err := pyEval(k, env, depth)
			if err != nil {
				return nil, err
			}
			ks, ok := kv.(string)
			if !ok {
				return nil, evalErr(k, "dictionary keys must be strings here")
			}
			v, err := pyEval(n.vals[i], env, depth)
			if err != nil {
				return nil, err
			}
			if _, dup := d.m[ks]; !dup {
				d.keys = append(d.keys, ks)
			}
			d.m[ks] = v // Python keeps the last value of a repeated key
		}
		return d, nil
	case *pyAttr:
		obj, err := pyEval(n.obj, env, depth)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case pyModule:
			if o == "re" && (n.name == "search" || n.name == "match" || n.name == "fullmatch" || n.name == "sub") {
				return &pyFunc{name: "re." + n.name}, nil
			}
			if o == "re" && (n.name == "I" || n.name == "IGNORECASE") {
				return int64(2), nil // re.I's value
			}
		case string:
			switch n.name {
			case "replace", "startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip",
				"removeprefix", "removesuffix", "split", "rsplit", "find", "count":
				return &pyFunc{name: "str." + n.name, recv: o}, nil
			}
		case *pyDictVal:
			if n.name == "get" || n.name == "keys" {
				return &pyFunc{name: "dict." + n.name, recv: o}, nil
			}
		}
		return nil, evalErr(n, "%s.%s is not translated", typeOf(obj), n.name)
	case *pyCall:
		fv, err := pyEval(n.fn, env, depth)
		if err != nil {
			return nil, err
		}
		f, ok := fv.(*pyFunc)
		if !ok {
			return nil, evalErr(n, "calling %s is not translated", typeOf(fv))
		}
		args := make([]any, 0, len(n.args))
		for _, a := range n.args {
			v, err := pyEval(a, env, depth)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		kw := map[string]any{}
		for _, k := range n.kwargs {
			v, err := pyEval(k.val, env, depth)
			if err != nil {
				return nil, err
			}
			kw[k.name] = v
		}
		return callBuiltin(n, f, args, kw)
	case *pyIndex:
		obj, err := pyEval(n.obj, env, depth)
		if err != nil {
			return nil, err
		}
		if n.slice {
			return evalSlice(n, obj, env, depth)
		}
		idx, err := pyEval(n.index, env, depth)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *pyDictVal:
			k, _ := idx.(string)
			v, ok := o.m[k]
			if !ok {
				return nil, evalErr(n, "KeyError: %q", k)
			}
			return v, nil
		case []any:
			i, ok := idx.(int64)
			if !ok {
				return nil, evalErr(n, "list index must be an integer")
			}
			if i < 0 {
				i += int64(len(o))
			}
			if i < 0 || i >= int64(len(o)) {
				return nil, evalErr(n, "IndexError: list index out of range")
			}
			return o[i], nil
		case string:
			i, ok := idx.(int64)
			r := []rune(o)
			if !ok {
				return nil, evalErr(n, "string index must be an integer")
			}
			if i < 0 {
				i += int64(len(r))
			}
			if i < 0 || i >= int64(len(r)) {
				return nil, evalErr(n, "IndexError: string index out of range")
			}
			return string(r[i]), nil
		}
		return nil, evalErr(n, "indexing %s is not translated", typeOf(obj))
	case *pyUnary:
		x, err := pyEval(n.x, env, depth)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "not":
			return !truthy(x), nil
		case "-":
			if i, ok := x.(int64); ok {
				return -i, nil
			}
		case "+":
			if i, ok := x.(int64); ok {
				return i, nil
			}
		}
		return nil, evalErr(n, "%s%s is not translated", n.op, typeOf(x))
	case *pyBin:
		l, err := pyEval(n.l, env, depth)
		if err != nil {
			return nil, err
		}
		r, err := pyEval(n.r, env, depth)
		if err != nil {
			return nil, err
		}
		if n.op == "+" {
			switch l := l.(type) {
			case string:
				if r, ok := r.(string); ok {
					return l + r, nil
				}
			case []any:
				if r, ok := r.([]any); ok {
					return append(append([]any{}, l...), r...), nil
				}
			case int64:
				if r, ok := r.(int64); ok {
					return l + r, nil
				}
			}
		}
		return nil, evalErr(n, "%s %s %s is not translated", typeOf(l), n.op, typeOf(r))
	case *pyBool:
		var v any
		for _, a := range n.args {
			var err error
			v, err = pyEval(a, env, depth)
			if err != nil {
				return nil, err
			}
			if truthy(v) == (n.op == "or") {
				return v, nil
			}
		}
		return v, nil
	case *pyCompare:
		left, err := pyEval(n.xs[0], env, depth)
		if err != nil {
			return nil, err
		}
		for i, op := range n.ops {
			right, err := pyEval(n.xs[i+1], env, depth)
			if err != nil {
				return nil, err
			}
			ok, err := compare(n, op, left, right)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			left = right
		}
		return true, nil
	case *pyIf:
		c, err := pyEval(n.cond, env, depth)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return pyEval(n.then, env, depth)
		}
		return pyEval(n.els, env, depth)
	case *pyLambda:
		return nil, evalErr(n, "a nested lambda is not translated")
	}
	return nil, evalErr(n, "this expression is not translated")
}

func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case []any:
		return "a list"
	case *pyDictVal:
		return "a dict"
	case pyModule:
		return "module " + string(v)
	case *pyFunc:
		return v.name
	case []string:
		return "a match"
	}
	return fmt.Sprintf("%T", v)
}

func evalSlice(n *pyIndex, obj any, env pyEnv, depth int) (any, error) {
	bound := func(x pyNode, def, size int) (int, error) {
		if x == nil {
			return def, nil
		}
		v, err := pyEval(x, env, depth)
		if err != nil {
			return 0, err
		}
		i, ok := v.(int64)
		if !ok {
			return 0, evalErr(x, "slice bounds must be integers")
		}
		if i < 0 {
			i += int64(size)
		}
		return int(max(0, min(i, int64(size)))), nil
	}
	switch o := obj.(type) {
	case string:
		r := []rune(o)
		lo, err := bound(n.lo, 0, len(r))
		if err != nil {
			return nil, err
		}
		hi, err := bound(n.hi, len(r), len(r))
		if err != nil {
			return nil, err
		}
		if lo >= hi {
			return "", nil
		}
		return string(r[lo:hi]), nil
	case []any:
		lo, err := bound(n.lo, 0, len(o))
		if err != nil {
			return nil, err
		}
		hi, err := bound(n.hi, len(o), len(o))
		if err != nil {
			return nil, err
		}
		if lo >= hi {
			return []any{}, nil
		}
		return o[lo:hi], nil
	}
	return nil, evalErr(n, "slicing %s is not translated", typeOf(obj))
}

func compare(n pyNode, op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return pyEqual(l, r), nil
	case "!=":
		return !pyEqual(l, r), nil
	case "is":
		if r == nil {
			return l == nil, nil
		}
	case "is not":
		if r == nil {
			return l != nil, nil
		}
	case "in", "not in":
		var in bool
		switch c := r.(type) {
		case []any:
			for _, e := range c {
				if pyEqual(l, e) {
					in = true
					break
				}
			}
		case *pyDictVal:
			k, ok := l.(string)
			_, in = c.m[k]
			in = in && ok
		case string:
			s, ok := l.(string)
			if !ok {
				return false, evalErr(n, "'in <string>' needs a string on the left")
			}
			in = strings.Contains(c, s)
		default:
			return false, evalErr(n, "'in' %s is not translated", typeOf(r))
		}
		return in == (op == "in"), nil
	}
	return false, evalErr(n, "comparison %q is not translated", op)
}
