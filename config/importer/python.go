package importer

import (
	"fmt"
	"strconv"
	"strings"
)

// pyNode is an expression of the subset.
type pyNode interface{ pos() int }

type (
	pyName struct {
		at int
		id string
	}
	pyStr struct {
		at int
		s  string
	}
	pyNum struct {
		at    int
		n     float64
		isInt bool
	}
	pyConst struct {
		at int
		v  any
	} // True, False (bool) or None (nil)
	pyList struct { // list, tuple or set display
		at    int
		kind  byte // '[', '(' or '{'
		elems []pyNode
	}
	pyDict struct {
		at         int
		keys, vals []pyNode
	}
	pyCall struct {
		at     int
		fn     pyNode
		args   []pyNode
		kwargs []pyKwarg
	}
	pyAttr struct {
		at   int
		obj  pyNode
		name string
	}
	pyIndex struct {
		at    int
		obj   pyNode
		index pyNode // nil for a slice
		lo    pyNode // slice bounds, nil when omitted
		hi    pyNode
		slice bool
	}
	pyUnary struct {
		at int
		op string // "not", "-", "+"
		x  pyNode
	}
	pyBin struct {
		at   int
		op   string // "+", "-", "*", "/", "//", "%"
		l, r pyNode
	}
	pyBool struct { // and/or chain
		at   int
		op   string
		args []pyNode
	}
	pyCompare struct {
		at  int
		ops []string // "==", "!=", "<", ">", "<=", ">=", "in", "not in", "is", "is not"
		xs  []pyNode // len(ops)+1
	}
	pyIf struct {
		at              int
		cond, then, els pyNode
	}
	pyLambda struct {
		at     int
		params []string
		body   pyNode
	}
)

type pyKwarg struct {
	name string
	val  pyNode
}

func (n *pyName) pos() int    { return n.at }
func (n *pyStr) pos() int     { return n.at }
func (n *pyNum) pos() int     { return n.at }
func (n *pyConst) pos() int   { return n.at }
func (n *pyList) pos() int    { return n.at }
func (n *pyDict) pos() int    { return n.at }
func (n *pyCall) pos() int    { return n.at }
func (n *pyAttr) pos() int    { return n.at }
func (n *pyIndex) pos() int   { return n.at }
func (n *pyUnary) pos() int   { return n.at }
func (n *pyBin) pos() int     { return n.at }
func (n *pyBool) pos() int    { return n.at }
func (n *pyCompare) pos() int { return n.at }
func (n *pyIf) pos() int      { return n.at }
func (n *pyLambda) pos() int  { return n.at }

type pyParser struct {
	toks  []pyTok
	i     int
	depth int
}

// parsePy parses one expression.
func parsePy(src string) (n pyNode, err error) {
	toks, err := pyLex(src)
	if err != nil {
		return nil, err
	}
	p := &pyParser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*pySyntaxError)
			if !ok {
				panic(r)
			}
			n, err = nil, se
		}
	}()
	n = p.expr()
	// A trailing comma makes a tuple in Python; nobody writes that here.
	if t := p.peek(); t.kind != tEOF {
		p.fail(t, "unexpected %s", describeTok(t))
	}
	return n, nil
}

func describeTok(t pyTok) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tStr:
		return "string " + strconv.Quote(truncate(t.s, 20))
	}
	return strconv.Quote(t.s)
}

func (p *pyParser) peek() pyTok { return p.toks[p.i] }
func (p *pyParser) next() pyTok {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *pyParser) fail(t pyTok, format string, args ...any) {
	panic(&pySyntaxError{t.at, fmt.Sprintf(format, args...)})
}

func (p *pyParser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.s == s
}

func (p *pyParser) isKw(s string) bool {
	t := p.peek()
	return t.kind == tName && t.s == s
}

func (p *pyParser) expect(s string) pyTok {
	t := p.next()
	if t.kind != tOp || t.s != s {
		p.fail(t, "expected %q, found %s", s, describeTok(t))
	}
	return t
}

