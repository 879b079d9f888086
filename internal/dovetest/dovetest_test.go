package dovetest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsync/internal/mutf7"
)

func msg(id, body string) []byte {
	return []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: test " + id +
		"\r\nMessage-ID: <" + id + "@example.org>\r\n\r\n" + body + "\r\n")
}

func login(t *testing.T, s *Server, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, s.Password(user)).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStartAndIMAPLogin(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	s := Start(t, Options{})
	t.Logf("started in %v on %s", time.Since(t0), s.Addr())

	if s.Host != "127.0.0.1" || s.Port == 0 || s.Addr() != fmt.Sprintf("127.0.0.1:%d", s.Port) {
		t.Fatalf("bad address %q", s.Addr())
	}
	if s.Password("alice") != "secret-alice" {
		t.Fatalf("password %q", s.Password("alice"))
	}
	for _, p := range []string{s.ConfigPath, s.LogPath, s.MailDir("alice")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}

	c := login(t, s, "alice")
	defer c.Close()
	// mailsync's incremental sync relies on these.
	for _, capa := range []imap.Cap{imap.CapCondStore, imap.CapQResync, imap.CapUIDPlus, imap.CapEnable, imap.CapListStatus, imap.CapESearch} {
		if !c.Caps().Has(capa) {
			t.Errorf("server lacks %s; caps %v", capa, c.Caps())
		}
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.UIDValidity == 0 || sel.HighestModSeq == 0 {
		t.Errorf("SELECT: uidvalidity=%d highestmodseq=%d", sel.UIDValidity, sel.HighestModSeq)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Error(err)
	}
}

func TestWrongPasswordIsFast(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	for i := 0; i < 3; i++ {
		c, err := imapclient.DialInsecure(s.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := c.Login("alice", "wrong").Wait(); err == nil {
			t.Fatal("login with wrong password succeeded")
		}
		// Dovecot batches auth failures on a 0.5s timer. The penalty we
		// disable would make the second attempt take 4s, the third 8s.
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("failed login %d took %v; auth penalty not disabled", i, d)
		}
		c.Close()
	}
	// The penalty would also delay the next correct login, by 15s.
	t0 := time.Now()
	c := login(t, s, "alice")
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("login after failures took %v", d)
	}
	_ = c.Logout().Wait()
	c.Close()
}

func TestAppendAndMessages(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})

	m1 := msg("one", "hello")
	uid1 := s.Append(t, "alice", "INBOX", m1, `\Seen`, `$Forwarded`, `\Flagged`)
	// Bare LF, no trailing newline, a form feed and a folded Message-ID:
	// the things that break naive parsing of doveadm output.
	m2 := []byte("Subject: two\nMessage-ID:\n  <two@example.org>\n\nline\f\nuid: 7\n\f\nno newline")
	uid2 := s.Append(t, "alice", "INBOX", m2)
	m3 := []byte("Subject: no id\r\n\r\nbody\r\n")
	uid3 := s.Append(t, "alice", "INBOX", m3, "$Label1")
	if uid1 != 1 || uid2 != 2 || uid3 != 3 {
		t.Fatalf("uids %d %d %d", uid1, uid2, uid3)
	}
	// Same content twice is legal and must still get its own UID.
	if uid4 := s.Append(t, "alice", "INBOX", m1); uid4 != 4 {
		t.Fatalf("uid4 = %d", uid4)
	}
	s.Expunge(t, "alice", "INBOX", 4)

	want := []Message{
		{UID: 1, Flags: []string{`\Flagged`, `\Seen`, `$Forwarded`}, MessageID: "<one@example.org>", Size: int64(len(m1))},
		{UID: 2, Flags: []string{}, MessageID: "<two@example.org>", Size: int64(len(toCRLF(m2)))},
		{UID: 3, Flags: []string{"$Label1"}, MessageID: "", Size: int64(len(m3))},
	}
	if got := s.Messages(t, "alice", "INBOX"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Messages:\n got %+v\nwant %+v", got, want)
	}
	want[0].Body, want[1].Body, want[2].Body = m1, toCRLF(m2), m3
	got := s.MessagesWithBodies(t, "alice", "INBOX")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MessagesWithBodies:\n got %+v\nwant %+v", got, want)
	}

	// Body must be what an IMAP client gets for BODY[].
	c := login(t, s, "alice")
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{
		UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		var body []byte
		for _, b := range m.BodySection {
			body = b.Bytes
		}
		if !bytes.Equal(body, got[i].Body) || m.RFC822Size != got[i].Size {
			t.Errorf("uid %d: IMAP size %d body %q; doveadm size %d body %q", m.UID, m.RFC822Size, body, got[i].Size, got[i].Body)
		}
	}
	_ = c.Logout().Wait()

	// Append creates missing mailboxes, including non-ASCII ones.
	if uid := s.Append(t, "alice", "Entwürfe", msg("draft", "x"), `\Draft`); uid != 1 {
		t.Fatalf("uid in new mailbox = %d", uid)
	}
	if got := s.Messages(t, "alice", "Entwürfe"); len(got) != 1 || got[0].Flags[0] != `\Draft` {
		t.Fatalf("Entwürfe: %+v", got)
	}
}

