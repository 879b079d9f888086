package test

import (
	"os"
	"strings"
	"testing"
)

// TestStatusWithoutDaemon: one-shot runs record what status shows: the
// last sync and its result, each folder, and a folder held by a safety
// stop with the command that resolves it; without a daemon the state is
// null.
func TestStatusWithoutDaemon(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if s := e.status(t); s.Daemon || len(s.Accounts) != 1 || s.Accounts[0].LastResult != "never" || s.Accounts[0].LastSync != nil {
		t.Errorf("status before any sync: %+v", s)
	}
	e.seedServer("INBOX", seeds("st", 30, 1000))
	e.seedServer("Work", seeds("stw", 2, 1000))
	e.mustSync("sync")
	s := e.status(t)
	a := s.Accounts[0]
	if s.Daemon || a.State != nil || a.LastResult != "ok" || a.LastSync == nil || a.NextSync != nil || len(a.Folders) != 2 ||
		a.Folders[0].Name != "INBOX" || a.Folders[0].Messages != 30 || a.Folders[0].Result != "ok" || a.Folders[0].LastSync == nil {
		t.Errorf("status after a sync: %+v", s)
	}

	// Most of INBOX removed locally: the mass-deletion guard stops it.
	n := 0
	for p := range e.localIDs(t, "INBOX") {
		if n++; n <= 20 {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := e.run("sync"); r.code != 1 {
		t.Fatalf("want the guard to fail the sync, got %s", r)
	}
	s = e.status(t)
	a = s.Accounts[0]
	inbox := a.Folders[0]
	if a.LastResult != "error" || a.LastError == nil || !strings.Contains(*a.LastError, "INBOX: refusing a mass deletion") ||
		inbox.Stop != "mass-delete" || inbox.Result != "error" || !strings.Contains(inbox.Resolve, "--allow-mass-delete") {
		t.Errorf("status after the guard stopped INBOX: %+v", s)
	}
	r := e.run("status")
	if r.code != 0 {
		t.Fatalf("status: %s", r)
	}
	t.Logf("mailsync status:\n%s", r.stdout)
	for _, want := range []string{
		acct + "  last sync ", " failed: INBOX stopped (see below)",
		acct + "/INBOX: stopped: refusing a mass deletion",
		"to resolve: check the folder, then: mailsync sync -a " + acct + " -f INBOX --allow-mass-delete",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status does not say %q:\n%s", want, r.stdout)
		}
	}
	if r := e.run("sync", "--allow-mass-delete"); r.code != 0 {
		t.Fatalf("sync --allow-mass-delete: %s", r)
	}
	if s := e.status(t); s.Accounts[0].LastResult != "ok" || s.Accounts[0].Folders[0].Stop != "" {
		t.Errorf("status after the deletion was allowed: %+v", s)
	}
}