func (p *pyParser) enter() {
	p.depth++
	if p.depth > maxPyDepth {
		p.fail(p.peek(), "expression is nested too deeply")
	}
}

func (p *pyParser) leave() { p.depth-- }

func (p *pyParser) expr() pyNode {
	p.enter()
	defer p.leave()
	if p.isKw("lambda") {
		t := p.next()
		var params []string
		for !p.isOp(":") {
			nt := p.next()
			if nt.kind != tName {
				p.fail(nt, "expected a parameter name, found %s", describeTok(nt))
			}
			params = append(params, nt.s)
			if p.isOp("=") {
				p.fail(p.peek(), "default parameter values are not translated")
			}
			if !p.isOp(":") {
				p.expect(",")
			}
		}
		p.expect(":")
		return &pyLambda{t.at, params, p.expr()}
	}
	x := p.orTest()
	if p.isKw("if") {
		t := p.next()
		cond := p.orTest()
		if !p.isKw("else") {
			p.fail(p.peek(), "expected \"else\", found %s", describeTok(p.peek()))
		}
		p.next()
		return &pyIf{t.at, cond, x, p.expr()}
	}
	return x
}

func (p *pyParser) orTest() pyNode {
	x := p.andTest()
	if !p.isKw("or") {
		return x
	}
	b := &pyBool{x.pos(), "or", []pyNode{x}}
	for p.isKw("or") {
		p.next()
		b.args = append(b.args, p.andTest())
	}
	return b
}

func (p *pyParser) andTest() pyNode {
	x := p.notTest()
	if !p.isKw("and") {
		return x
	}
	b := &pyBool{x.pos(), "and", []pyNode{x}}
	for p.isKw("and") {
		p.next()
		b.args = append(b.args, p.notTest())
	}
	return b
}

func (p *pyParser) notTest() pyNode {
	if p.isKw("not") {
		t := p.next()
		p.enter()
		defer p.leave()
		return &pyUnary{t.at, "not", p.notTest()}
	}
	return p.comparison()
}

func (p *pyParser) compOp() (string, bool) {
	t := p.peek()
	switch {
	case t.kind == tOp && (t.s == "==" || t.s == "!=" || t.s == "<" || t.s == ">" || t.s == "<=" || t.s == ">="):
		p.next()
		return t.s, true
	case t.kind == tName && t.s == "in":
		p.next()
		return "in", true
	case t.kind == tName && t.s == "not" && p.toks[p.i+1].kind == tName && p.toks[p.i+1].s == "in":
		p.i += 2
		return "not in", true
	case t.kind == tName && t.s == "is":
		p.next()
		if p.isKw("not") {
			p.next()
			return "is not", true
		}
		return "is", true
	}
	return "", false
}

func (p *pyParser) comparison() pyNode {
	x := p.arith()
	op, ok := p.compOp()
	if !ok {
		return x
	}
	c := &pyCompare{at: x.pos(), xs: []pyNode{x}}
	for ok {
		c.ops = append(c.ops, op)
		c.xs = append(c.xs, p.arith())
		op, ok = p.compOp()
	}
	return c
}

func (p *pyParser) arith() pyNode {
	x := p.term()
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		x = &pyBin{t.at, t.s, x, p.term()}
	}
	return x
}

func (p *pyParser) term() pyNode {
	x := p.factor()
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		x = &pyBin{t.at, t.s, x, p.factor()}
	}
	return x
}

func (p *pyParser) factor() pyNode {
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		p.enter()
		defer p.leave()
		return &pyUnary{t.at, t.s, p.factor()}
	}
	return p.power()
}

