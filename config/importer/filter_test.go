package importer

import (
	"reflect"
	"strings"
	"testing"

	"mailsync/config"
)

// sampleFolders are names the filter tests run both the Python (through
// the interpreter) and the translated patterns on: a translation must
// agree with the expression on every one of them.
var sampleFolders = []string{
	"INBOX", "INBOX/Sub", "Sent", "Sent Items", "Trash", "Trash/Old", "Junk", "Spam",
	"Archive", "Archive/2009", "Archive/2010", "Archive/2019", "Archive/2021", "Lists", "Lists/go",
	"Lists/go/announce", "Drafts", "Deleted Items", "[Gmail]/Spam", "[Gmail]/Sent Mail",
	"[Gmail]/All Mail", "Project.X", "DelMe", "Entw&APw-rfe", "a", "ab", "abc",
}

func TestTranslateFilter(t *testing.T) {
	tests := []struct {
		src  string
		want []string // nil: an error is expected
		err  string   // part of the error
	}{
		{`lambda f: f in ['INBOX', 'Sent']`, []string{"INBOX", "Sent"}, ""},
		{`lambda f: f in ('INBOX',)`, []string{"INBOX"}, ""},
		{`lambda f: f in {'INBOX', 'Sent'}`, []string{"INBOX", "Sent"}, ""},
		{`lambda f: f in {'INBOX': 1, 'Sent': 2}`, []string{"INBOX", "Sent"}, ""},
		{`lambda f: f not in ['Trash', 'Junk']`, []string{"*", "!Trash", "!Junk"}, ""},
		{`lambda foldername: foldername not in ['Trash']`, []string{"*", "!Trash"}, ""},
		{`lambda f: f == 'INBOX'`, []string{"INBOX"}, ""},
		{`lambda f: 'INBOX' == f`, []string{"INBOX"}, ""},
		{`lambda f: f != 'Spam'`, []string{"*", "!Spam"}, ""},
		{`lambda f: 'Del' in f`, []string{"*Del*"}, ""},
		{`lambda f: 'Del' not in f`, []string{"*", "!*Del*"}, ""},
		{`lambda f: f.startswith('Lists/')`, []string{"Lists/*"}, ""},
		{`lambda f: f.startswith(('Lists/', 'Archive'))`, []string{"Lists/*", "Archive*"}, ""},
		{`lambda f: f.endswith('Items')`, []string{"*Items"}, ""},
		{`lambda f: not f.startswith('[Gmail]')`, []string{"*", "![Gmail]*"}, ""},
		{`lambda f: True`, []string{"*"}, ""},
		{`lambda f: False`, []string{}, ""},
		{`lambda f: not re.search('(^Trash$|Del)', f)`, []string{"*", "!Trash", "!*Del*"}, ""},
		{`lambda f: re.search('^(INBOX|Sent)$', f)`, []string{"INBOX", "Sent"}, ""},
		{`lambda f: re.match('Archive/20(0|1)', f)`, []string{"Archive/200*", "Archive/201*"}, ""},
		{`lambda f: re.fullmatch('Lists/.*', f)`, []string{"Lists/*"}, ""},
		{`lambda f: re.search('^Lists/[^/]*$', f)`, []string{"Lists/%"}, ""},
		{`lambda f: re.search('^Lists/.+', f)`, []string{"Lists/*"}, ""},
		{`lambda f: re.search(r'^\[Gmail\]/S', f)`, []string{"[Gmail]/S*"}, ""},
		{`lambda f: re.search('^Project\.X$', f) is not None`, []string{"Project.X"}, ""},
		{`lambda f: re.search('Spam', f) is None`, []string{"*", "!*Spam*"}, ""},
		{`lambda f: bool(re.search('^INBOX', f))`, []string{"INBOX*"}, ""},
		{`lambda f: f not in ['Trash'] and not re.search('^Archive/', f)`, []string{"*", "!Trash", "!Archive/*"}, ""},
		{`lambda f: f in ['INBOX', 'Sent'] or f.startswith('Lists/')`, []string{"INBOX", "Sent", "Lists/*"}, ""},
		{`lambda f: f.startswith('Lists/') and f != 'Lists/go'`, []string{"Lists/*", "!Lists/go"}, ""},
		{`lambda f: f != 'Trash' and f in ['Trash', 'Sent']`, []string{"Trash", "Sent", "!Trash"}, ""},
		{`lambda f: f not in ['Spam'] or f == 'INBOX'`, []string{"*", "!Spam", "INBOX"}, ""},
		{`lambda f: not (f in ['a'] or f in ['b'])`, []string{"*", "!a", "!b"}, ""},
		{"lambda f: f in [\n 'INBOX',\n 'Sent',\n]", []string{"INBOX", "Sent"}, ""},

		{`lambda f: len(f) < 20`, nil, "not translated"},
		{`lambda f: f.startswith('a') and f.startswith('ab')`, nil, "cannot be written"},
		{`lambda f: f not in ['a'] or f not in ['b']`, nil, "cannot be written"},
		{`lambda f: re.search('Spam', f, re.I)`, nil, "flags"},
		{`lambda f: re.search('a.c', f)`, nil, `"."`},
		{`lambda f: re.search('a+', f)`, nil, "repetition"},
		{`lambda f: re.search('[abc]', f)`, nil, "character classes"},
		{`lambda f: re.search('\\d', f)`, nil, `\d`},
		{`lambda f: re.search('a$b', f)`, nil, "after $"},
		{`lambda f: re.search('a^b', f)`, nil, "^ is only"},
		{`lambda f: f in ['a*b']`, nil, "* or %"},
		{`lambda f: f in 'INBOX Sent'`, nil, "substring"},
		{`lambda f: myfilter(f)`, nil, "pythonfile"},
		{`myfilter`, nil, "pythonfile"},
		{`lambda f: f in folders`, nil, "unknown name"},
	}
	for _, tc := range tests {
		n, err := parsePy(tc.src)
		if err != nil {
			t.Errorf("parse %q: %v", tc.src, err)
			continue
		}
		got, err := translateFilter(n)
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: want an error containing %q, got %q, %v", tc.src, tc.err, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual([]string(got), tc.want) {
			t.Errorf("%q = %q, want %q", tc.src, got, tc.want)
			continue
		}
		// The patterns must select what the expression selects.
		if len(got) == 0 {
			continue
		}
		ff, err := config.NewFolderFilter(got)
		if err != nil {
			t.Errorf("%q: patterns %q do not compile: %v", tc.src, got, err)
			continue
		}
		for _, name := range sampleFolders {
			v, err := evalLambda1(n, name)
			if err != nil {
				if _, isName := n.(*pyName); !isName {
					t.Errorf("%q on %q: %v", tc.src, name, err)
				}
				break
			}
			if truthy(v) != ff.Match(name) {
				t.Errorf("%q on %q: Python says %v, the patterns %q say %v", tc.src, name, truthy(v), got, ff.Match(name))
			}
		}
	}
}

