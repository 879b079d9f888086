package sync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsync/accounts"
	"mailsync/internal/dovetest"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

var errRefused = errors.New("refused by the test")

// refusing is a connection on which one kind of command fails, after the
// transfers under test: every flag STORE, or every MULTIAPPEND after the
// first.
type refusing struct {
	msync.Remote
	what    string // "store" or "second append"
	appends int
	// beforeAppend is called with the size of each MULTIAPPEND batch,
	// before it is sent.
	beforeAppend func(n int)
}

func (r *refusing) StoreFlags(ctx context.Context, changes []remote.FlagChange, expunge []uint32) error {
	if r.what == "store" {
		return errRefused
	}
	return r.Remote.StoreFlags(ctx, changes, expunge)
}

func (r *refusing) MultiAppend(ctx context.Context, mailbox string, msgs []remote.AppendMessage) ([]uint32, error) {
	r.appends++
	r.beforeAppend(len(msgs))
	if r.what == "second append" && r.appends > 1 {
		return nil, errRefused
	}
	return r.Remote.MultiAppend(ctx, mailbox, msgs)
}

// TestRecordsKeptWhenALaterStepFails: a step that fails after a folder's
// downloads or uploads (a later MULTIAPPEND, the flag STORE) must not lose
// their records. When the run returns, the state pairs every message that
// was transferred, and the journal entries of the uploads that got through
// are closed; the next run transfers none of them again and finishes what
// failed. Every upload's journal entry is committed before its MULTIAPPEND
// is sent.
func TestRecordsKeptWhenALaterStepFails(t *testing.T) {
	const uploads = 65 // a MULTIAPPEND of 64, then one of 1
	for _, c := range []struct {
		name   string
		refuse string
		// change makes the transfers (and a local flag change for the
		// STORE to refuse) and returns the Message-IDs of the messages to
		// transfer; those the failing run got through (pulled + pushed:
		// all but the refused batch) must be paired in the state.
		change func(t *testing.T, srv *dovetest.Server, mf *maildir.Folder) []string
		// the failing run's transfers, and the rerun's
		pulled, pushed, rerunPushed, rerunFlags int
		openJournal                             int // upload journal entries left by the failing run
		total                                   int // messages on the server in the end
	}{
		{"downloads, then a refused STORE", "store", func(t *testing.T, srv *dovetest.Server, mf *maildir.Folder) []string {
			flagOne(t, mf)
			var ids []string
			for i := 0; i < 2; i++ {
				id := fmt.Sprintf("<down%d@test>", i)
				srv.Append(t, "rk", "INBOX", []byte("Message-ID: "+id+"\r\nSubject: new\r\n\r\nnew body\r\n"))
				ids = append(ids, id)
			}
			return ids
		}, 2, 0, 0, 1, 0, 5},
		{"uploads, then a refused MULTIAPPEND", "second append", func(t *testing.T, _ *dovetest.Server, mf *maildir.Folder) []string {
			var ids []string
			for i := 0; i < uploads; i++ {
				id := fmt.Sprintf("<up%d@test>", i)
				name := fmt.Sprintf("%d.M%dP1Q1.client:2,S", time.Now().Unix(), i)
				body := "Message-ID: " + id + "\nSubject: written here\n\nlocal body\n"
				if err := os.WriteFile(filepath.Join(mf.Dir, "cur", name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			return ids
		}, 0, uploads - 1, 1, 0, 1, 3 + uploads},
		{"an upload, then a refused STORE", "store", func(t *testing.T, _ *dovetest.Server, mf *maildir.Folder) []string {
			flagOne(t, mf)
			name := fmt.Sprintf("%d.M1P1Q1.client:2,S", time.Now().Unix())
			if err := os.WriteFile(filepath.Join(mf.Dir, "cur", name), []byte("Message-ID: <late@test>\n\nbody\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"<late@test>"}
		}, 0, 1, 0, 1, 0, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, cfg, dir := dovecotAccount(t, "rk", "")
			ctx := context.Background()
			statePath := filepath.Join(dir, "state", "t.db")
			// Every upload must be journaled (committed) before its batch
			// is sent.
			beforeAppend := func(n int) {
				_, js, err := inboxState(ctx, statePath)
				if err != nil {
					t.Errorf("reading the state beside the run: %v", err)
					return
				}
				if open := uploadEntries(js); open < n {
					t.Errorf("a MULTIAPPEND of %d messages was sent with %d upload journal entries committed", n, open)
				}
			}
			run := func(refuse bool) accounts.Result {
				var wrap func(msync.Remote) msync.Remote
				if refuse {
					wrap = func(conn msync.Remote) msync.Remote {
						return &refusing{Remote: conn, what: c.refuse, beforeAppend: beforeAppend}
					}
				}
				return runAccount(cfg, msync.Options{}, wrap)
			}
			if r := run(false); r.Err != nil || len(r.Summary.Errors) > 0 {
				t.Fatalf("first run: %v %v", r.Err, r.Summary.Errors)
			}

			mf := &maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
			ids := c.change(t, srv, mf)

			r := run(true)
			if r.Err != nil || len(r.Summary.Errors) != 1 || !errors.Is(r.Summary.Errors[0], errRefused) {
				t.Fatalf("run with a refusal: %v %v; want only the refusal", r.Err, r.Summary.Errors)
			}
			if got := r.Summary.Counts; got.Pulled != c.pulled || got.Pushed != c.pushed {
				t.Fatalf("run with a refusal: %+v; want %d pulled, %d pushed", got, c.pulled, c.pushed)
			}

			rows, js, err := inboxState(ctx, statePath)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, id := range ids {
				want[id] = true
			}
			paired := 0
			for _, m := range rows {
				if want[m.MessageID] && m.UID != 0 && m.Key != "" {
					paired++
				}
			}
			if paired != c.pulled+c.pushed {
				t.Errorf("%d of the %d messages transferred are paired in the state", paired, c.pulled+c.pushed)
			}
			for _, j := range js {
				for _, m := range rows {
					if j.Op == state.OpAppend && j.Key == m.Key {
						t.Errorf("upload journal entry left open after the upload was recorded: %+v", j)
					}
				}
			}
			if open := uploadEntries(js); open != c.openJournal {
				t.Errorf("%d upload journal entries left open, want %d", open, c.openJournal)
			}

			r = run(false)
			if r.Err != nil || len(r.Summary.Errors) > 0 {
				t.Fatalf("rerun: %v %v", r.Err, r.Summary.Errors)
			}
			if got := r.Summary.Counts; got.Pulled != 0 || got.Pushed != c.rerunPushed || got.FlagsUp != c.rerunFlags {
				t.Fatalf("rerun: %+v; want nothing pulled, %d pushed, %d flag changes pushed", got, c.rerunPushed, c.rerunFlags)
			}
			msgs := srv.Messages(t, "rk", "INBOX")
			flagged, mids := 0, map[string]bool{}
			for _, m := range msgs {
				if strings.Contains(strings.Join(m.Flags, " "), `\Flagged`) {
					flagged++
				}
				mids[m.MessageID] = true
			}
			if flagged != c.rerunFlags || len(msgs) != c.total || len(mids) != c.total {
				t.Fatalf("server: %d flagged of %d messages (%d Message-IDs); want %d of %d, no duplicates",
					flagged, len(msgs), len(mids), c.rerunFlags, c.total)
			}
		})
	}
}

// flagOne flags the folder's first message locally, as a mail client would.
func flagOne(t *testing.T, mf *maildir.Folder) {
	t.Helper()
	entries, _, _, err := mf.Scan()
	if err != nil || len(entries) == 0 {
		t.Fatalf("scan: %d entries, %v", len(entries), err)
	}
	n := entries[0].Name
	n.Flags, n.HasInfo = maildir.SortFlags(n.Flags+"F"), true
	if _, err := mf.Rename(entries[0], n); err != nil {
		t.Fatal(err)
	}
}

// inboxState reads INBOX's pairs and journal from the state at path,
// through a connection of its own (a run may have the state open).
func inboxState(ctx context.Context, path string) ([]state.Message, []state.JournalEntry, error) {
	st, err := state.Open(ctx, path, false)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	f, ok, err := st.Folder(ctx, "INBOX")
	if err != nil || !ok {
		return nil, nil, fmt.Errorf("INBOX in the state: %v %v", ok, err)
	}
	rows, err := st.Messages(ctx, f.ID)
	if err != nil {
		return nil, nil, err
	}
	js, err := st.Journal(ctx, f.ID)
	return rows, js, err
}

// uploadEntries counts the upload entries of a journal.
func uploadEntries(js []state.JournalEntry) int {
	n := 0
	for _, j := range js {
		if j.Op == state.OpAppend {
			n++
		}
	}
	return n
}
