package importer

import (
	"strings"
	"testing"
)

func TestParseINI(t *testing.T) {
	src := "; a comment\n" +
		"# another\n" +
		"[DEFAULT]\n" +
		"root = ~/Mail\n" +
		"Mixed = %(root)s/x\n" +
		"\n" +
		"[general]\n" +
		"accounts = a,b\n" +
		"Key: value with: colon\n" +
		"pct = 100%%\n" +
		"\n" +
		"[Repository r]\n" +
		"localfolders = %(root)s/r\n" +
		"folderfilter = lambda f: f in [\n" +
		"    'INBOX',\n" +
		"    # a comment inside is dropped\n" +
		"\n" +
		"    'Sent']\n" +
		"after = 1\n" +
		"nested = %(mixed)s/y\n" +
		"empty =\n"
	f, err := parseINI("rc", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	get := func(sec, key string) (string, int) {
		t.Helper()
		v, line, ok, err := f.get(f.byName[sec], key)
		if !ok || err != nil {
			t.Fatalf("[%s] %s: %v, %v", sec, key, ok, err)
		}
		return v, line
	}
	for _, c := range []struct {
		sec, key, want string
		line           int
	}{
		{"general", "accounts", "a,b", 8},
		{"general", "key", "value with: colon", 9},
		{"general", "pct", "100%", 10},
		{"general", "root", "~/Mail", 4}, // from DEFAULT
		{"Repository r", "localfolders", "~/Mail/r", 13},
		{"Repository r", "folderfilter", "lambda f: f in [\n'INBOX',\n\n'Sent']", 14},
		{"Repository r", "after", "1", 19},
		{"Repository r", "nested", "~/Mail/x/y", 20},
		{"Repository r", "empty", "", 21},
	} {
		if v, line := get(c.sec, c.key); v != c.want || line != c.line {
			t.Errorf("[%s] %s = %q (line %d), want %q (line %d)", c.sec, c.key, v, line, c.want, c.line)
		}
	}
	if len(f.sections) != 2 || f.sections[0].name != "general" {
		t.Errorf("sections: %v", f.sections)
	}

	// Interpolation errors come with the value's line.
	f, err = parseINI("rc", []byte("[s]\na = 50%\nb = %(missing)s\nc = %(c)s\nd = %(x\n"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a": "must be followed", "b": "not set", "c": "nested", "d": "bad interpolation"} {
		if _, _, _, err := f.get(f.byName["s"], key); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error containing %q, got %v", key, want, err)
		}
	}
}

func TestParseINIErrors(t *testing.T) {
	for src, want := range map[string]string{
		"key = value\n":                        "rc:1: file contains no section header",
		"[a]\nx = 1\n[a]\n":                    "rc:3: section [a] is defined twice",
		"[a]\nx = 1\nX = 2\n":                  "rc:3: option \"x\" is set twice",
		"[a]\njust words\n":                    "rc:2: cannot parse",
		"[a]\n= value\n":                       "rc:2: cannot parse",
		"[a]\nx = \x00\n":                      "rc:2: the line contains a NUL byte",
		"[DEFAULT]\nx = 1\n[DEFAULT]\ny = 2\n": "",
	} {
		_, err := parseINI("rc", []byte(src))
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", src, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}
