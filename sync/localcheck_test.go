package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

// TestLocalCheckAfterOwnChanges: after a run that changed a folder locally,
// mailsync does not vouch for the folder's directory times. The next run
// settles the folder by comparing a listing with the state, without a
// worker connection when nothing changed, and records the times then; a
// mail client's change made right after mailsync's own (possibly in the same
// clock tick) is still found and propagated.
func TestLocalCheckAfterOwnChanges(t *testing.T) {
	srv, cfg, dir := dovecotAccount(t, "lc", "max_connections = 2")
	ctx := context.Background()
	var dials atomic.Int32
	// The clock runs two seconds ahead, so directory times written during
	// the test count as old enough to be recorded.
	later := func() time.Time { return time.Now().Add(2 * time.Second) }
	run := func(step string) *msync.Summary {
		t.Helper()
		dials.Store(0)
		r := runAccount(cfg, msync.Options{Now: later}, func(conn msync.Remote) msync.Remote {
			dials.Add(1)
			return conn
		})
		if r.Err != nil || len(r.Summary.Errors) > 0 {
			t.Fatalf("%s: %v %v", step, r.Err, r.Summary.Errors)
		}
		return r.Summary
	}
	inbox := func(sum *msync.Summary) msync.FolderResult {
		for _, f := range sum.Folders {
			if f.Folder == "INBOX" {
				return f
			}
		}
		t.Fatalf("no INBOX in %+v", sum.Folders)
		return msync.FolderResult{}
	}
	recorded := func() int64 {
		st, err := state.Open(ctx, filepath.Join(dir, "state", "t.db"), false)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		f, _, err := st.Folder(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		return f.CurMtime
	}

	if sum := run("first run"); sum.Counts.Pulled != 3 {
		t.Fatalf("first run pulled %d, want 3", sum.Counts.Pulled)
	}
	if recorded() != 0 {
		t.Errorf("directory times recorded right after mailsync's own changes")
	}
	// Nothing changed since, but mailsync itself delivered the files: a
	// listing settles the folder, with no second connection.
	if sum := run("no-op after own changes"); !inbox(sum).Unchanged || dials.Load() != 1 {
		t.Fatalf("no-op: INBOX %+v, %d connections; want unchanged and 1 connection", inbox(sum), dials.Load())
	}
	if recorded() == 0 {
		t.Errorf("directory times not recorded after a listing matched the state")
	}
	if sum := run("second no-op"); !inbox(sum).Unchanged || dials.Load() != 1 {
		t.Fatalf("second no-op: INBOX %+v, %d connections", inbox(sum), dials.Load())
	}

	// New mail is delivered, and a client flags a message at once, maybe
	// within the same clock tick as mailsync's last change.
	srv.Append(t, "lc", "INBOX", []byte("Message-ID: <lc3@test>\r\nSubject: 3\r\n\r\nbody 3\r\n"))
	if sum := run("pull"); sum.Counts.Pulled != 1 {
		t.Fatalf("pulled %d, want 1", sum.Counts.Pulled)
	}
	mf := maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
	entries, _, _, err := mf.Scan()
	if err != nil || len(entries) != 4 {
		t.Fatalf("scan: %d entries, %v", len(entries), err)
	}
	e := entries[0]
	n := e.Name
	n.Flags, n.HasInfo = maildir.SortFlags(n.Flags+"F"), true
	if err := os.Rename(e.Path(mf.Dir), filepath.Join(mf.Dir, "cur", n.String())); err != nil {
		t.Fatal(err)
	}
	if sum := run("after the client's change"); sum.Counts.FlagsUp != 1 || inbox(sum).Unchanged {
		t.Fatalf("client's flag change: %+v, want 1 flag pushed", sum.Counts)
	}
	flagged := 0
	for _, m := range srv.Messages(t, "lc", "INBOX") {
		if strings.Contains(strings.Join(m.Flags, " "), `\Flagged`) {
			flagged++
		}
	}
	if flagged != 1 {
		t.Fatalf("server has %d flagged messages, want 1", flagged)
	}
}
