package sync

import (
	"testing"
	"time"

	"mailsync/internal/state"
)

func TestVerifyDue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ago := func(d time.Duration) int64 { return now.Add(-d).Unix() }
	for _, tc := range []struct {
		name string
		f    *state.Folder
		want bool
	}{
		{"never synced", nil, false},
		{"first sync pending", &state.Folder{}, false},
		{"never compared (older versions)", &state.Folder{UIDValidity: 1, Created: ago(90 * 24 * time.Hour)}, true},
		{"compared an hour ago, old folder", &state.Folder{UIDValidity: 1, Created: ago(90 * 24 * time.Hour), Verified: ago(time.Hour)}, false},
		{"compared a day ago, old folder", &state.Folder{UIDValidity: 1, Created: ago(90 * 24 * time.Hour), Verified: ago(24 * time.Hour)}, true},
		{"young folder, compared 59 min ago", &state.Folder{UIDValidity: 1, Created: ago(3 * time.Hour), Verified: ago(59 * time.Minute)}, false},
		{"young folder, compared an hour ago", &state.Folder{UIDValidity: 1, Created: ago(3 * time.Hour), Verified: ago(time.Hour)}, true},
		{"unknown age, compared 2 h ago", &state.Folder{UIDValidity: 1, Verified: ago(2 * time.Hour)}, false},
	} {
		if got := verifyDue(now, tc.f); got != tc.want {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}
