package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"mailsync/config"
)

// The parsers take files a user wrote for another program; whatever is in
// them, the importer must not panic, and what it prints must be TOML.

func addFixtures(f *testing.F, tool string) {
	files, _ := filepath.Glob(filepath.Join("testdata", tool, "*.conf"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func checkResult(t *testing.T, res *Result, err error) {
	if err != nil {
		if _, ok := err.(*InputError); !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		return
	}
	var v map[string]any
	if _, err := toml.Decode(string(res.TOML), &v); err != nil {
		t.Fatalf("the output is not TOML: %v\n%s", err, res.TOML)
	}
}

func FuzzOfflineimap(f *testing.F) {
	addFixtures(f, "offlineimap")
	f.Add([]byte("[general]\naccounts = a\n[Account a]\nlocalrepository = l\nremoterepository = r\n[Repository l]\ntype = Maildir\nlocalfolders = ~/M\n[Repository r]\ntype = IMAP\nremotehost = h\nremoteuser = u\nremotepass = p\n"))
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Offlineimap("fuzz.conf", data, Options{Env: env})
		checkResult(t, res, err)
	})
}

func FuzzMbsync(f *testing.F) {
	addFixtures(f, "mbsync")
	f.Add([]byte("IMAPStore r\nHost h\nUser u\nPass p\n\nMaildirStore l\nPath ~/M/\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n"))
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Mbsync("fuzz.conf", data, Options{Env: env})
		checkResult(t, res, err)
	})
}

// FuzzPython runs the expression forms through every consumer, and checks
// that a folderfilter translated into patterns selects, of the sample
// folders, exactly what the expression does.
func FuzzPython(f *testing.F) {
	for _, s := range []string{
		`lambda f: f not in ['Trash'] and not re.search('^Archive/20(0|1)', f)`,
		`lambda f: {'a': 'b'}.get(f, f)`,
		`lambda f: 'x' if f in ['a', 'b'] else f.replace('c', 'd')`,
		`subprocess.check_output(["pass", "show", "x"]).strip()`,
		`lambda: os.system("notify-send mail")`,
		`lambda f: f.startswith(('Lists/', 'x')) or f == 'INBOX'`,
		`lambda f: re.sub(r'^(\w+)\.(\w+)$', r'\2/\1', f)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := parsePy(src)
		if err != nil {
			return
		}
		_, _ = commandOf(n)
		_, _ = hookCommandOf(n)
		_, _ = evalStringList(n)
		_, _ = nametransSupport(n)
		_ = undoReplace(n, "a/b")
		for _, name := range sampleFolders {
			_, _ = applyNametrans(n, name)
		}
		r, err := translateFilter(n)
		if err != nil || len(r) == 0 {
			return
		}
		ff, err := config.NewFolderFilter(r)
		if err != nil {
			t.Fatalf("%q: patterns %q: %v", src, r, err)
		}
		for _, name := range sampleFolders {
			// mailsync compares INBOX in any case, as IMAP does; Python
			// does not. The difference is mailsync's, on purpose.
			if strings.HasPrefix(strings.ToUpper(name), "INBOX") {
				continue
			}
			v, err := evalLambda1(n, name)
			if err != nil {
				return
			}
			if truthy(v) != ff.Match(name) {
				t.Fatalf("%q on %q: Python says %v, the patterns %q say %v", src, name, truthy(v), r, ff.Match(name))
			}
		}
	})
}

// FuzzRegexRules checks translated regular expressions against Go's
// regexp, which agrees with Python's on the syntax the translation takes.
func FuzzRegexRules(f *testing.F) {
	for _, s := range []string{`^(Trash|Spam)$`, `Del`, `^Archive/20(0|1)`, `^Lists/[^/]*$`, `^Lists/.+`, `\[Gmail\]`, `(^a$|b)`, `.*`} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, pat string, anchored bool) {
		r, err := regexRules(&pyStr{}, pat, anchored, false)
		if err != nil || len(r) == 0 {
			return
		}
		fn := "re.search"
		if anchored {
			fn = "re.match"
		}
		re, err := compilePyRegexp(&pyStr{}, pat, fn, 0)
		if err != nil {
			return
		}
		ff, err := config.NewFolderFilter(r)
		if err != nil {
			t.Fatalf("%q: patterns %q: %v", pat, r, err)
		}
		for _, name := range sampleFolders {
			if strings.HasPrefix(strings.ToUpper(name), "INBOX") {
				continue
			}
			if re.MatchString(name) != ff.Match(name) {
				t.Fatalf("%s(%q) on %q: regexp says %v, the patterns %q say %v", fn, pat, name, re.MatchString(name), r, ff.Match(name))
			}
		}
	})
}

// FuzzTOMLString: every string the importer writes reads back the same.
func FuzzTOMLString(f *testing.F) {
	for _, s := range []string{"plain", `pass show "x"`, `a\b`, "it's", "tab\there", "new\nline", "Entwürfe", "\x7f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var v map[string]any
		doc := "V = " + tomlString(s) + "\n[T]\n" + config.TOMLKey(s) + " = 1\n"
		if _, err := toml.Decode(doc, &v); err != nil || v["V"] != s {
			t.Fatalf("%q: written as %s, read back as %v, %v", s, doc, v, err)
		}
		if k, ok := v["T"].(map[string]any); !ok || k[s] != int64(1) {
			t.Fatalf("%q as a key: written as %s, read back as %v", s, doc, v)
		}
	})
}
