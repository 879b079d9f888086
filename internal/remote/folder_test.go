package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/dovetest"
)

// TestFoldersShareConnection: folders on one connection, each driven by
// goroutines of its own, with the same UIDs in every folder. Each gets its
// own folder's bodies, flags and UIDs, and its STOREs land in its folder:
// the SELECT that goes ahead of each unit keeps the folders apart.
func TestFoldersShareConnection(t *testing.T) {
	user := "shared"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	names := []string{"INBOX", "A", "B", "C"}
	const n = 12
	for _, name := range names {
		if name != "INBOX" {
			srv.CreateMailbox(t, user, name)
		}
		for i := range n {
			srv.Append(t, user, name, textMessage(fmt.Sprintf("%s-%02d", name, i), 3000))
		}
	}
	c := dialDovecot(t, srv, user)
	ctx := context.Background()
	boxes, err := c.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]*Status{}
	for _, b := range boxes {
		status[b.Name] = b.Status
	}

	var wg gosync.WaitGroup
	errs := make(chan error, 64)
	for _, name := range names {
		f := c.Folder()
		f.SelectLater(name, false, status[name].UIDValidity)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				uids, flags, err := f.AskChanges(ctx, true, true, 0).Wait()
				if err != nil {
					errs <- fmt.Errorf("%s: AskChanges: %w", name, err)
					return
				}
				if len(uids) != n || len(flags) != n {
					errs <- fmt.Errorf("%s: %d UIDs and %d flags; want %d", name, len(uids), len(flags), n)
				}
				sink := &collectSink{bodies: map[uint32]string{}}
				if err := f.FetchBodies(ctx, uids, sink); err != nil {
					errs <- fmt.Errorf("%s: FetchBodies: %w", name, err)
					return
				}
				for uid, body := range sink.bodies {
					if want := fmt.Sprintf("Subject: %s-%02d", name, uid-1); !containsLine(body, want) {
						errs <- fmt.Errorf("%s: UID %d is not this folder's message (%q missing)", name, uid, want)
					}
				}
				// Each folder flags its own UID round+1.
				uid := uint32(round + 1)
				if err := f.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{uid}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); err != nil {
					errs <- fmt.Errorf("%s: StoreFlags: %w", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, name := range names {
		var flagged []uint32
		for _, m := range srv.Messages(t, user, name) {
			if slices.Contains(m.Flags, `\Flagged`) {
				flagged = append(flagged, m.UID)
			}
		}
		if !slices.Equal(flagged, []uint32{1, 2, 3, 4, 5}) {
			t.Errorf("%s: flagged UIDs %v; want 1 to 5, its own STOREs", name, flagged)
		}
	}
}

func containsLine(body, line string) bool {
	for i := 0; i+len(line) <= len(body); i++ {
		if body[i:i+len(line)] == line && (i == 0 || body[i-1] == '\n') {
			return true
		}
	}
	return false
}

// TestFolderReselectChanged: a folder's SELECT, written again after
// another folder's, finds another UIDVALIDITY: what it asked fails with
// ErrSelectChanged, and its STORE is not sent.
func TestFolderReselectChanged(t *testing.T) {
	user := "reselect"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	srv.CreateMailbox(t, user, "Other")
	uid := srv.Append(t, user, "INBOX", textMessage("one", 500))
	c := dialDovecot(t, srv, user)
	ctx := context.Background()
	inbox, other := c.Folder(), c.Folder()
	if _, err := inbox.Select(ctx, "INBOX", false); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Select(ctx, "Other", false); err != nil {
		t.Fatal(err)
	}
	srv.SetUIDValidity(t, user, "INBOX", 4242)
	if _, err := inbox.FetchFlags(ctx, nil, 0); !errors.Is(err, ErrSelectChanged) {
		t.Fatalf("FetchFlags after INBOX was replaced: err = %v, want ErrSelectChanged", err)
	}
	err := inbox.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{uid}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil)
	if !errors.Is(err, ErrSelectChanged) {
		t.Fatalf("StoreFlags after INBOX was replaced: err = %v, want ErrSelectChanged", err)
	}
	time.Sleep(10 * time.Millisecond)
	if m := srv.Messages(t, user, "INBOX"); len(m) != 1 || slices.Contains(m[0].Flags, `\Flagged`) {
		t.Errorf("INBOX: %+v; want its message unflagged", m)
	}
	// The connection still serves the other folder.
	if _, err := other.FetchFlags(ctx, nil, 0); err != nil {
		t.Errorf("the other folder after the failure: %v", err)
	}
}

