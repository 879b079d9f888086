package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestLocateKeys(t *testing.T) {
	src := `# comment [not.a.table]
top = 1 # trailing [comment]

[general]
state_dir = "x" # "quoted" = 3
"quoted key" = 'literal # not a comment'
'literal key' = "basic \" # still string"

[accounts.personal]
max_age = "90d"
dotted.key.here = true
 spaced . dotted = 1

[accounts."my.mail".remote]
host = """
multi = "line"
[fake.header]
"""
user = '''
x = 1
'''
folders = [
  "*",     # comment, with = sign
  "!Spam", 'a = b',
  [1, 2], { nested = 1 },
]
folder_map = { "[Gmail]/Sent Mail" = "Sent", a.b = "c" }
multi_inline = {
  first = 1,
  second = { third = 3 }, # TOML 1.1
}

[[arr.tables]]
x = 1
[[arr.tables]]
x = 2
y = 1979-05-27 07:32:00
z = 3
escaped = "a\"b\\"
"\u0061bc" = 1
"\x41" = 2
after = "done"
`
	kl := locateKeys(src)
	tests := []struct {
		path []string
		want int
	}{
		{[]string{"top"}, 2},
		{[]string{"not"}, 0},
		{[]string{"general"}, 4},
		{[]string{"general", "state_dir"}, 5},
		{[]string{"general", "quoted"}, 4}, // falls back to the table
		{[]string{"general", "quoted key"}, 6},
		{[]string{"general", "literal key"}, 7},
		{[]string{"accounts"}, 9},
		{[]string{"accounts", "personal"}, 9},
		{[]string{"accounts", "personal", "max_age"}, 10},
		{[]string{"accounts", "personal", "dotted"}, 11},
		{[]string{"accounts", "personal", "dotted", "key", "here"}, 11},
		{[]string{"accounts", "personal", "spaced", "dotted"}, 12},
		{[]string{"accounts", "personal", "missing"}, 9},
		{[]string{"accounts", "my.mail", "remote"}, 14},
		{[]string{"accounts", "my", "mail"}, 9},
		{[]string{"accounts", "my.mail", "remote", "host"}, 15},
		{[]string{"multi"}, 0},
		{[]string{"fake"}, 0},
		{[]string{"accounts", "my.mail", "remote", "user"}, 19},
		{[]string{"x"}, 0},
		{[]string{"accounts", "my.mail", "remote", "folders"}, 22},
		{[]string{"accounts", "my.mail", "remote", "a = b"}, 14},
		{[]string{"accounts", "my.mail", "remote", "nested"}, 14},
		{[]string{"accounts", "my.mail", "remote", "folder_map"}, 27},
		{[]string{"accounts", "my.mail", "remote", "folder_map", "[Gmail]/Sent Mail"}, 27},
		{[]string{"accounts", "my.mail", "remote", "folder_map", "a", "b"}, 27},
		{[]string{"accounts", "my.mail", "remote", "multi_inline"}, 28},
		{[]string{"accounts", "my.mail", "remote", "multi_inline", "first"}, 29},
		{[]string{"accounts", "my.mail", "remote", "multi_inline", "second", "third"}, 30},
		{[]string{"arr", "tables"}, 33},
		{[]string{"arr", "tables", "x"}, 34},
		{[]string{"arr", "tables", "y"}, 37},
		{[]string{"arr", "tables", "z"}, 38},
		{[]string{"arr", "tables", "escaped"}, 39},
		{[]string{"arr", "tables", "abc"}, 40},
		{[]string{"arr", "tables", "A"}, 41},
		{[]string{"arr", "tables", "after"}, 42},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := kl.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	checkAgainstLibrary(t, src)
}

func TestLocateKeysExplicitWins(t *testing.T) {
	src := "[a.b]\nx = 1\n\n[a]\ny = 2\n"
	kl := locateKeys(src)
	if got := kl.line([]string{"a"}); got != 4 {
		t.Errorf("[a] defined explicitly on line 4, got %d", got)
	}
	if got := kl.line([]string{"a", "b"}); got != 1 {
		t.Errorf("a.b: got %d", got)
	}
}

func TestLocateKeysCRLFAndBOM(t *testing.T) {
	src := "\ufeff[a]\r\nx = 1\r\n\r\ny = \"\"\"\r\n\r\n\"\"\"\r\nz = 2\r\n"
	kl := locateKeys(src)
	for _, tt := range []struct {
		k    string
		want int
	}{{"x", 2}, {"y", 4}, {"z", 7}} {
		if got := kl.line([]string{"a", tt.k}); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.k, got, tt.want)
		}
	}
}

func TestLocateKeysGarbage(t *testing.T) {
	// Only totality matters here: no panic, no endless loop.
	for _, src := range []string{
		"", "[", "[[", "[a", "a", "a =", `a = "`, `a = """`, "a = '''", "a = [", "a = {", "a = {b", "a = {b =",
		`"\u`, `"\uZZZZ" = 1`, `"\UFFFFFFFF" = 1`, "= 1", "a.=1", "\x00\xff", "a = [" + strings.Repeat("[", 10000),
		"a = " + strings.Repeat("{b = ", 10000),
	} {
		locateKeys(src)
	}
}

// libraryLines asks BurntSushi/toml itself where each key is, through the
// positions it attaches to errors from Unmarshaler implementations. It is
// too clumsy (and, for values, too imprecise: it points at the end of a
// multi-line string) for production use, but a good oracle.
func libraryLines(src string) (map[string]int, toml.MetaData, error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		return nil, md, err
	}
	out := map[string]int{}
	var walk func(path []string, p toml.Primitive)
	walk = func(path []string, p toml.Primitive) {
		var pe toml.ParseError
		if errors.As(md.PrimitiveDecode(p, &lineProbe{}), &pe) && pe.Position.Line > 0 {
			out[keyID(path)] = pe.Position.Line
		}
		var sub map[string]toml.Primitive
		if md.PrimitiveDecode(p, &sub) == nil {
			for k, v := range sub {
				walk(append(path[:len(path):len(path)], k), v)
			}
		}
	}
	for k, v := range top {
		walk([]string{k}, v)
	}
	return out, md, nil
}

type lineProbe struct{}

func (*lineProbe) UnmarshalTOML(any) error { return errors.New("probe") }

// checkAgainstLibrary compares locateKeys with the library's own idea of
// key positions. The library records a value's line at its end, so for
// strings (possibly multi-line) only "not after" is required.
func checkAgainstLibrary(t *testing.T, src string) {
	t.Helper()
	lib, md, err := libraryLines(src)
	if err != nil {
		return
	}
	for _, k := range md.Keys() {
		if slices.Contains(k, "") {
			// The library files an empty key's position under its
			// parent's name, so it is no oracle for such files.
			return
		}
	}
	kl := locateKeys(src)
	for id, want := range lib {
		path := strings.Split(id, "\x00")
		p, ok := kl[id]
		switch {
		case !ok:
			t.Errorf("key %q (library line %d) not found\nsource:\n%s", path, want, src)
		case md.Type(path...) == "String" && p.line <= want:
		case md.Type(path...) == "ArrayHash":
			// The library keeps the last [[header]], the locator the first.
		case p.line != want:
			t.Errorf("key %q: line %d, library says %d\nsource:\n%s", path, p.line, want, src)
		}
	}
}

func TestLocateKeysMatchesLibraryOnTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.toml")
	files2, _ := filepath.Glob("testdata/valid/*.toml")
	for _, f := range append(files, files2...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstLibrary(t, string(data))
	}
	checkAgainstLibrary(t, fullConfig)
}