func TestAppendConcurrentWithIMAP(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := login(t, s, "alice")
	defer c.Close()
	done := make(chan error)
	go func() {
		for i := 0; i < 20; i++ {
			m := msg(fmt.Sprintf("imap%d", i), "x")
			cmd := c.Append("INBOX", int64(len(m)), nil)
			cmd.Write(m)
			cmd.Close()
			if _, err := cmd.Wait(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	seen := map[uint32]bool{}
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("adm%d", i)
		uid := s.Append(t, "alice", "INBOX", msg(id, "y"))
		if seen[uid] {
			t.Fatalf("uid %d returned twice", uid)
		}
		seen[uid] = true
		for _, m := range s.Messages(t, "alice", "INBOX") {
			if m.UID == uid && m.MessageID != "<"+id+"@example.org>" {
				t.Fatalf("Append returned uid %d which is %s, not %s", uid, m.MessageID, id)
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStatusFlagsExpunge(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	uid := s.Append(t, "alice", "INBOX", msg("a", "a"))
	s.Append(t, "alice", "INBOX", msg("b", "b"))

	st := s.Status(t, "alice", "INBOX")
	if st.Messages != 2 || st.UIDNext != 3 || st.UIDValidity == 0 || st.HighestModSeq == 0 {
		t.Fatalf("status %+v", st)
	}

	s.AddFlags(t, "alice", "INBOX", uid, `\Seen`, `\Answered`, "$Junk", "custom")
	if got := s.Messages(t, "alice", "INBOX")[0].Flags; !reflect.DeepEqual(got, []string{`\Answered`, `\Seen`, "$Junk", "custom"}) {
		t.Fatalf("flags after add: %q", got)
	}
	st2 := s.Status(t, "alice", "INBOX")
	if st2.HighestModSeq <= st.HighestModSeq {
		t.Fatalf("flag change did not bump HIGHESTMODSEQ: %d -> %d", st.HighestModSeq, st2.HighestModSeq)
	}
	s.RemoveFlags(t, "alice", "INBOX", uid, `\Seen`, "custom")
	if got := s.Messages(t, "alice", "INBOX")[0].Flags; !reflect.DeepEqual(got, []string{`\Answered`, "$Junk"}) {
		t.Fatalf("flags after remove: %q", got)
	}

	s.Expunge(t, "alice", "INBOX", uid)
	got := s.Messages(t, "alice", "INBOX")
	if len(got) != 1 || got[0].UID != 2 {
		t.Fatalf("after expunge: %+v", got)
	}
	if st := s.Status(t, "alice", "INBOX"); st.Messages != 1 || st.UIDNext != 3 {
		t.Fatalf("status after expunge %+v", st)
	}
}

func TestMailboxOps(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"alice", "bob"}})
	for _, n := range []string{"Entwürfe", "日本語", "With Space", "Archive.2024", "a&b"} {
		s.CreateMailbox(t, "alice", n)
	}
	// "Archive" exists only implicitly as the parent of "Archive.2024".
	want := []string{"Archive.2024", "Entwürfe", "INBOX", "With Space", "a&b", "日本語"}
	if got := s.Mailboxes(t, "alice"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Mailboxes = %q, want %q", got, want)
	}
	if got := s.Mailboxes(t, "bob"); !reflect.DeepEqual(got, []string{"INBOX"}) {
		t.Fatalf("bob's mailboxes = %q", got)
	}
	for _, n := range want {
		if _, err := os.Stat(filepath.Join(s.MailboxDir("alice", n), "cur")); err != nil {
			t.Errorf("MailboxDir(%q): %v", n, err)
		}
	}

	s.Append(t, "alice", "Entwürfe", msg("d", "d"))
	s.RenameMailbox(t, "alice", "Entwürfe", "Entwürfe alt")
	s.DeleteMailbox(t, "alice", "日本語")
	s.DeleteMailbox(t, "alice", "With Space")
	want = []string{"Archive.2024", "Entwürfe alt", "INBOX", "a&b"}
	if got := s.Mailboxes(t, "alice"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Mailboxes = %q, want %q", got, want)
	}
	if got := s.Messages(t, "alice", "Entwürfe alt"); len(got) != 1 || got[0].MessageID != "<d@example.org>" {
		t.Fatalf("renamed mailbox lost its message: %+v", got)
	}

	// IMAP sees the same names.
	c := login(t, s, "alice")
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	if got := strings.Join(names, "|"); !strings.Contains(got, "Entwürfe alt") || !strings.Contains(got, "Archive.2024") {
		t.Errorf("IMAP LIST: %q", names)
	}
	_ = c.Logout().Wait()
}

func TestSeparators(t *testing.T) {
	t.Parallel()
	for _, sep := range []string{".", "/"} {
		t.Run(map[string]string{".": "dot", "/": "slash"}[sep], func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{Separator: sep})
			nested := "A" + sep + "B"
			other := map[string]string{".": "x/y", "/": "Archive.2024"}[sep] // the other separator is just a character
			s.CreateMailbox(t, "alice", nested)
			uid := s.Append(t, "alice", other, msg("o", "o"))
			s.Append(t, "alice", nested+sep+"Ünter", msg("u", "u"))
			want := []string{nested, nested + sep + "Ünter", "INBOX", other}
			sort.Strings(want)
			if got := s.Mailboxes(t, "alice"); !reflect.DeepEqual(got, want) {
				t.Fatalf("Mailboxes = %q, want %q", got, want)
			}
			if m := s.Messages(t, "alice", other); len(m) != 1 || m[0].UID != uid {
				t.Fatalf("Messages(%q) = %+v", other, m)
			}
			for _, n := range want {
				if _, err := os.Stat(filepath.Join(s.MailboxDir("alice", n), "cur")); err != nil {
					t.Errorf("MailboxDir(%q): %v", n, err)
				}
			}

			c := login(t, s, "alice")
			defer c.Close()
			list, err := c.List("", "*", nil).Collect()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, l := range list {
				if string(l.Delim) != sep {
					t.Errorf("LIST delimiter %q for %q", l.Delim, l.Mailbox)
				}
				got[l.Mailbox] = true
			}
			for _, n := range want {
				if !got[n] {
					t.Errorf("IMAP LIST lacks %q: %v", n, got)
				}
			}
			_ = c.Logout().Wait()
		})
	}
}

func TestSetUIDValidity(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	s.Append(t, "alice", "INBOX", msg("a", "a"))
	before := s.Status(t, "alice", "INBOX")
	s.SetUIDValidity(t, "alice", "INBOX", before.UIDValidity+1000)
	after := s.Status(t, "alice", "INBOX")
	if after.UIDValidity != before.UIDValidity+1000 || after.Messages != 1 {
		t.Fatalf("before %+v after %+v", before, after)
	}
	c := login(t, s, "alice")
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.UIDValidity != after.UIDValidity {
		t.Fatalf("IMAP sees UIDVALIDITY %d, doveadm %d", sel.UIDValidity, after.UIDValidity)
	}
	_ = c.Logout().Wait()
}

func TestBodyFetches(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"alice", "al"}})
	uid := s.Append(t, "alice", "INBOX", msg("a", "a"))
	s.Append(t, "alice", "INBOX", msg("b", "b"))
	s.MessagesWithBodies(t, "alice", "INBOX") // doveadm must not count
	if n := s.BodyFetches(t, "alice"); n != 0 {
		t.Fatalf("BodyFetches before any IMAP session = %d", n)
	}

	// A session that only looks at flags and sizes downloads nothing.
	c := login(t, s, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.UIDSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true}).Collect(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := s.BodyFetches(t, "alice"); n != 0 {
		t.Fatalf("BodyFetches after metadata-only session = %d", n)
	}

	// Checked right after logout, without sleeping: BodyFetches must wait
	// for the asynchronously written logout line itself.
	c = login(t, s, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	t0 := time.Now()
	if n := s.BodyFetches(t, "alice"); n != 1 {
		t.Fatalf("BodyFetches = %d, want 1\n%s", n, s.logTail(20))
	}
	t.Logf("BodyFetches settled in %v", time.Since(t0))
	// "al" is a prefix of "alice": must not pick up alice's sessions.
	if n := s.BodyFetches(t, "al"); n != 0 {
		t.Fatalf("BodyFetches(al) = %d", n)
	}

	// An open session is not counted (documented caveat) and does not make
	// BodyFetches hang.
	c = login(t, s, "alice")
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.UIDSetNum(1, 2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if n := s.BodyFetches(t, "alice"); n != 1 {
		t.Fatalf("BodyFetches with open session = %d, want 1", n)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("BodyFetches with open session took %v", d)
	}
	t.Logf("BodyFetches with an open session took %v", time.Since(t0))
	_ = c.Logout().Wait()
	if n := s.BodyFetches(t, "alice"); n != 3 {
		t.Fatalf("BodyFetches after closing = %d, want 3", n)
	}
}

func TestDoveadmAndErrors(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	if out := s.Doveadm(t, "mailbox", "list", "-u", "alice"); !strings.Contains(out, "INBOX") {
		t.Fatalf("mailbox list: %q", out)
	}
	// Failures must fail the test (with doveadm's message), not look like
	// an empty mailbox.
	ft := &fakeTB{TB: t}
	ft.run(func() { s.Messages(ft, "alice", "NoSuchBox") })
	if !ft.failed || !strings.Contains(ft.msg, "NoSuchBox") {
		t.Fatalf("Messages on missing mailbox: failed=%v msg=%q", ft.failed, ft.msg)
	}
	ft = &fakeTB{TB: t}
	ft.run(func() { s.Doveadm(ft, "mailbox", "delete", "-u", "alice", "NoSuchBox") })
	if !ft.failed || !strings.Contains(ft.msg, "doesn't exist") {
		t.Fatalf("Doveadm error: failed=%v msg=%q", ft.failed, ft.msg)
	}
}

// fakeTB captures Fatal so error paths can be tested.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) run(fn func()) {
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
	}()
	fn()
}

