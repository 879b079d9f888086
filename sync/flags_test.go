package sync

import (
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/maildir"
)

const flagsAll = flagDraft | flagFlagged | flagForwarded | flagAnswered | flagSeen | flagTrashed

// The six synchronised flags, written out by hand rather than read from
// flagTable so a wrong table entry shows up.
var flagsByHand = []struct {
	bit    flagSet
	letter string
	imap   imap.Flag
}{
	{flagDraft, "D", `\Draft`},
	{flagFlagged, "F", `\Flagged`},
	{flagForwarded, "P", `$Forwarded`},
	{flagAnswered, "R", `\Answered`},
	{flagSeen, "S", `\Seen`},
	{flagTrashed, "T", `\Deleted`},
}

func TestFlagsSingle(t *testing.T) {
	seen := flagSet(0)
	for _, f := range flagsByHand {
		if f.bit == 0 || seen&f.bit != 0 {
			t.Fatalf("flag %s: bit %b not distinct", f.letter, f.bit)
		}
		seen |= f.bit
		if got := parseMaildirFlags(f.letter); got != f.bit {
			t.Errorf("parseMaildirFlags(%q) = %b, want %b", f.letter, got, f.bit)
		}
		if got := f.bit.maildir(); got != f.letter {
			t.Errorf("%b.maildir() = %q, want %q", f.bit, got, f.letter)
		}
		if got := parseIMAPFlags([]imap.Flag{f.imap}); got != f.bit {
			t.Errorf("parseIMAPFlags(%q) = %b, want %b", f.imap, got, f.bit)
		}
		if got := f.bit.imap(); !reflect.DeepEqual(got, []imap.Flag{f.imap}) {
			t.Errorf("%b.imap() = %q, want %q", f.bit, got, f.imap)
		}
	}
	if seen != flagsAll {
		t.Fatalf("flags cover %b, want %b", seen, flagsAll)
	}
}

func TestParseMaildirFlags(t *testing.T) {
	tests := []struct {
		in   string
		want flagSet
	}{
		{"", 0},
		{"DFPRST", flagsAll},
		{"TSRPFD", flagsAll},
		{"SS", flagSeen},
		{"FS", flagFlagged | flagSeen},
		{"ABCEZ", 0}, // other upper-case letters are not managed
		{"abc", 0},   // keywords are not flags
		{"xSyFz", flagFlagged | flagSeen},
		{"s", 0}, // case matters in Maildir
		{"1,:", 0},
	}
	for _, tc := range tests {
		if got := parseMaildirFlags(tc.in); got != tc.want {
			t.Errorf("parseMaildirFlags(%q) = %b, want %b", tc.in, got, tc.want)
		}
	}
}

func TestFlagsRoundTripAllSets(t *testing.T) {
	for f := flagSet(0); f <= flagsAll; f++ {
		s := f.maildir()
		if parseMaildirFlags(s) != f {
			t.Errorf("maildir round trip of %b: %q -> %b", f, s, parseMaildirFlags(s))
		}
		if maildir.SortFlags(s) != s {
			t.Errorf("%b.maildir() = %q is not sorted and distinct", f, s)
		}
		if len(s) != bitCount(f) {
			t.Errorf("%b.maildir() = %q has the wrong length", f, s)
		}
		im := f.imap()
		if len(im) != bitCount(f) {
			t.Errorf("%b.imap() = %q has the wrong length", f, im)
		}
		if parseIMAPFlags(im) != f {
			t.Errorf("imap round trip of %b: %q -> %b", f, im, parseIMAPFlags(im))
		}
	}
	if got := flagSet(0).maildir(); got != "" {
		t.Errorf("empty maildir() = %q", got)
	}
	if got := flagSet(0).imap(); len(got) != 0 {
		t.Errorf("empty imap() = %q", got)
	}
}

func bitCount(f flagSet) int {
	n := 0
	for ; f != 0; f &= f - 1 {
		n++
	}
	return n
}

func TestParseIMAPFlags(t *testing.T) {
	tests := []struct {
		name string
		in   []imap.Flag
		want flagSet
	}{
		{"none", nil, 0},
		{"lower case", []imap.Flag{`\seen`, `\flagged`}, flagSeen | flagFlagged},
		{"upper case", []imap.Flag{`\SEEN`, `\ANSWERED`, `\DRAFT`, `\DELETED`}, flagSeen | flagAnswered | flagDraft | flagTrashed},
		{"keyword case", []imap.Flag{`$forwarded`}, flagForwarded},
		{"unknown ignored", []imap.Flag{`\Recent`, `$Junk`, `NonJunk`, `$MDNSent`, `\Important`, `Seen`, `Forwarded`, `\Forwarded`}, 0},
		{"mixture", []imap.Flag{`$Junk`, `\Seen`, `custom`, `$Forwarded`, `\Seen`}, flagSeen | flagForwarded},
	}
	for _, tc := range tests {
		if got := parseIMAPFlags(tc.in); got != tc.want {
			t.Errorf("%s: parseIMAPFlags(%q) = %b, want %b", tc.name, tc.in, got, tc.want)
		}
	}
	mixed := flagDraft | flagForwarded | flagTrashed
	want := []imap.Flag{`\Draft`, `$Forwarded`, `\Deleted`}
	if got := mixed.imap(); !reflect.DeepEqual(got, want) {
		t.Errorf("imap() = %q, want %q", got, want)
	}
	if got := mixed.maildir(); got != "DPT" {
		t.Errorf("maildir() = %q, want DPT", got)
	}
}