func (p *pyParser) power() pyNode {
	x := p.atom()
	for {
		switch {
		case p.isOp("("):
			t := p.next()
			c := &pyCall{at: t.at, fn: x}
			for !p.isOp(")") {
				if p.isOp("*") || p.isOp("**") {
					p.fail(p.peek(), "argument unpacking is not translated")
				}
				if p.peek().kind == tName && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].s == "=" {
					name := p.next().s
					p.next()
					c.kwargs = append(c.kwargs, pyKwarg{name, p.expr()})
				} else {
					if len(c.kwargs) > 0 {
						p.fail(p.peek(), "positional argument after a keyword argument")
					}
					c.args = append(c.args, p.expr())
				}
				if !p.isOp(")") {
					p.expect(",")
				}
			}
			p.next()
			x = c
		case p.isOp("["):
			t := p.next()
			ix := &pyIndex{at: t.at, obj: x}
			if !p.isOp(":") {
				ix.lo = p.expr()
			}
			if p.isOp(":") {
				p.next()
				ix.slice = true
				if !p.isOp("]") {
					ix.hi = p.expr()
				}
			} else {
				ix.index, ix.lo = ix.lo, nil
			}
			p.expect("]")
			x = ix
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tName {
				p.fail(t, "expected an attribute name, found %s", describeTok(t))
			}
			x = &pyAttr{t.at, x, t.s}
		default:
			return x
		}
	}
}

var pyKeywords = map[string]bool{"and": true, "or": true, "not": true, "in": true, "is": true, "if": true,
	"else": true, "lambda": true, "for": true, "def": true, "import": true, "return": true, "yield": true}

func (p *pyParser) atom() pyNode {
	p.enter()
	defer p.leave()
	t := p.next()
	switch t.kind {
	case tName:
		switch t.s {
		case "True":
			return &pyConst{t.at, true}
		case "False":
			return &pyConst{t.at, false}
		case "None":
			return &pyConst{t.at, nil}
		}
		if pyKeywords[t.s] {
			p.fail(t, "unexpected %q", t.s)
		}
		return &pyName{t.at, t.s}
	case tStr:
		s := t.s
		for p.peek().kind == tStr {
			s += p.next().s
		}
		return &pyStr{t.at, s}
	case tNum:
		txt := strings.ReplaceAll(t.s, "_", "")
		if n, err := strconv.ParseInt(txt, 0, 64); err == nil {
			return &pyNum{t.at, float64(n), true}
		}
		f, err := strconv.ParseFloat(txt, 64)
		if err != nil {
			p.fail(t, "bad number %q", t.s)
		}
		return &pyNum{t.at, f, false}
	case tOp:
		switch t.s {
		case "(":
			if p.isOp(")") {
				p.next()
				return &pyList{t.at, '(', nil}
			}
			x := p.expr()
			if p.isKw("for") {
				p.fail(p.peek(), "generator expressions are not translated")
			}
			if p.isOp(")") {
				p.next()
				return x // parentheses only
			}
			l := &pyList{t.at, '(', []pyNode{x}}
			for p.isOp(",") {
				p.next()
				if p.isOp(")") {
					break
				}
				l.elems = append(l.elems, p.expr())
			}
			p.expect(")")
			return l
		case "[":
			l := &pyList{t.at, '[', nil}
			for !p.isOp("]") {
				l.elems = append(l.elems, p.expr())
				if p.isKw("for") {
					p.fail(p.peek(), "list comprehensions are not translated")
				}
				if !p.isOp("]") {
					p.expect(",")
				}
			}
			p.next()
			return l
		case "{":
			if p.isOp("}") {
				p.next()
				return &pyDict{at: t.at}
			}
			first := p.expr()
			if p.isKw("for") {
				p.fail(p.peek(), "comprehensions are not translated")
			}
			if !p.isOp(":") {
				l := &pyList{t.at, '{', []pyNode{first}}
				for p.isOp(",") {
					p.next()
					if p.isOp("}") {
						break
					}
					l.elems = append(l.elems, p.expr())
				}
				p.expect("}")
				return l
			}
			d := &pyDict{at: t.at}
			key := first
			for {
				p.expect(":")
				d.keys = append(d.keys, key)
				d.vals = append(d.vals, p.expr())
				if p.isKw("for") {
					p.fail(p.peek(), "comprehensions are not translated")
				}
				if p.isOp("}") {
					break
				}
				p.expect(",")
				if p.isOp("}") {
					break
				}
				key = p.expr()
			}
			p.next()
			return d
		}
	}
	p.fail(t, "unexpected %s", describeTok(t))
	return nil
}
