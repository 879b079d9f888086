package accounts

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"mailsync/internal/state"
)

func TestUnitAccount(t *testing.T) {
	for unit, want := range map[string]string{
		"mailsync-oneshot@work.service": "work",
		"mailsync@my.acct.service":      "my.acct",
		"mailsync.service":              "",
		"mailsync-oneshot.service":      "",
	} {
		if got := UnitAccount(unit); got != want {
			t.Errorf("UnitAccount(%q) = %q, want %q", unit, got, want)
		}
	}
}

// TestFailureReport: the report records the failure for status and runs
// failure_hook with MAILSYNC_UNIT and MAILSYNC_ACCOUNT, also without a
// user manager to ask.
func TestFailureReport(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	w := newWorld(t, "failer", "")
	out := filepath.Join(w.dir, "hook")
	w.cfg.General.FailureHook = "echo $MAILSYNC_UNIT $MAILSYNC_ACCOUNT > " + out
	if err := FailureReport(context.Background(), "mailsync-oneshot@t.service", FailureOptionsOf(w.cfg, zerolog.Nop())); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(out); strings.TrimSpace(string(data)) != "mailsync-oneshot@t.service t" {
		t.Errorf("failure_hook wrote %q", data)
	}
	fs, err := state.UnitFailures(w.cfg.General.StateDir)
	if err != nil || len(fs) != 1 || fs[0].Unit != "mailsync-oneshot@t.service" || fs[0].Account != "t" {
		t.Fatalf("recorded failures: %+v, %v", fs, err)
	}
	rs, err := ReadStatus(context.Background(), w.cfg, nil, nil)
	if err != nil || len(rs) != 1 || len(rs[0].Failures) != 1 {
		t.Fatalf("status of a failed unit: %+v, %v", rs, err)
	}
	// A good sync since clears it from status.
	w.add(t, "INBOX", 1)
	if r := w.open(t).Sync(context.Background(), Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatal(r.Errors())
	}
	if rs, _ := ReadStatus(context.Background(), w.cfg, nil, nil); len(rs[0].Failures) != 0 {
		t.Errorf("a failure older than the last good sync is still shown: %+v", rs[0].Failures)
	}
}
