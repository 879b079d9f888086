package maildir

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseNameValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Name
		str  string // canonical String(); "" means same as in
	}{
		{
			name: "offlineimap",
			in:   "1700000000_0.1234.host,U=17,FMD5=abc:2,FS",
			want: Name{Key: "1700000000_0.1234.host", UID: 17, FMD5: "abc", Flags: "FS", HasInfo: true},
		},
		{
			name: "dovecot size fields",
			in:   "1700000000.M1P2.host,S=1234,W=1260:2,S",
			want: Name{Key: "1700000000.M1P2.host", Fields: []string{"S=1234", "W=1260"}, Flags: "S", HasInfo: true},
		},
		{
			name: "mutt in new without info",
			in:   "1700000000.12345_1.host",
			want: Name{Key: "1700000000.12345_1.host"},
		},
		{
			name: "empty info",
			in:   "1700000000.1.host:2,",
			want: Name{Key: "1700000000.1.host", HasInfo: true},
		},
		{
			name: "keywords after flags",
			in:   "k:2,Sab",
			want: Name{Key: "k", Flags: "S", Keywords: "ab", HasInfo: true},
		},
		{
			name: "keywords before flags are moved after them",
			in:   "k:2,aS",
			want: Name{Key: "k", Flags: "S", Keywords: "a", HasInfo: true},
			str:  "k:2,Sa",
		},
		{
			name: "keywords only",
			in:   "k:2,cb",
			want: Name{Key: "k", Keywords: "cb", HasInfo: true},
		},
		{
			name: "unsorted flags are sorted",
			in:   "k:2,SRF",
			want: Name{Key: "k", Flags: "FRS", HasInfo: true},
			str:  "k:2,FRS",
		},
		{
			name: "duplicate flags are made distinct",
			in:   "k:2,SFSFS",
			want: Name{Key: "k", Flags: "FS", HasInfo: true},
			str:  "k:2,FS",
		},
		{
			name: "U and FMD5 move after other fields",
			in:   "k,S=10,U=5,FMD5=x,W=12:2,S",
			want: Name{Key: "k", UID: 5, FMD5: "x", Fields: []string{"S=10", "W=12"}, Flags: "S", HasInfo: true},
			str:  "k,S=10,W=12,U=5,FMD5=x:2,S",
		},
		{
			name: "FMD5 before U",
			in:   "k,FMD5=x,U=5",
			want: Name{Key: "k", UID: 5, FMD5: "x"},
			str:  "k,U=5,FMD5=x",
		},
		{
			name: "empty field dropped",
			in:   "k,,S=1",
			want: Name{Key: "k", Fields: []string{"S=1"}},
			str:  "k,S=1",
		},
		{
			name: "leading zero in U",
			in:   "k,U=05",
			want: Name{Key: "k", UID: 5},
			str:  "k,U=5",
		},
		{
			name: "max uid",
			in:   "k,U=4294967295",
			want: Name{Key: "k", UID: 4294967295},
		},
		{
			name: "empty FMD5 is dropped",
			in:   "k,FMD5=",
			want: Name{Key: "k"},
			str:  "k",
		},
		{
			name: "field without equals sign is kept",
			in:   "k,foo:2,T",
			want: Name{Key: "k", Fields: []string{"foo"}, Flags: "T", HasInfo: true},
		},
		{
			name: "non-ASCII key",
			in:   "1700000000.höst:2,S",
			want: Name{Key: "1700000000.höst", Flags: "S", HasInfo: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseName(tc.in)
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseName(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			wantStr := tc.str
			if wantStr == "" {
				wantStr = tc.in
			}
			if s := got.String(); s != wantStr {
				t.Fatalf("String() = %q, want %q", s, wantStr)
			}
			again, err := ParseName(got.String())
			if err != nil {
				t.Fatalf("reparse of %q: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("reparse of %q = %#v, want %#v", got.String(), again, got)
			}
		})
	}
}

func TestParseNameInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"U zero", "k,U=0"},
		{"U empty", "k,U="},
		{"U non-numeric", "k,U=abc"},
		{"U negative", "k,U=-1"},
		{"U plus sign", "k,U=+1"},
		{"U overflow", "k,U=4294967296"},
		{"U huge", "k,U=99999999999999999999"},
		{"U twice", "k,U=1,U=2"},
		{"U twice same value", "k,U=1,U=1"},
		{"info twice", "k:2,S:2,S"},
		{"colon in info", "k:2,S:x"},
		{"experimental info", "k:1,S"},
		{"unknown info version", "k:3,S"},
		{"bare colon", "k:"},
		{"colon 2 without comma", "k:2"},
		{"empty key with fields", ",U=1"},
		{"empty key with info", ":2,S"},
		{"dot key", "."},
		{"dotdot key", ".."},
		{"dotdot key with info", "..:2,S"},
		{"slash", "a/b"},
		{"slash in info", "k:2,S/"},
		{"NUL", "a\x00b"},
		{"NUL in info", "k:2,S\x00"},
		{"digit flag", "k:2,1"},
		{"space flag", "k:2,S "},
		{"dash flag", "k:2,-"},
		{"comma in info", "k:2,S,T"},
		{"non-ASCII flag", "k:2,Sü"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseName(tc.in)
			if err == nil {
				t.Fatalf("ParseName(%q) = %#v, want error", tc.in, n)
			}
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("ParseName(%q) error %v does not wrap ErrBadName", tc.in, err)
			}
		})
	}
}

