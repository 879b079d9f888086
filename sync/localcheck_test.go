package sync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/dovetest"
	"mailsync/internal/faultproxy"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"

	"github.com/rs/zerolog"
)

// TestLocalCheckAfterOwnChanges: after a run that changed a folder locally,
// mailsync does not vouch for the folder's directory times. The next run
// settles the folder by comparing a listing with the state, without a
// worker connection when nothing changed, and records the times then; a
// mail client's change made right after mailsync's own (possibly in the same
// clock tick) is still found and propagated.
func TestLocalCheckAfterOwnChanges(t *testing.T) {
	srv, cfg, dir := dovecotAccount(t, "lc", "max_connections = 2")
	srv.CreateMailbox(t, "lc", "Other")
	srv.Append(t, "lc", "Other", []byte("Message-ID: <other@test>\r\nSubject: other\r\n\r\nbody\r\n"))
	ctx := context.Background()
	var dials atomic.Int32
	// The clock runs two seconds ahead, so directory times written during
	// the test count as old enough to be recorded.
	later := func() time.Time { return time.Now().Add(2 * time.Second) }
	// ahead is what each run told its dialer to open ahead of the first
	// connection's answers (Options.DialAhead).
	var ahead []int
	run := func(step string) *msync.Summary {
		t.Helper()
		dials.Store(0)
		ahead = nil
		r := runAccount(cfg, msync.Options{Now: later, DialAhead: func(n int, _ remote.Ahead, _ msync.NextAhead) {
			if n > 0 {
				ahead = append(ahead, n)
			}
		}}, func(conn msync.Remote) msync.Remote {
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

	if sum := run("first run"); sum.Counts.Pulled != 4 {
		t.Fatalf("first run pulled %d, want 4", sum.Counts.Pulled)
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
	if sum := run("second no-op"); !inbox(sum).Unchanged || dials.Load() != 1 || ahead != nil {
		t.Fatalf("second no-op: INBOX %+v, %d connections, %v opened ahead", inbox(sum), dials.Load(), ahead)
	}
	// A client marks a message read in INBOX: the first connection pushes
	// it. Then one in each folder: the directory times the state recorded
	// changed in two folders, and a second connection is opened while the
	// first one logs in.
	mf := maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
	markFirst(t, mf, "S")
	if sum := run("a client's change in one folder"); sum.Counts.FlagsUp != 1 || ahead != nil || dials.Load() != 1 {
		t.Fatalf("a client's change in one folder: %+v, %v opened ahead, %d connections; want 1 flag pushed on one connection", sum.Counts, ahead, dials.Load())
	}
	run("settling the times")
	markFirst(t, mf, "R")
	markFirst(t, maildir.Folder{Dir: filepath.Join(dir, "Mail", "Other")}, "S")
	if sum := run("a client's change in two folders"); sum.Counts.FlagsUp != 2 || len(ahead) != 1 || ahead[0] != 1 || dials.Load() != 2 {
		t.Fatalf("a client's change in two folders: %+v, %v opened ahead, %d connections; want 2 flags pushed, one connection opened ahead, two in all", sum.Counts, ahead, dials.Load())
	}

	// New mail is delivered, and a client flags a message at once, maybe
	// within the same clock tick as mailsync's last change.
	srv.Append(t, "lc", "INBOX", []byte("Message-ID: <lc3@test>\r\nSubject: 3\r\n\r\nbody 3\r\n"))
	if sum := run("pull"); sum.Counts.Pulled != 1 {
		t.Fatalf("pulled %d, want 1", sum.Counts.Pulled)
	}
	markFirst(t, mf, "F")
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

// lineSignal is a log writer that closes seen once a line holding each
// of want has been written.
type lineSignal struct {
	want []string
	once gosync.Once
	seen chan struct{}
}

func (w *lineSignal) Write(p []byte) (int, error) {
	if !slices.ContainsFunc(w.want, func(s string) bool { return !strings.Contains(string(p), s) }) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestLookAhead: a folder whose directory times changed is read while the
// first connection logs in, not after. A message delivered into it during
// the login waits for the next run, whose listing finds it: the first
// run's directory times vouch only for what it read. Nothing is lost.
func TestLookAhead(t *testing.T) {
	srv, cfg, dir := dovecotAccount(t, "la", "")
	later := func() time.Time { return time.Now().Add(2 * time.Second) }
	mf := maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
	// during, if set, runs in the dial of the run's first connection,
	// once the log says INBOX was read ahead.
	run := func(step string, during func()) msync.Counts {
		t.Helper()
		looked := &lineSignal{seen: make(chan struct{}),
			want: []string{`"message":"read the local side ahead of the connection"`, `"folder":"INBOX"`, `"unchanged":false`}}
		var dialed atomic.Bool
		rs := accounts.Run(context.Background(), accounts.Options{
			Config: cfg, Log: zerolog.New(looked).Level(zerolog.DebugLevel), Engine: msync.Options{Now: later},
			Dial: func(ctx context.Context, a *config.Account) (msync.Remote, error) {
				conn, err := accounts.Dial(ctx, a)
				if during != nil && !dialed.Swap(true) {
					select {
					case <-looked.seen:
						during()
					case <-time.After(10 * time.Second):
						t.Errorf("%s: INBOX was not read ahead of the first connection", step)
					}
				}
				return conn, err
			},
		})
		if r := rs[0]; r.Err != nil || len(r.Summary.Errors) > 0 {
			t.Fatalf("%s: %v %v", step, r.Err, r.Summary.Errors)
		}
		return rs[0].Summary.Counts
	}
	run("first run", nil)
	run("settling the times", nil)

	markFirst(t, mf, "F")
	delivered := filepath.Join(mf.Dir, "new", "1800000000.M1P1Q1.client")
	c := run("a flag, and a delivery during the login", func() {
		if err := os.WriteFile(delivered, []byte("Message-ID: <during@test>\r\nSubject: during\r\n\r\nbody\r\n"), 0o600); err != nil {
			t.Error(err)
		}
	})
	if c.FlagsUp != 1 || c.Pushed != 0 {
		t.Fatalf("first run after the changes: %+v; want the flag pushed and the delivered message left for the next run", c)
	}
	if c := run("the next run", nil); c.Pushed != 1 {
		t.Fatalf("next run: %+v; want the delivered message pushed", c)
	}
	if got := len(srv.Messages(t, "la", "INBOX")); got != 4 {
		t.Errorf("the server has %d messages in INBOX; want 4", got)
	}
}

// TestSelectAhead: a folder whose look ahead found a local change to store
// has its SELECT sent behind the first connection's login, before the
// login's answer: the proxy holds Dovecot's answers until a SELECT goes
// by, and a run that waited for them would time out. The change reaches
// the server.
func TestSelectAhead(t *testing.T) {
	const user = "sa"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	for i := range 3 {
		srv.Append(t, user, "INBOX", []byte(fmt.Sprintf("Message-ID: <sa%d@test>\r\nSubject: %d\r\n\r\nbody\r\n", i, i)))
	}
	p, err := faultproxy.Start(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dir := t.TempDir()
	cfg := accountConfig(t, dir, "127.0.0.1", p.Port(), user, srv.Password(user), extraKeys{remote: `timeout = "5s"`})
	later := func() time.Time { return time.Now().Add(2 * time.Second) }
	run := func(step string) msync.Counts {
		t.Helper()
		rs := accounts.Run(context.Background(), accounts.Options{Config: cfg, Log: zerolog.Nop(), Engine: msync.Options{Now: later}})
		if r := rs[0]; r.Err != nil || len(r.Summary.Errors) > 0 {
			t.Fatalf("%s: %v %v", step, r.Err, r.Summary.Errors)
		}
		return rs[0].Summary.Counts
	}
	run("first run")
	run("settling the times")
	mf := maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
	markFirst(t, mf, "F")
	// The latency gives the look the time it takes before the greeting
	// comes, as a real link does.
	p.SetPlan(faultproxy.First(faultproxy.Fault{HoldUntil: "SELECT", Latency: 20 * time.Millisecond}))
	if c := run("a client's flag"); c.FlagsUp != 1 {
		t.Fatalf("%+v; want the flag pushed", c)
	}
	flagged := 0
	for _, m := range srv.Messages(t, user, "INBOX") {
		if slices.Contains(m.Flags, `\Flagged`) {
			flagged++
		}
	}
	if flagged != 1 {
		t.Errorf("the server has %d flagged messages; want 1", flagged)
	}
}

// markFirst gives the first file of mf's listing flag as a mail client
// would: by renaming it into cur/.
func markFirst(t *testing.T, mf maildir.Folder, flag string) {
	t.Helper()
	entries, _, _, err := mf.Scan()
	if err != nil || len(entries) == 0 {
		t.Fatalf("scan: %d entries, %v", len(entries), err)
	}
	e := entries[0]
	n := e.Name
	n.Flags, n.HasInfo = maildir.SortFlags(n.Flags+flag), true
	if err := os.Rename(e.Path(mf.Dir), filepath.Join(mf.Dir, "cur", n.String())); err != nil {
		t.Fatal(err)
	}
}