func TestRulesAlgebra(t *testing.T) {
	pos, neg := rules{"a", "b*"}, rules{"*", "!c"}
	if r, ok := notRules(pos); !ok || !reflect.DeepEqual(r, rules{"*", "!a", "!b*"}) {
		t.Errorf("not pos = %q, %v", r, ok)
	}
	if r, ok := notRules(neg); !ok || !reflect.DeepEqual(r, rules{"c"}) {
		t.Errorf("not neg = %q, %v", r, ok)
	}
	if _, ok := notRules(rules{"a", "!b"}); ok {
		t.Error("not of a mixed list must be refused")
	}
	if r, ok := notRules(rules{}); !ok || !reflect.DeepEqual(r, rules{"*"}) {
		t.Errorf("not nothing = %q, %v", r, ok)
	}
	if r, ok := andRules(pos, neg); !ok || !reflect.DeepEqual(r, rules{"a", "b*", "!c"}) {
		t.Errorf("pos and neg = %q, %v", r, ok)
	}
	if _, ok := andRules(pos, rules{"x"}); ok {
		t.Error("pos and pos must be refused")
	}
	if r, ok := orRules(neg, pos); !ok || !reflect.DeepEqual(r, rules{"*", "!c", "a", "b*"}) {
		t.Errorf("neg or pos = %q, %v", r, ok)
	}
	if _, ok := orRules(neg, rules{"*", "!d"}); ok {
		t.Error("neg or neg must be refused")
	}
	if r, ok := orRules(rules{"*"}, rules{"a", "!b"}); !ok || !reflect.DeepEqual(r, rules{"*"}) {
		t.Errorf("all or x = %q, %v", r, ok)
	}
}
