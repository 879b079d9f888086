package maildir

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseName checks that ParseName never panics and that String() is a
// canonical form: what parses once parses again, to the same Name, and
// renders identically.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"",
		"1700000000_0.1234.host,U=17,FMD5=abc:2,FS",
		"1700000000.M1P2.host,S=1234,W=1260:2,S",
		"1700000000.12345_1.host",
		"k:2,Sab",
		"k,U=1,U=2",
		"k:1,S",
		"a/b:2,S",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("ParseName(%q) error %v does not wrap ErrBadName", s, err)
			}
			return
		}
		if n.Key == "" || strings.ContainsAny(n.Key, ",/\x00") {
			t.Fatalf("ParseName(%q) key %q", s, n.Key)
		}
		if SortFlags(n.Flags) != n.Flags {
			t.Fatalf("ParseName(%q) flags %q not sorted and distinct", s, n.Flags)
		}
		out := n.String()
		again, err := ParseName(out)
		if err != nil {
			t.Fatalf("ParseName(%q) = %#v, but its String() %q does not parse: %v", s, n, out, err)
		}
		if !reflect.DeepEqual(again, n) {
			t.Fatalf("ParseName(%q) = %#v; reparse of %q = %#v", s, n, out, again)
		}
		if again.String() != out {
			t.Fatalf("String() not idempotent: %q then %q", out, again.String())
		}
	})
}
