package importer

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePy(t *testing.T) {
	ok := []string{
		`lambda f: f`,
		`lambda folder: folder not in ['a', "b"] and not re.search(r'^x\.y', folder)`,
		`lambda f: {'a': 'b', 'c': 'd',}.get(f, f)`,
		`lambda f: 'x' if f == 'y' else f.replace('a', 'b', 1)`,
		"lambda f: f in [\n    'INBOX', 'Sent',\n    'Drafts']",
		`subprocess.check_output(["pass", "show", "x"]).strip().decode('utf-8')`,
		`os.popen("pass x").read()[:-1]`,
		`'''triple''' "adjacent" 'strings'`,
		`lambda: os.system("notify-send 'mail'")`,
		`(1, 2, 3)[-1]`,
		`lambda f: f[1:] + f[:1]`,
		`lambda f: f.split('/', 1)[0]`,
		`lambda f: f.lower() in {'inbox'}`,
		`lambda f: f is not None`,
	}
	for _, src := range ok {
		if _, err := parsePy(src); err != nil {
			t.Errorf("parsePy(%q): %v", src, err)
		}
	}
	bad := map[string]string{
		`lambda f: f +`:                 "unexpected end",
		`lambda f: f in [x for x in y]`: "comprehensions",
		`lambda f: f"{f}"`:              "f-strings",
		`lambda f: 'unterminated`:       "unterminated",
		`lambda f=1: f`:                 "default parameter",
		`f(*args)`:                      "unpacking",
		`lambda f: f ; import os`:       "unexpected character",
		`lambda f: f) `:                 "unexpected",
		`lambda f: (x for x in f)`:      "generator",
		`lambda f: f(a=1, 2)`:           "positional argument after",
		strings.Repeat("(", 200) + strings.Repeat(")", 200): "nested too deeply",
		strings.Repeat("not ", 200) + "f":                   "nested too deeply",
	}
	for src, want := range bad {
		if _, err := parsePy(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parsePy(%q) = %v, want an error containing %q", src, err, want)
		}
	}
}