// TestFolderClaim: a folder that claims the connection keeps its SELECT
// current until its STORE is written: another folder's SELECT goes out
// after that STORE, not between the two, and the claiming folder selects
// once. Release lets the others go when no STORE comes, and the SELECT
// it sent for nothing is answered all the same.
func TestFolderClaim(t *testing.T) {
	user := "claim"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	for _, name := range []string{"A", "B", "C"} {
		srv.CreateMailbox(t, user, name)
		srv.Append(t, user, name, textMessage(name+"-1", 500))
	}
	var trace traceLog
	ctx := context.Background()
	c, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: 10 * time.Second,
		Trace: trace.trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	boxes, err := c.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	uv := map[string]uint32{}
	for _, b := range boxes {
		if b.Status != nil {
			uv[b.Name] = b.Status.UIDValidity
		}
	}
	folder := func(name string) *Folder {
		f := c.Folder()
		f.SelectLater(name, false, uv[name])
		return f
	}
	a, b, cf := folder("A"), folder("B"), folder("C")
	a.Claim()
	a.Preselect(ctx)
	asked := make(chan error, 1)
	go func() {
		_, _, err := b.AskChanges(ctx, true, false, 0).Wait()
		asked <- err
	}()
	select {
	case err := <-asked:
		t.Fatalf("B's questions were answered (%v) while A kept the connection's selection", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{1}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := waitAsked(t, asked); err != nil {
		t.Fatalf("B after A's STORE: %v", err)
	}
	a.Release() // a second time: nothing to let go of

	// C claims and fails before it stores: Release lets B go on.
	cf.Claim()
	cf.Preselect(ctx)
	go func() {
		_, _, err := b.AskChanges(ctx, true, false, 0).Wait()
		asked <- err
	}()
	select {
	case err := <-asked:
		t.Fatalf("B's questions were answered (%v) while C kept the connection's selection", err)
	case <-time.After(300 * time.Millisecond):
	}
	cf.Release()
	if err := waitAsked(t, asked); err != nil {
		t.Fatalf("B after C's Release: %v", err)
	}

	var seen []string
	for _, l := range trace.snapshot() {
		l, ok := strings.CutPrefix(l, "C: ") // mailsync's lines
		if !ok {
			continue
		}
		_, rest, _ := strings.Cut(l, " ")
		verb, args, _ := strings.Cut(rest, " ")
		if verb == "SELECT" || verb == "UID" && strings.HasPrefix(args, "STORE") {
			name, _, _ := strings.Cut(args, " ")
			seen = append(seen, verb+" "+strings.Trim(name, `"`))
		}
	}
	want := []string{"SELECT A", "UID STORE", "SELECT B", "SELECT C", "SELECT B"}
	if !slices.Equal(seen, want) {
		t.Errorf("the client sent %q; want %q", seen, want)
	}
	if got := srv.Messages(t, user, "A"); len(got) != 1 || !slices.Contains(got[0].Flags, `\Flagged`) {
		t.Errorf("A holds %+v; want its message flagged", got)
	}
	// C's SELECT, which nothing of C's followed, was displaced by B's:
	// its answer was read all the same. A SELECT left outstanding would
	// bound every later read by the timeout, a quiet connection's too.
	waitFor(t, func() bool { return c.pc.inflight.Load() == 0 })
}

// waitAsked waits a while for the answer on asked.
func waitAsked(t *testing.T, asked <-chan error) error {
	t.Helper()
	select {
	case err := <-asked:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("B's questions still wait: the claim was not let go")
		return nil
	}
}
