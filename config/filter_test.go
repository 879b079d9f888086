package config

import (
	"strings"
	"testing"
)

func TestFolderFilter(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		match    []string
		noMatch  []string
	}{
		{"star matches all", []string{"*"}, []string{"INBOX", "Archive", "Archive/2024", "a/b/c", ""}, nil},
		{"nothing", nil, nil, []string{"INBOX", "x"}},
		{"percent stops at delimiter", []string{"%"}, []string{"INBOX", "Archive", ""}, []string{"Archive/2024"}},
		{"percent one level down", []string{"Archive/%"}, []string{"Archive/2024", "Archive/"}, []string{"Archive", "Archive/2024/01", "Other/2024"}},
		{"star below", []string{"Archive/*"}, []string{"Archive/2024", "Archive/2024/01"}, []string{"Archive", "ArchiveX/1"}},
		{"exact", []string{"Sent"}, []string{"Sent"}, []string{"sent", "Sent/x", "XSent"}},
		{"exclude", []string{"*", "!Spam"}, []string{"INBOX", "Spam/x"}, []string{"Spam"}},
		{"exclude subtree", []string{"*", "!Spam", "!Spam/*"}, []string{"INBOX", "Spammy"}, []string{"Spam", "Spam/x", "Spam/x/y"}},
		{"later wins: re-include", []string{"*", "!Archive/*", "Archive/2024"}, []string{"Archive/2024", "Archive"}, []string{"Archive/2023"}},
		{"later wins: exclude after include", []string{"Archive/2024", "!Archive/*"}, nil, []string{"Archive/2024"}},
		{"exclude only selects nothing", []string{"!Spam"}, nil, []string{"INBOX", "Spam"}},
		{"infix star", []string{"*/Sent*"}, []string{"a/Sent", "a/b/Sent Items", "x/Sent/y"}, []string{"Sent"}},
		{"infix percent", []string{"%/Sent%"}, []string{"a/Sent", "a/Sent Items"}, []string{"a/b/Sent", "a/Sent/x"}},
		{"mixed", []string{"%/*/x"}, []string{"a/b/x", "a/b/c/x"}, []string{"a/x", "x"}},
		{"double star", []string{"a**b"}, []string{"ab", "a/x/b"}, []string{"a"}},
		{"INBOX pattern lowercase", []string{"inbox"}, []string{"INBOX", "inbox", "Inbox"}, []string{"INBOX/x", "Inboxes"}},
		{"INBOX children", []string{"INBOX/*"}, []string{"INBOX/x", "inbox/x", "Inbox/a/b"}, []string{"INBOX", "INBOXES/x"}},
		{"INBOX children, mixed-case pattern", []string{"Inbox/%"}, []string{"INBOX/x", "inbox/y"}, []string{"INBOX/x/y", "Inbox"}},
		{"INBOX prefix star", []string{"inbox*"}, []string{"INBOX", "INBOX/x", "inboxes"}, []string{"INBOXES", "Inboxes"}},
		{"exclude INBOX case-insensitively", []string{"*", "!inbox"}, []string{"Other", "INBOX/x"}, []string{"INBOX"}},
		{"other names case-sensitive", []string{"archive/*"}, nil, []string{"Archive/2024"}},
		{"regex chars are literal", []string{"a.b", "[Gmail]/*", "x+y?"}, []string{"a.b", "[Gmail]/Sent Mail", "x+y?"}, []string{"axb", "G/x", "xy"}},
		{"unicode", []string{"Entw&APw-rfe", "Ü*"}, []string{"Entw&APw-rfe", "Übersicht", "Ü/x"}, []string{"U"}},
		{"bang bang", []string{"!!x"}, nil, []string{"!x", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFolderFilter(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.match {
				if !f.Match(n) {
					t.Errorf("%q should match %q", tt.patterns, n)
				}
			}
			for _, n := range tt.noMatch {
				if f.Match(n) {
					t.Errorf("%q should not match %q", tt.patterns, n)
				}
			}
		})
	}
}

func TestFolderFilterErrors(t *testing.T) {
	tests := []struct {
		patterns []string
		want     string
	}{
		{[]string{""}, "pattern 1 is empty"},
		{[]string{"*", "!"}, `pattern 2 is a bare "!"; write "!NAME" to exclude a folder`},
	}
	for _, tt := range tests {
		_, err := NewFolderFilter(tt.patterns)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewFolderFilter(%q) = %v, want %q", tt.patterns, err, tt.want)
		}
	}
}

func TestNilFolderFilterMatchesAll(t *testing.T) {
	var f *FolderFilter
	if !f.Match("anything/at/all") {
		t.Error("nil filter should match")
	}
}

// TestGlobMatchIsPolynomial guards against a backtracking matcher: this
// would take exponential time there.
func TestGlobMatchIsPolynomial(t *testing.T) {
	pat := strings.Repeat("*a", 50) + "b"
	name := strings.Repeat("a", 5000)
	if globMatch(pat, name) {
		t.Error("unexpected match")
	}
	pat = strings.Repeat("%a", 50) + "b"
	if globMatch(pat, name) {
		t.Error("unexpected match")
	}
}

// globRef is an obviously correct, exponential reference matcher for
// cross-checking globMatch on small inputs.
func globRef(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '%':
		for i := 0; i <= len(s); i++ {
			if i > 0 && s[i-1] == '/' {
				break
			}
			if globRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && s[0] == p[0] && globRef(p[1:], s[1:])
}

func TestGlobMatchAgainstReference(t *testing.T) {
	alphabet := []string{"a", "/", "*", "%"}
	var pats []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		pats = append(pats, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	names := []string{"", "a", "/", "aa", "a/", "/a", "a/a", "aa/a", "a//a", "a/a/a"}
	for _, p := range pats {
		for _, n := range names {
			if got, want := globMatch(p, n), globRef(p, n); got != want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", p, n, got, want)
			}
		}
	}
}
