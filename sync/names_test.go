package sync

import (
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	tests := []struct {
		remote string
		delim  rune
		want   string // "" means an error is expected
	}{
		{"INBOX", '.', "INBOX"},
		{"inbox", '.', "INBOX"},
		{"Inbox", '/', "INBOX"},
		{"iNbOx", 0, "INBOX"},
		{"Inbox.Sub", '.', "INBOX/Sub"},
		{"inbox.a.b", '.', "INBOX/a/b"},
		{"inbox/Sub", '/', "INBOX/Sub"},
		{"INBOXfoo", '.', "INBOXfoo"},
		{"MyInbox", '.', "MyInbox"},
		{"Archive.2024", '.', "Archive/2024"},
		{"Archive.2024.Q1", '.', "Archive/2024/Q1"},
		{"Archive/2024", '/', "Archive/2024"},
		{"a.b", '/', "a.b"},
		{"a.b", 0, "a.b"},
		{"Entwürfe.日本語", '.', "Entwürfe/日本語"},
		{"Sent Items", '.', "Sent Items"},
		{`A\B`, '\\', "A/B"},
		{"a/b", '.', ""},
		{"a/b.c", '.', ""},
		{"inbox/x", '.', ""},
		{"a/b", '\\', ""},
		// A flat server has no delimiter; '/' is kept as is. (The engine
		// uses the server's listed name for such a folder, not remoteName.)
		{"a/b", 0, "a/b"},
	}
	for _, tc := range tests {
		got, err := canonicalName(tc.remote, tc.delim)
		if tc.want == "" {
			if err == nil {
				t.Errorf("canonicalName(%q, %q) = %q, want error", tc.remote, tc.delim, got)
			} else if !strings.Contains(err.Error(), tc.remote) {
				t.Errorf("canonicalName(%q, %q) error %q does not name the folder", tc.remote, tc.delim, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("canonicalName(%q, %q) = %q, %v; want %q", tc.remote, tc.delim, got, err, tc.want)
		}
	}
}

func TestRemoteName(t *testing.T) {
	tests := []struct {
		canonical string
		delim     rune
		want      string // "" means an error is expected
	}{
		{"INBOX", '.', "INBOX"},
		{"INBOX/Sub", '.', "INBOX.Sub"},
		{"A/B/C", '.', "A.B.C"},
		{"Entwürfe/日本語", '.', "Entwürfe.日本語"},
		{"A/B", '/', "A/B"},
		{"a.b", '/', "a.b"},
		{"A", 0, "A"},
		{"a.b", 0, "a.b"},
		{"A/B", '\\', `A\B`},
		{"a.b", '.', ""},
		{"a.b/c", '.', ""},
		{"x/a.b", '.', ""},
		{`a\b`, '\\', ""},
		{"A/B", 0, ""},
	}
	for _, tc := range tests {
		got, err := remoteName(tc.canonical, tc.delim)
		if tc.want == "" {
			if err == nil {
				t.Errorf("remoteName(%q, %q) = %q, want error", tc.canonical, tc.delim, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("remoteName(%q, %q) = %q, %v; want %q", tc.canonical, tc.delim, got, err, tc.want)
		}
	}
}

var namesDelims = []rune{'.', '/', '\\', 0}

// Every canonical name that remoteName accepts comes back unchanged.
func TestNamesCanonicalRoundTrip(t *testing.T) {
	canon := []string{
		"INBOX", "INBOX/Sub", "INBOX/a/b", "A", "A/B", "A/B/C", "a.b", "a.b/c",
		"Entwürfe/日本語", "Sent Items", `a\b`, "INBOXfoo", "x/INBOX",
	}
	for _, c := range canon {
		for _, d := range namesDelims {
			r, err := remoteName(c, d)
			if err != nil {
				continue
			}
			back, err := canonicalName(r, d)
			if err != nil || back != c {
				t.Errorf("delim %q: %q -> remote %q -> %q, %v", d, c, r, back, err)
			}
		}
	}
}

// Every server name that canonicalName accepts on a server with a delimiter
// maps back to the same server name, except that INBOX is spelled in upper
// case.
func TestNamesRemoteRoundTrip(t *testing.T) {
	remote := []string{
		"INBOX", "inbox", "Inbox.Sub", "inbox/Sub", "A", "A.B", "A/B", `A\B`, "a.b.c",
		"Entwürfe.日本語", "Sent Items", "INBOXfoo", "x.inbox", "x/inbox",
	}
	for _, r := range remote {
		for _, d := range []rune{'.', '/', '\\'} {
			c, err := canonicalName(r, d)
			if err != nil {
				continue
			}
			want := r
			first, rest, found := strings.Cut(r, string(d))
			if strings.EqualFold(first, "INBOX") {
				want = "INBOX"
				if found {
					want += string(d) + rest
				}
			}
			back, err := remoteName(c, d)
			if err != nil || back != want {
				t.Errorf("delim %q: %q -> canonical %q -> %q, %v; want %q", d, r, c, back, err, want)
			}
		}
	}
}
