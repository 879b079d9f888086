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

	"github.com/rs/zerolog"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/dovetest"
	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

var errStoreRefused = errors.New("UID STORE refused by the test")

// refusingStore is a connection whose flag changes all fail, after the
// folder's downloads and uploads are done.
type refusingStore struct{ msync.Remote }

func (refusingStore) StoreFlags(context.Context, []remote.FlagChange, []uint32) error {
	return errStoreRefused
}

// TestRecordsKeptWhenALaterStepFails: the records of a folder's downloads
// and uploads wait for its final transaction, but a step that fails after
// them (here the flag STORE) must not lose them. When the run returns, the
// state pairs every message that was transferred, and the upload's journal
// entry is closed; the next run transfers nothing again and pushes the
// flag change that failed.
func TestRecordsKeptWhenALaterStepFails(t *testing.T) {
	for _, c := range []struct {
		name string
		// change makes the transfer, on the server or in the Maildir, and
		// returns the Message-IDs to find paired in the state.
		change         func(t *testing.T, srv *dovetest.Server, mf *maildir.Folder) []string
		pulled, pushed int
	}{
		{"downloads", func(t *testing.T, srv *dovetest.Server, _ *maildir.Folder) []string {
			var ids []string
			for i := 0; i < 2; i++ {
				id := fmt.Sprintf("<down%d@test>", i)
				srv.Append(t, "rk", "INBOX", []byte("Message-ID: "+id+"\r\nSubject: new\r\n\r\nnew body\r\n"))
				ids = append(ids, id)
			}
			return ids
		}, 2, 0},
		{"uploads", func(t *testing.T, _ *dovetest.Server, mf *maildir.Folder) []string {
			id := "<up0@test>"
			name := fmt.Sprintf("%d.M1P1Q1.client:2,S", time.Now().Unix())
			body := "Message-ID: " + id + "\nSubject: written here\n\nlocal body\n"
			if err := os.WriteFile(filepath.Join(mf.Dir, "cur", name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{id}
		}, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := dovetest.Start(t, dovetest.Options{Users: []string{"rk"}})
			for i := 0; i < 3; i++ {
				srv.Append(t, "rk", "INBOX", []byte(fmt.Sprintf("Message-ID: <rk%d@test>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i)))
			}
			dir := t.TempDir()
			cfg, err := config.Parse("rk.toml", []byte(fmt.Sprintf(`[general]
state_dir = %q
[accounts.t.remote]
host = %q
port = %d
tls = "none"
allow_plaintext = true
user = "rk"
password = %q
[accounts.t.local]
path = %q
fsync = false
`, filepath.Join(dir, "state"), srv.Host, srv.Port, srv.Password("rk"), filepath.Join(dir, "Mail"))), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			run := func(refuse bool) accounts.Result {
				rs := accounts.Run(ctx, accounts.Options{
					Config: cfg, Log: zerolog.Nop(),
					Dial: func(ctx context.Context, a *config.Account) (msync.Remote, error) {
						c, err := accounts.Dial(ctx, a)
						if err != nil || !refuse {
							return c, err
						}
						return refusingStore{c}, nil
					},
				})
				return rs[0]
			}
			if r := run(false); r.Err != nil || len(r.Summary.Errors) > 0 {
				t.Fatalf("first run: %v %v", r.Err, r.Summary.Errors)
			}

			// A local flag change, for a STORE that will fail, and the
			// transfer under test.
			mf := &maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
			entries, _, _, err := mf.Scan()
			if err != nil || len(entries) != 3 {
				t.Fatalf("scan: %d entries, %v", len(entries), err)
			}
			n := entries[0].Name
			n.Flags, n.HasInfo = maildir.SortFlags(n.Flags+"F"), true
			if _, err := mf.Rename(entries[0], n); err != nil {
				t.Fatal(err)
			}
			ids := c.change(t, srv, mf)

			r := run(true)
			if r.Err != nil || len(r.Summary.Errors) != 1 || !errors.Is(r.Summary.Errors[0], errStoreRefused) {
				t.Fatalf("run with the STORE refused: %v %v; want only the refusal", r.Err, r.Summary.Errors)
			}
			if got := r.Summary.Counts; got.Pulled != c.pulled || got.Pushed != c.pushed {
				t.Fatalf("run with the STORE refused: %+v; want %d pulled, %d pushed", got, c.pulled, c.pushed)
			}

			st, err := state.Open(ctx, filepath.Join(dir, "state", "t.db"), false)
			if err != nil {
				t.Fatal(err)
			}
			f, ok, err := st.Folder(ctx, "INBOX")
			if err != nil || !ok {
				t.Fatalf("INBOX in the state: %v %v", ok, err)
			}
			rows, err := st.Messages(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			js, err := st.Journal(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			for _, id := range ids {
				paired := false
				for _, m := range rows {
					paired = paired || (m.MessageID == id && m.UID != 0 && m.Key != "")
				}
				if !paired {
					t.Errorf("%s was transferred but is not paired in the state: %+v", id, rows)
				}
			}
			for _, j := range js {
				if j.Op == state.OpAppend {
					t.Errorf("upload journal entry left open after the upload was recorded: %+v", j)
				}
			}

			r = run(false)
			if r.Err != nil || len(r.Summary.Errors) > 0 {
				t.Fatalf("rerun: %v %v", r.Err, r.Summary.Errors)
			}
			if got := r.Summary.Counts; got.Pulled != 0 || got.Pushed != 0 || got.FlagsUp != 1 {
				t.Fatalf("rerun: %+v; want only the flag change pushed", got)
			}
			msgs := srv.Messages(t, "rk", "INBOX")
			flagged := 0
			for _, m := range msgs {
				if strings.Contains(strings.Join(m.Flags, " "), `\Flagged`) {
					flagged++
				}
			}
			if flagged != 1 || len(msgs) != 3+len(ids) {
				t.Fatalf("server: %d flagged of %d messages; want 1 of %d", flagged, len(msgs), 3+len(ids))
			}
		})
	}
}