func TestMerge3TruthTable(t *testing.T) {
	// One flag: base, local, remote -> result. A side that differs from
	// base wins; if both differ they agree (a bit has two values).
	truth := []struct{ base, local, remote, want bool }{
		{false, false, false, false},
		{false, false, true, true},
		{false, true, false, true},
		{false, true, true, true},
		{true, false, false, false},
		{true, false, true, false},
		{true, true, false, false},
		{true, true, true, true},
	}
	bit := func(b bool, f flagSet) flagSet {
		if b {
			return f
		}
		return 0
	}
	for _, f := range flagsByHand {
		for _, row := range truth {
			got := merge3(bit(row.base, f.bit), bit(row.local, f.bit), bit(row.remote, f.bit))
			if got != bit(row.want, f.bit) {
				t.Errorf("merge3 %s base=%v local=%v remote=%v = %b, want %v", f.letter, row.base, row.local, row.remote, got, row.want)
			}
		}
	}
	// Every flag merges independently: check all 64^3 combinations bit by bit.
	for base := flagSet(0); base <= flagsAll; base++ {
		for local := flagSet(0); local <= flagsAll; local++ {
			for remote := flagSet(0); remote <= flagsAll; remote++ {
				got := merge3(base, local, remote)
				var want flagSet
				for _, f := range flagsByHand {
					b, l, r := base&f.bit != 0, local&f.bit != 0, remote&f.bit != 0
					for _, row := range truth {
						if row.base == b && row.local == l && row.remote == r && row.want {
							want |= f.bit
						}
					}
				}
				if got != want {
					t.Fatalf("merge3(%q, %q, %q) = %q, want %q", base.maildir(), local.maildir(), remote.maildir(), got.maildir(), want.maildir())
				}
			}
		}
	}
}

func TestMerge3Examples(t *testing.T) {
	tests := []struct{ base, local, remote, want string }{
		{"", "F", "S", "FS"},    // both add different flags
		{"S", "", "FS", "F"},    // local removes S, remote adds F
		{"S", "FS", "", "F"},    // mirror image
		{"FS", "S", "F", ""},    // each removes one
		{"S", "RS", "RS", "RS"}, // same change on both
		{"DFPRST", "", "DFPRST", ""},
		{"", "", "", ""},
	}
	for _, tc := range tests {
		got := merge3(parseMaildirFlags(tc.base), parseMaildirFlags(tc.local), parseMaildirFlags(tc.remote)).maildir()
		if got != tc.want {
			t.Errorf("merge3(%q, %q, %q) = %q, want %q", tc.base, tc.local, tc.remote, got, tc.want)
		}
	}
}

func TestWithMaildirFlags(t *testing.T) {
	tests := []struct {
		old  string
		f    flagSet
		want string
	}{
		{"", 0, ""},
		{"", flagSeen, "S"},
		{"FS", 0, ""},
		{"FS", flagAnswered | flagSeen, "RS"},
		{"ABFS", flagAnswered, "ABR"},            // unmanaged upper-case letters stay
		{"Z", flagsAll, "DFPRSTZ"},               // and are sorted in
		{"AEGZ", flagDraft | flagSeen, "ADEGSZ"}, // interleaved
		{"DFPRST", flagsAll, "DFPRST"},
	}
	for _, tc := range tests {
		if got := withMaildirFlags(tc.old, tc.f); got != tc.want {
			t.Errorf("withMaildirFlags(%q, %q) = %q, want %q", tc.old, tc.f.maildir(), got, tc.want)
		}
	}
}

// withMaildirFlags is given Name.Flags, which never holds the lower-case
// keyword letters: those live in Name.Keywords and survive a flag change
// untouched.
func TestWithMaildirFlagsKeepsKeywords(t *testing.T) {
	n, err := maildir.ParseName("k,U=1:2,XSab")
	if err != nil {
		t.Fatal(err)
	}
	if n.Flags != "SX" || n.Keywords != "ab" {
		t.Fatalf("parsed Flags %q Keywords %q", n.Flags, n.Keywords)
	}
	n.Flags = withMaildirFlags(n.Flags, flagFlagged)
	if n.Flags != "FX" {
		t.Fatalf("Flags = %q, want FX", n.Flags)
	}
	if got := n.String(); got != "k,U=1:2,FXab" {
		t.Fatalf("renamed to %q, want k,U=1:2,FXab", got)
	}
}

func TestSortLetters(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"TSRPFD", "DFPRST"},
		{"ZA", "AZ"},
		{"SAS", "ASS"}, // sorts; deduplication is the caller's job
	}
	for _, tc := range tests {
		if got := sortLetters(tc.in); got != tc.want {
			t.Errorf("sortLetters(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
