package sync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

// asking is a connection that counts the UID SEARCH ALL and UID FETCH FLAGS
// the engine asks for. With together set, each of the two waits (up to
// 5 s) until the other has been asked before it goes to the server: an
// engine that waits for one answer before it asks the other question
// stalls, and the stall is reported.
type asking struct {
	msync.Remote
	together bool

	mu          gosync.Mutex
	uids, flags int
	since       []uint64 // CHANGEDSINCE of each flags fetch (0: all flags)
	stalled     []string
	asked       chan struct{} // closed when both have been asked
	closed      bool          // asked is closed
}

func newAsking(conn msync.Remote, together bool) *asking {
	return &asking{Remote: conn, together: together, asked: make(chan struct{})}
}

// note counts a question; with wait, it waits for the other question.
func (a *asking) note(what string, since uint64, wait bool) {
	a.mu.Lock()
	if what == "uids" {
		a.uids++
	} else {
		a.flags++
		a.since = append(a.since, since)
	}
	if a.uids > 0 && a.flags > 0 && !a.closed {
		close(a.asked)
		a.closed = true
	}
	a.mu.Unlock()
	if !wait {
		return
	}
	select {
	case <-a.asked:
	case <-time.After(5 * time.Second):
		a.mu.Lock()
		a.stalled = append(a.stalled, what)
		a.mu.Unlock()
	}
}

func (a *asking) UIDs(ctx context.Context, since time.Time) ([]uint32, error) {
	a.note("uids", 0, a.together)
	return a.Remote.UIDs(ctx, since)
}

// AskChanges asks both questions in one call, so neither waits for the
// other's answer.
func (a *asking) AskChanges(ctx context.Context, uids, flags bool, since uint64) *remote.Changes {
	if uids {
		a.note("uids", 0, false)
	}
	if flags {
		a.note("flags", since, false)
	}
	return a.Remote.AskChanges(ctx, uids, flags, since)
}

func (a *asking) FetchFlags(ctx context.Context, uids []uint32, changedSince uint64) ([]remote.Info, error) {
	if uids == nil {
		a.note("flags", changedSince, a.together)
	}
	return a.Remote.FetchFlags(ctx, uids, changedSince)
}

// localFlags maps the Message-ID of each message in the local INBOX under
// dir to its Maildir flags, and fails the test on a duplicate.
func localFlags(t *testing.T, dir string) map[string]string {
	t.Helper()
	mf := &maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
	entries, problems, _, err := mf.Scan()
	if err != nil || len(problems) > 0 {
		t.Fatalf("scan: %v %v", problems, err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(e.Path(mf.Dir))
		if err != nil {
			t.Fatal(err)
		}
		id := remote.ParseMessageID(b)
		if _, dup := out[id]; dup {
			t.Fatalf("%s is in the local INBOX twice", id)
		}
		out[id] = e.Name.Flags
	}
	return out
}

// TestFullMergeAsksTogether: against a server without CONDSTORE, where
// every changed folder takes the full merge, the server's UIDs and flags
// are asked for in one round trip: UID SEARCH and UID FETCH FLAGS are both
// sent before either answer is awaited.
func TestFullMergeAsksTogether(t *testing.T) {
	srv, _, _ := dovecotAccount(t, "lr", "")
	p, err := faultproxy.Start(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.Set(faultproxy.Fault{StripCaps: []string{"CONDSTORE", "QRESYNC"}})
	dir := t.TempDir()
	cfg := accountConfig(t, dir, "127.0.0.1", p.Port(), "lr", srv.Password("lr"), extraKeys{})
	syncWith(t, cfg, nil)

	srv.Append(t, "lr", "INBOX", []byte("Message-ID: <new@test>\r\nSubject: new\r\n\r\nnew\r\n"))
	first := srv.Messages(t, "lr", "INBOX")[0]
	srv.AddFlags(t, "lr", "INBOX", first.UID, `\Flagged`)

	var conns []*asking
	var mu gosync.Mutex
	got := syncWith(t, cfg, func(c msync.Remote) msync.Remote {
		if c.CondStore() {
			t.Error("the proxy did not hide CONDSTORE")
		}
		a := newAsking(c, true)
		mu.Lock()
		conns = append(conns, a)
		mu.Unlock()
		return a
	})
	if got.Pulled != 1 || got.FlagsDown != 1 {
		t.Errorf("second sync: %+v; want 1 pulled, 1 flag change pulled", got)
	}
	uids, flags := 0, 0
	for _, a := range conns {
		uids, flags = uids+a.uids, flags+a.flags
		if len(a.stalled) > 0 {
			t.Errorf("%v waited for its answer before the other question was asked", a.stalled)
		}
		for _, s := range a.since {
			if s != 0 {
				t.Errorf("flags asked with CHANGEDSINCE %d from a server without CONDSTORE", s)
			}
		}
	}
	if uids != 1 || flags != 1 {
		t.Errorf("%d UID SEARCH and %d flag FETCH sent; want one each", uids, flags)
	}
	local := localFlags(t, dir)
	if _, ok := local["<new@test>"]; !ok || len(local) != 4 {
		t.Errorf("local INBOX: %v; want the 3 messages and <new@test>", local)
	}
	if f := local[first.MessageID]; f != "F" {
		t.Errorf("local flags of %s: %q; want \\Flagged pulled", first.MessageID, f)
	}
}

// TestFullMergeTakesIncrementalAnswers: when a folder planned from the
// server's changes gives way to the full merge (here, for an interrupted
// download's journal entry), the full merge uses the flags the first plan
// already fetched instead of fetching them again, and asks only for what
// it lacks. The interrupted download is then pulled once.
func TestFullMergeTakesIncrementalAnswers(t *testing.T) {
	ctx := context.Background()
	srv, cfg, dir := dovecotAccount(t, "fi", "")
	syncWith(t, cfg, nil)

	uid := srv.Append(t, "fi", "INBOX", []byte("Message-ID: <late@test>\r\nSubject: late\r\n\r\nlate\r\n"))
	// A run that journaled the download of the new message and died
	// before it delivered it.
	st, err := state.Open(ctx, filepath.Join(dir, "state", "t.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	f, ok, err := st.Folder(ctx, "INBOX")
	if err != nil || !ok {
		t.Fatalf("INBOX in the state: %v %v", ok, err)
	}
	tx, err := st.Begin(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.AddJournal(state.JournalEntry{Op: state.OpDownload, UIDs: fmt.Sprint(uid), UIDValidity: f.UIDValidity}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var conns []*asking
	var mu gosync.Mutex
	got := syncWith(t, cfg, func(c msync.Remote) msync.Remote {
		a := newAsking(c, false)
		mu.Lock()
		conns = append(conns, a)
		mu.Unlock()
		return a
	})
	if got.Pulled != 1 {
		t.Errorf("second sync: %+v; want 1 pulled", got)
	}
	uids, flags := 0, 0
	for _, a := range conns {
		uids, flags = uids+a.uids, flags+a.flags
		for _, s := range a.since {
			if s != f.HighestModSeq {
				t.Errorf("flags asked with CHANGEDSINCE %d; want the recorded %d", s, f.HighestModSeq)
			}
		}
	}
	if uids != 1 || flags != 1 {
		t.Errorf("%d UID SEARCH and %d flag FETCH sent; want one each", uids, flags)
	}
	if local := localFlags(t, dir); len(local) != 4 {
		t.Errorf("local INBOX: %v; want the 3 messages and <late@test>", local)
	}
	_, js, err := inboxState(ctx, filepath.Join(dir, "state", "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 0 {
		t.Errorf("journal left: %+v", js)
	}
}
