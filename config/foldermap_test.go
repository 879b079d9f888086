package config

import "testing"

func TestFolderMapping(t *testing.T) {
	r := &Remote{FolderMap: map[string]string{
		"A":                 "B",
		"[Gmail]/Sent Mail": "Sent",
		"X":                 "Y",
		"Y":                 "X", // a swap is fine: both directions stay one-to-one
	}}
	local := []struct{ remote, local string }{
		{"A", "B"},
		{"[Gmail]/Sent Mail", "Sent"},
		{"X", "Y"},
		{"Y", "X"},
		{"INBOX", "INBOX"},
		{"B", "B"}, // identity, although it collides (see LocalCollision)
	}
	for _, tt := range local {
		if got := r.MapToLocal(tt.remote); got != tt.local {
			t.Errorf("MapToLocal(%q) = %q, want %q", tt.remote, got, tt.local)
		}
	}
	remote := []struct {
		local, remote string
		ok            bool
	}{
		{"B", "A", true},
		{"A", "", false}, // remote A lives at local B
		{"Sent", "[Gmail]/Sent Mail", true},
		{"[Gmail]/Sent Mail", "", false},
		{"Y", "X", true},
		{"X", "Y", true},
		{"INBOX", "INBOX", true},
		{"Archive/2024", "Archive/2024", true},
	}
	for _, tt := range remote {
		got, ok := r.MapToRemote(tt.local)
		if got != tt.remote || ok != tt.ok {
			t.Errorf("MapToRemote(%q) = (%q, %v), want (%q, %v)", tt.local, got, ok, tt.remote, tt.ok)
		}
	}
	collisions := []struct {
		remote string
		want   bool
	}{
		{"B", true},    // unmapped, but local B belongs to remote A
		{"Sent", true}, // ditto for the Gmail folder
		{"A", false},   // mapped itself
		{"X", false},   // mapped (swap)
		{"INBOX", false},
		{"Sent/x", false},
	}
	for _, tt := range collisions {
		if got := r.LocalCollision(tt.remote); got != tt.want {
			t.Errorf("LocalCollision(%q) = %v, want %v", tt.remote, got, tt.want)
		}
	}
}

func TestFolderMappingEmpty(t *testing.T) {
	r := &Remote{}
	if got := r.MapToLocal("a/b"); got != "a/b" {
		t.Errorf("MapToLocal = %q", got)
	}
	if got, ok := r.MapToRemote("a/b"); got != "a/b" || !ok {
		t.Errorf("MapToRemote = %q, %v", got, ok)
	}
	if r.LocalCollision("a/b") {
		t.Error("LocalCollision on empty map")
	}
}

func TestCheckLocalName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Sent", true},
		{"Archive/2024", true},
		{"Entwürfe", true},
		{"a.b", true},
		{"...", true},
		{"current/news", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"a\x00b", false},
		{"cur", false},
		{"a/new", false},
		{"tmp/a", false},
	}
	for _, tt := range tests {
		err := checkLocalName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("checkLocalName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if checkMapKey("") == nil || checkMapKey("a\x00") == nil || checkMapKey("[Gmail]/All Mail") != nil {
		t.Error("checkMapKey")
	}
}