// The Maildir spec says a unique name "can be anything that doesn't contain
// a colon (or slash)"; the ':' starts the info part. A base that contains ':'
// is not something a compliant writer produces, and it is what lets
// "a,U=5,b:2:2," parse but fail to reparse after String() reorders U= (see
// TestNameStringReparses).
func TestParseNameRejectsColonInBase(t *testing.T) {
	for _, in := range []string{
		"k:1,x:2,S",    // ":1," info hidden in the base by a later ":2,"
		"a:b:2,S",      // colon in the key
		"a,b:2:2,",     // colon in a field
		"a,U=5,b:2:2,", // same, with U= before it
	} {
		if n, err := ParseName(in); err == nil {
			t.Errorf("ParseName(%q) = %#v, want error (':' in the unique part)", in, n)
		}
	}
}

// Whatever ParseName accepts, String() must render a name that parses back
// to the same value: Rename and Commit write String() to disk and the next
// Scan reads it with ParseName.
func TestNameStringReparses(t *testing.T) {
	for _, in := range []string{
		"a,U=5,b:2:2,",
		"a,FMD5=x,b:2:2,S",
	} {
		n, err := ParseName(in)
		if err != nil {
			continue // rejecting it is fine too
		}
		s := n.String()
		again, err := ParseName(s)
		if err != nil {
			t.Errorf("ParseName(%q) succeeded, but its String() %q does not parse: %v", in, s, err)
			continue
		}
		if !reflect.DeepEqual(again, n) {
			t.Errorf("ParseName(%q) = %#v; reparse of %q = %#v", in, n, s, again)
		}
	}
}

func TestNameString(t *testing.T) {
	tests := []struct {
		name string
		n    Name
		want string
	}{
		{"key only", Name{Key: "k"}, "k"},
		{"has info without flags", Name{Key: "k", HasInfo: true}, "k:2,"},
		{"flags imply info", Name{Key: "k", Flags: "S"}, "k:2,S"},
		{"keywords imply info", Name{Key: "k", Keywords: "a"}, "k:2,a"},
		{"uid and fmd5", Name{Key: "k", UID: 3, FMD5: "m"}, "k,U=3,FMD5=m"},
		{"fields first", Name{Key: "k", UID: 3, Fields: []string{"S=1"}, Flags: "RS"}, "k,S=1,U=3:2,RS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSortFlags(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"S", "S"},
		{"SF", "FS"},
		{"TSRPFD", "DFPRST"},
		{"SSS", "S"},
		{"SFSFDD", "DFS"},
		{"FS", "FS"},
	}
	for _, tc := range tests {
		if got := SortFlags(tc.in); got != tc.want {
			t.Errorf("SortFlags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFolderMD5(t *testing.T) {
	tests := []struct{ in, want string }{
		{"INBOX", "7e33429f656f1e6e9d79b29c3f82c57e"},
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"Entwürfe", "6935862f74f620598b6b2549c202aafa"}, // md5 of the UTF-8 bytes
	}
	for _, tc := range tests {
		if got := FolderMD5(tc.in); got != tc.want {
			t.Errorf("FolderMD5(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if FolderMD5("INBOX") == FolderMD5("inbox") {
		t.Error("FolderMD5 is case-insensitive; offlineimap's is not")
	}
}
