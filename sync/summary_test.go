package sync

import (
	"errors"
	"testing"
	"time"
)

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		s    Summary
		want string
	}{
		{Summary{Account: "personal", Counts: Counts{Pulled: 120, Pushed: 3, FlagsDown: 12, FlagsUp: 4, DeletedDown: 5, DeletedUp: 1},
			Duration: 2100 * time.Millisecond},
			"personal: pulled 120, pushed 3, flags 12↓ 4↑, deleted 5↓ 1↑, 0 errors (2.1s)"},
		{Summary{Account: "w", Errors: []error{errors.New("x")}},
			"w: pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 1 error (0.0s)"},
		{Summary{Account: "w", Counts: Counts{Skipped: 2}, Stopped: true, Errors: []error{errors.New("x"), errors.New("y")}},
			"w: pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 2 errors, 2 skipped, stopped early (0.0s)"},
		{Summary{Account: "w", Interrupted: true, Counts: Counts{Pulled: 7}},
			"w: pulled 7, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors, interrupted (0.0s)"},
		{Summary{Account: "w", DryRun: true, Counts: Counts{Pulled: 3, Pushed: 3, FlagsUp: 1, DeletedDown: 2}},
			"w: would pull 3, push 3, flags 0↓ 1↑, delete 2↓ 0↑, 0 errors (0.0s)"},
	}
	for _, tt := range tests {
		if got := tt.s.Line(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