func TestPyStrings(t *testing.T) {
	for src, want := range map[string]string{
		`'a\'b'`:           `a'b`,
		`"a\"b"`:           `a"b`,
		`r'^\[Gmail\]'`:    `^\[Gmail\]`,
		`'\d+\.x'`:         `\d+\.x`,
		`'tab\there'`:      "tab\there",
		`'\x41\u00fc\101'`: "Aü" + "A",
		`"""a"b"""`:        `a"b`,
		`'a' 'b' "c"`:      "abc",
		`u'x'`:             "x",
		`b'x'`:             "x",
		`'Entwürfe'`:       "Entwürfe",
	} {
		n, err := parsePy(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if s, ok := evalString(n); !ok || s != want {
			t.Errorf("%s = %q, want %q", src, s, want)
		}
	}
}

func TestNametrans(t *testing.T) {
	tests := []struct {
		src     string
		in, out map[string]string // name → result
		support []string          // nil: open
	}{
		{`lambda f: {'[Gmail]/Sent Mail': 'sent', '[Gmail]/Drafts': 'drafts'}.get(f, f)`,
			map[string]string{"[Gmail]/Sent Mail": "sent", "INBOX": "INBOX"}, nil, []string{"[Gmail]/Drafts", "[Gmail]/Sent Mail"}},
		{`lambda f: {'a': 'b'}.get(f) or f`, map[string]string{"a": "b", "c": "c"}, nil, []string{"a"}},
		{`lambda f: 'inbox' if f == 'INBOX' else f`, map[string]string{"INBOX": "inbox", "x": "x"}, nil, []string{"INBOX"}},
		{`lambda f: f if f not in ['A', 'B'] else f.lower()`, map[string]string{"A": "a", "C": "C"}, nil, []string{"A", "B"}},
		{`lambda f: 'x' if f in ['a'] else {'b': 'y'}.get(f, f)`, map[string]string{"a": "x", "b": "y", "c": "c"}, nil, []string{"a", "b"}},
		{`lambda f: f.replace('[Gmail]/', '')`, map[string]string{"[Gmail]/Sent Mail": "Sent Mail", "INBOX": "INBOX"}, nil, nil},
		{`lambda f: re.sub('^INBOX/', '', f)`, map[string]string{"INBOX/Lists": "Lists", "INBOX": "INBOX"}, nil, nil},
		{`lambda f: re.sub(r'^(\w+)/(\w+)$', r'\2-\1', f)`, map[string]string{"a/b": "b-a", "ab": "ab"}, nil, nil},
		{`lambda f: re.sub('a', '$x', f)`, map[string]string{"abc": "$xbc"}, nil, nil},
		{`lambda f: '[Gmail]/' + f if f in ['Sent Mail'] else f`, map[string]string{"Sent Mail": "[Gmail]/Sent Mail"}, nil, []string{"Sent Mail"}},
		{`lambda f: f.removeprefix('INBOX.').strip()`, map[string]string{"INBOX.x ": "x"}, nil, nil},
	}
	for _, tc := range tests {
		n, err := parsePy(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		for in, want := range tc.in {
			got, err := applyNametrans(n, in)
			if err != nil || got != want {
				t.Errorf("%s(%q) = %q, %v; want %q", tc.src, in, got, err, want)
			}
		}
		sup, finite := nametransSupport(n)
		if finite != (tc.support != nil) || finite && !reflect.DeepEqual(sup, tc.support) {
			t.Errorf("support of %s = %q, %v; want %q", tc.src, sup, finite, tc.support)
		}
	}
	// Failures say what failed.
	for src, want := range map[string]string{
		`lambda f: {'a': 'b'}[f]`:           "KeyError",
		`lambda f: 1`:                       "not a folder name",
		`lambda f: mytrans(f)`:              "unknown name",
		`lambda a, b: a`:                    "one parameter",
		`lambda f: f.encode()`:              "not translated",
		`lambda f: re.sub('(?=z)', 'b', f)`: "Python features",
	} {
		n, err := parsePy(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if _, err := applyNametrans(n, "z"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error containing %q, got %v", src, want, err)
		}
	}
}

func TestUndoReplace(t *testing.T) {
	n, _ := parsePy(`lambda f: f.replace('[Gmail]/', '').replace('.', '-')`)
	got := undoReplace(n, "Sent-Mail")
	want := []string{"Sent-Mail", "Sent.Mail", "[Gmail]/Sent-Mail"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("undoReplace = %q, want %q", got, want)
	}
}

func TestCommandOf(t *testing.T) {
	tests := []struct{ src, want, err string }{
		{`subprocess.check_output(["pass", "show", "mail/work"]).strip()`, "pass show mail/work", ""},
		{`subprocess.check_output(["pass", "show", "mail/my account"]).decode("utf-8").rstrip("\n")`, "pass show 'mail/my account'", ""},
		{`subprocess.check_output("pass show x | head -1", shell=True).decode().strip()`, "pass show x | head -1", ""},
		{`subprocess.run(["gpg", "-qd", os.path.expanduser("~/.pw.gpg")], capture_output=True, text=True).stdout.strip()`, `gpg -qd "$HOME"/.pw.gpg`, ""},
		{`os.popen("pass x").read()[:-1]`, "pass x", ""},
		{`os.popen('pass x').readline().strip()`, "pass x", ""},
		{`subprocess.getoutput("secret-tool lookup user me")`, "secret-tool lookup user me", ""},
		{`commands.getoutput("pass x")`, "pass x", ""},
		{`subprocess.check_output(["pass", "it's"]).splitlines()[0]`, `pass 'it'\''s'`, ""},
		{`str(subprocess.check_output(["pass", "x"]), "utf-8").strip()`, "pass x", ""},
		{`subprocess.Popen(["pass", "x"], stdout=subprocess.PIPE).communicate()[0]`, "pass x", ""},
		{`get_password("imap.example.org")`, "", "not a command call"},
		{`keyring.get_password("imap", "me")`, "", "not a command call"},
		{`subprocess.check_output(["pass", name])`, "", "string literals"},
		{`subprocess.check_output(["pass"], env={})`, "", "env="},
		{`subprocess.check_output([])`, "", "empty command"},
		{`subprocess.check_output(["a"], shell=True)`, "", "shell=True"},
		{`"just a string"`, "", "not a command call"},
	}
	for _, tc := range tests {
		n, err := parsePy(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := commandOf(n)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: want an error containing %q, got %q, %v", tc.src, tc.err, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestHookCommandOf(t *testing.T) {
	for src, want := range map[string]string{
		`lambda: os.system("notify-send 'New mail'")`:                          "notify-send 'New mail'",
		`lambda: subprocess.call(["notify-send", "New mail"])`:                 "notify-send 'New mail'",
		`lambda: subprocess.Popen(["mpv", "--really-quiet", "/tmp/ding.ogg"])`: "mpv --really-quiet /tmp/ding.ogg",
	} {
		n, err := parsePy(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := hookCommandOf(n); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
	for _, src := range []string{`lambda f: os.system("x")`, `os.system("x")`, `lambda: play()`, `lambda: os.system(cmd)`} {
		n, _ := parsePy(src)
		if got, err := hookCommandOf(n); err == nil {
			t.Errorf("%s = %q, want an error", src, got)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"pass": "pass", "mail/work": "mail/work", "a b": "'a b'", "": "''", "it's": `'it'\''s'`, "$HOME": "'$HOME'", "a=b,c:d@e": "a=b,c:d@e",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
