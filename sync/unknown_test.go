package sync

import (
	"errors"
	"testing"
)

func TestFolderArg(t *testing.T) {
	for in, want := range map[string]string{
		"inbox": "INBOX", "Inbox": "INBOX", "INBOX": "INBOX",
		"inbox/Sub": "INBOX/Sub", "INBOXES": "INBOXES", "Sent": "Sent", "sent": "sent",
	} {
		if got := folderArg(in); got != want {
			t.Errorf("folderArg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownFolders(t *testing.T) {
	known := []string{"INBOX", "Sent", "Archive/2023", "Archive/2024", "Drafts"}
	for _, tc := range []struct {
		req  []string
		want string // "" for no error
	}{
		{[]string{"inbox", "Sent"}, ""},
		{[]string{"Snet"}, `no folder "Snet" on the server or locally; nothing was synced; the nearest: "Sent"`},
		{[]string{"Archive/2025"}, `no folder "Archive/2025" on the server or locally; nothing was synced; the nearest: "Archive/2023", "Archive/2024"`},
		{[]string{"Zzzzzzzzzz", "INBOX"}, `no folder "Zzzzzzzzzz" on the server or locally; nothing was synced`},
	} {
		err := unknownFolders(tc.req, known)
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrUnknownFolder) {
				t.Errorf("%v: %v is not ErrUnknownFolder", tc.req, err)
			}
		}
		if got != tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.req, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"Entwürfe", "Entwurfe", 1}, {"snet", "sent", 2}} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
		if d := editDistance(tc.b, tc.a); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, d, tc.d)
		}
	}
}