func TestParallelServersAndCleanup(t *testing.T) {
	t.Parallel()
	t.Run("group", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				s := Start(t, Options{Users: []string{"alice", "bob"}})
				uid := s.Append(t, "bob", "INBOX", msg(fmt.Sprint(i), "x"))
				c := login(t, s, "bob")
				defer c.Close()
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
					t.Fatal(err)
				}
				_ = c.Logout().Wait()
				if n := s.BodyFetches(t, "bob"); n != 1 {
					t.Errorf("server %d: BodyFetches = %d (servers clash?)", i, n)
				}
			})
		}
	})
}

// TestCleanup checks that a finished test leaves no process and no files.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var s *Server
	t.Run("inner", func(t *testing.T) {
		s = Start(t, Options{})
		c := login(t, s, "alice") // spawn an imap process, left open on purpose
		_ = c
	})
	if s == nil {
		t.Skip("inner test skipped")
	}
	if pids := instanceProcs(s.instance); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("dir %s left: %v", s.Dir, err)
	}
}

func TestEncodeMUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX":              "INBOX",
		"Entwürfe":           "Entw&APw-rfe",
		"日本語":                "&ZeVnLIqe-",
		"a&b":                "a&-b",
		"~peter/mail/台北/日本語": "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	} {
		if got := mutf7.Encode(in); got != want {
			t.Errorf("mutf7.Encode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPortCollisionRetried simulates another process grabbing the port
// between our probe and Dovecot's bind. Not parallel: it swaps pickPort.
func TestPortCollisionRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	s := Start(t, Options{})
	if calls != 2 || s.Port == taken {
		t.Fatalf("calls=%d port=%d taken=%d", calls, s.Port, taken)
	}
	c := login(t, s, "alice")
	_ = c.Logout().Wait()
	c.Close()
}
