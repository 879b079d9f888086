package importer

import (
	"strconv"
	"strings"
)

// evalString evaluates a constant expression that must give a string
// (remoteusereval = "me@example.org").
func evalString(n pyNode) (string, bool) {
	v, err := pyEval(n, pyEnv{}, 0)
	s, ok := v.(string)
	return s, err == nil && ok
}

// evalStringList evaluates a list or tuple literal of strings
// (idlefolders, folderincludes).
func evalStringList(n pyNode) ([]string, error) {
	v, err := pyEval(n, pyEnv{}, 0)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, evalErr(n, "expected a list of folder names, not %s", typeOf(v))
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, evalErr(n, "expected a list of folder names; it holds %s", typeOf(e))
		}
		out = append(out, s)
	}
	return out, nil
}

// shellQuote quotes s for sh, leaving it bare when that is safe.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandOf recognises the usual ways of running a program for its output
// in remotepasseval and the oauth2_*_eval keys, and returns the shell
// command mailsync should run instead: subprocess.check_output(...),
// subprocess.run(..., capture_output=True).stdout, subprocess.getoutput,
// os.popen(...).read(), with .decode(), .strip() and the like after them.
// mailsync uses the first line of the output, with its line ending cut,
// which is what those trailing calls achieve for a one-line secret.
func commandOf(n pyNode) (string, error) {
	// Peel the post-processing off the outside.
	for {
		switch x := n.(type) {
		case *pyCall:
			if a, ok := x.fn.(*pyAttr); ok {
				switch a.name {
				case "strip", "rstrip", "decode", "read", "readline", "splitlines", "communicate":
					n = a.obj
					continue
				case "split":
					n = a.obj
					continue
				}
			}
			if nm, ok := x.fn.(*pyName); ok && nm.id == "str" && len(x.args) >= 1 {
				n = x.args[0]
				continue
			}
		case *pyAttr:
			if x.name == "stdout" {
				n = x.obj
				continue
			}
		case *pyIndex:
			// [0] after splitlines()/split()/communicate(), [:-1] for the
			// newline.
			n = x.obj
			continue
		}
		break
	}
	call, ok := n.(*pyCall)
	if !ok {
		return "", evalErr(n, "not a command call")
	}
	fn := dottedName(call.fn)
	switch fn {
	case "subprocess.check_output", "subprocess.run", "subprocess.Popen", "subprocess.getoutput",
		"subprocess.getstatusoutput", "commands.getoutput", "os.popen", "check_output", "getoutput":
	default:
		if fn == "" {
			fn = "this call"
		}
		return "", evalErr(call, "%s is not a command call the importer translates", fn)
	}
	if len(call.args) != 1 {
		return "", evalErr(call, "%s: expected one argument, the command", fn)
	}
	shell := fn == "subprocess.getoutput" || fn == "subprocess.getstatusoutput" || fn == "commands.getoutput" ||
		fn == "os.popen" || fn == "getoutput"
	for _, k := range call.kwargs {
		switch k.name {
		case "shell":
			v, err := pyEval(k.val, pyEnv{}, 0)
			if err != nil {
				return "", err
			}
			shell = truthy(v)
		case "text", "universal_newlines", "encoding", "errors", "capture_output", "stdout", "stderr", "check", "mode":
			// Output handling only; mailsync reads stdout as text.
		default:
			return "", evalErr(call, "%s: keyword argument %s= is not translated", fn, k.name)
		}
	}
	switch a := call.args[0].(type) {
	case *pyStr:
		// A string without shell=True would be run as one program name;
		// as a command line it can only have been meant for the shell.
		_ = shell
		return a.s, nil
	case *pyList:
		words := make([]string, 0, len(a.elems))
		for _, e := range a.elems {
			w, err := shellWord(e)
			if err != nil {
				return "", err
			}
			words = append(words, w)
		}
		if len(words) == 0 {
			return "", evalErr(a, "empty command")
		}
		if shell {
			// subprocess with shell=True and a list runs the first
			// element as the script.
			return "", evalErr(a, "a list with shell=True is not translated")
		}
		return strings.Join(words, " "), nil
	}
	return "", evalErr(call.args[0], "%s: the command must be a string or a list of strings", fn)
}

// shellWord quotes one argv element, expanding os.path.expanduser("~/…")
// the way the shell would.
func shellWord(e pyNode) (string, error) {
	if s, ok := e.(*pyStr); ok {
		return shellQuote(s.s), nil
	}
	if c, ok := e.(*pyCall); ok && dottedName(c.fn) == "os.path.expanduser" && len(c.args) == 1 {
		if s, ok := c.args[0].(*pyStr); ok {
			if rest, ok := strings.CutPrefix(s.s, "~/"); ok {
				return `"$HOME"/` + shellQuote(rest), nil
			}
			return shellQuote(s.s), nil
		}
	}
	return "", evalErr(e, "command arguments must be string literals")
}

// dottedName spells a.b.c for an attribute chain of names, "" otherwise.
func dottedName(n pyNode) string {
	switch x := n.(type) {
	case *pyName:
		return x.id
	case *pyAttr:
		if p := dottedName(x.obj); p != "" {
			return p + "." + x.name
		}
	}
	return ""
}

// hookCommandOf translates a newmail_hook: a lambda of no parameters that
// runs one command, as os.system("…") or subprocess.call/run/Popen([…]).
func hookCommandOf(n pyNode) (string, error) {
	l, ok := n.(*pyLambda)
	if !ok || len(l.params) != 0 {
		return "", evalErr(n, "expected a lambda of no parameters")
	}
	call, ok := l.body.(*pyCall)
	if !ok {
		return "", evalErr(l.body, "the hook's body is not a command call")
	}
	fn := dottedName(call.fn)
	switch fn {
	case "os.system":
		if len(call.args) == 1 {
			if s, ok := call.args[0].(*pyStr); ok && len(call.kwargs) == 0 {
				return s.s, nil
			}
		}
		return "", evalErr(call, "os.system needs one string literal")
	case "subprocess.call", "subprocess.run", "subprocess.Popen", "subprocess.check_call":
		c := *call
		c.fn = &pyAttr{call.at, &pyName{call.at, "subprocess"}, "check_output"}
		return commandOf(&c)
	}
	if fn == "" {
		fn = "this call"
	}
	return "", evalErr(call, "%s is not a command call the importer translates", fn)
}

// quoteForMsg quotes a snippet of the user's Python for a message.
func quoteForMsg(s string) string { return strconv.Quote(truncate(strings.TrimSpace(s), 60)) }
