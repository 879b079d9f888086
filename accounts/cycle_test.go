package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsync/internal/remote"
)

func TestCycleRecordsStatus(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "record", "")
	w.add(t, "INBOX", 2)
	a := w.open(t)
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatal(r.Errors())
	}
	st, err := a.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run, ok, err := st.LastRun(ctx)
	if err != nil || !ok || run.Result != "ok" || run.Mode != "full" || run.LastOK.IsZero() {
		t.Fatalf("after an ok cycle: %+v %v %v", run, ok, err)
	}
	fs, err := st.FolderStatuses(ctx)
	if err != nil || len(fs) != 2 || fs[0].Name != "INBOX" || fs[0].Result != "ok" || fs[0].Messages != 2 || fs[1].Name != "Work" {
		t.Fatalf("folders after an ok cycle: %+v %v", fs, err)
	}

	if err := os.RemoveAll(filepath.Join(w.dir, "Mail", "Work")); err != nil {
		t.Fatal(err)
	}
	if r := a.Sync(ctx, Cycle{Mode: ModeQuick}); !r.Failed() {
		t.Fatal("a cycle with a vanished folder did not fail")
	}
	run, _, _ = st.LastRun(ctx)
	if run.Result != "error" || !strings.HasPrefix(run.Error, "Work: local folder ") || run.Mode != "quick" || run.LastOK.IsZero() {
		t.Errorf("after a failed cycle: %+v", run)
	}
	fs, _ = st.FolderStatuses(ctx)
	if len(fs) != 2 || fs[1].Stop != "vanished" || fs[1].Result != "error" || fs[0].Result != "ok" {
		t.Errorf("folders after the failed cycle: %+v", fs)
	}
}

// TestPasswordKept: an opened account asks its password_command once for
// all its connections and cycles, and again after the server refused it.
func TestPasswordKept(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "passer", "")
	calls := filepath.Join(w.dir, "calls")
	wrong := filepath.Join(w.dir, "wrong")
	if err := os.WriteFile(wrong, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Prints "nope" while the file "wrong" exists, then "pw".
	w.password = fmt.Sprintf(`password_command = "echo >> %s; if [ -e %s ]; then echo nope; else echo pw; fi"`, calls, wrong)
	w.cfg = w.config(t, "")
	w.cfg.Accounts["t"].Remote.MaxConnections = 2
	w.add(t, "INBOX", 1)
	w.add(t, "Work", 1)
	count := func() int {
		data, _ := os.ReadFile(calls)
		return strings.Count(string(data), "\n")
	}
	a := w.open(t)
	r := a.Sync(ctx, Cycle{Mode: ModeFull})
	if !errors.Is(r.Err, remote.ErrAuth) {
		t.Fatalf("with the wrong password: %v, want ErrAuth", r.Err)
	}
	os.Remove(wrong)
	r = a.Sync(ctx, Cycle{Mode: ModeFull})
	if r.Failed() || r.Summary.Counts.Pulled != 2 {
		t.Fatalf("after the password was fixed: %v", r.Errors())
	}
	w.add(t, "INBOX", 1)
	w.add(t, "Work", 1)
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatal(r.Errors())
	}
	if n := count(); n != 2 {
		t.Errorf("password_command ran %d times; want 2: once refused, once for every later connection", n)
	}
}

// TestStoreReopened: a state file removed behind an opened account is
// not written to in the dark; the next cycle starts a new one.
func TestStoreReopened(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "reopen", "")
	w.add(t, "INBOX", 1)
	a := w.open(t)
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatal(r.Errors())
	}
	// Start afresh: the Maildir and the state go.
	for _, p := range []string{filepath.Join(w.dir, "Mail"), filepath.Join(w.dir, "state")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() || r.Summary.Counts.Pulled != 1 {
		t.Fatalf("cycle after the state was removed: %v %+v", r.Errors(), r.Summary)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "state", "t.db")); err != nil {
		t.Errorf("no new state file: %v", err)
	}
}
