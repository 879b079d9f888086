package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/dovetest"
)

// holdScript is a scripted server that logs the client in and then reads
// `want` commands before it answers any of them, each with answer(tag,
// command): a client that waits for an answer before sending the next
// command never gets one.
type holdScript struct {
	caps   string
	want   int
	answer func(tag, cmd string) string
	// before, if set, is written after the last command arrives and
	// before the first answer.
	before string
	got    chan []string // the commands, in the order they came
}

func (s *holdScript) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "* OK [CAPABILITY IMAP4rev1] scripted\r\n")
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	tag, _, _ := strings.Cut(line, " ")
	fmt.Fprintf(c, "%s OK [CAPABILITY %s] logged in\r\n", tag, s.caps)
	var cmds []string
	for len(cmds) < s.want {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmds = append(cmds, strings.TrimRight(line, "\r\n"))
	}
	s.got <- cmds
	if _, err := io.WriteString(c, s.before); err != nil {
		return
	}
	for _, cmd := range cmds {
		tag, rest, _ := strings.Cut(cmd, " ")
		if _, err := io.WriteString(c, s.answer(tag, rest)); err != nil {
			return
		}
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, _, _ := strings.Cut(line, " ")
		fmt.Fprintf(c, "* BYE\r\n%s OK\r\n", tag)
	}
}

func dialHold(t *testing.T, s *holdScript) *Conn {
	t.Helper()
	s.got = make(chan []string, 1)
	client, server := net.Pipe()
	go s.serve(server)
	// The timeout ends the test if StoreFlags waits for an answer before
	// it has sent every command.
	c, err := newConn(context.Background(), client, Options{Host: "scripted", TLS: TLSNone, User: "u", Timeout: 5 * time.Second,
		Password: func(context.Context) (string, error) { return "p", nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStoreFlagsPipelined(t *testing.T) {
	changes := []FlagChange{
		{UIDs: []uint32{1, 2, 3}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}},
		{UIDs: []uint32{1, 2, 3}, Add: false, Flags: nil}, // nothing to remove: not sent
		{UIDs: []uint32{4}, Add: false, Flags: []imap.Flag{imap.FlagSeen}},
		{UIDs: []uint32{5, 7}, Add: true, Flags: []imap.Flag{imap.FlagDeleted}},
	}
	wantCmds := []string{
		`UID STORE 1:3 +FLAGS.SILENT (\Flagged)`,
		`UID STORE 4 -FLAGS.SILENT (\Seen)`,
		`UID STORE 5,7 +FLAGS.SILENT (\Deleted)`,
		`UID EXPUNGE 5,7`,
	}
	for _, tc := range []struct {
		name    string
		refuse  string // the command answered NO
		wantErr string
	}{
		{name: "all answered OK"},
		{name: "the first STORE refused", refuse: `UID STORE 1:3`, wantErr: "UID STORE: "},
		{name: "the expunge refused", refuse: `UID EXPUNGE`, wantErr: "EXPUNGE: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &holdScript{caps: "IMAP4rev1 UIDPLUS", want: len(wantCmds), answer: func(tag, cmd string) string {
				if tc.refuse != "" && strings.HasPrefix(cmd, tc.refuse) {
					return tag + " NO refused\r\n"
				}
				return tag + " OK done\r\n"
			}}
			c := dialHold(t, s)
			err := c.StoreFlags(context.Background(), changes, []uint32{5, 7})
			var got []string
			select {
			case cmds := <-s.got:
				for _, cmd := range cmds {
					_, rest, _ := strings.Cut(cmd, " ")
					got = append(got, rest)
				}
			default:
				t.Fatalf("the server did not get all %d commands at once; StoreFlags: %v", len(wantCmds), err)
			}
			if !slices.Equal(got, wantCmds) {
				t.Errorf("commands:\n got %q\nwant %q", got, wantCmds)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("StoreFlags: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("StoreFlags: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// A CONDSTORE server answers a .SILENT STORE with FETCH responses carrying
// the new MODSEQ, and Dovecot sends those of a pipelined batch before any
// tagged OK: the FETCHes for the second STORE's UIDs come before the first
// STORE's OK. go-imap buffers 128 of them for a command nobody reads yet;
// draining the commands one after the other deadlocked past that.
func TestStoreFlagsFetchesBeforeOKs(t *testing.T) {
	var second []uint32
	var fetches strings.Builder
	fmt.Fprintf(&fetches, "* 1 FETCH (UID 1 MODSEQ (10))\r\n")
	for u := uint32(2); u <= 301; u++ {
		second = append(second, u)
		fmt.Fprintf(&fetches, "* %d FETCH (UID %d MODSEQ (%d))\r\n", u, u, 10+u)
	}
	s := &holdScript{caps: "IMAP4rev1 UIDPLUS CONDSTORE", want: 2, before: fetches.String(),
		answer: func(tag, _ string) string { return tag + " OK done\r\n" }}
	c := dialHold(t, s)
	err := c.StoreFlags(context.Background(), []FlagChange{
		{UIDs: []uint32{1}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}},
		{UIDs: second, Add: true, Flags: []imap.Flag{imap.FlagSeen}},
	}, nil)
	if err != nil {
		t.Fatalf("StoreFlags: %v", err)
	}
}

// Without UIDPLUS the expunge is a plain EXPUNGE.
func TestStoreFlagsExpungeWithoutUIDPlus(t *testing.T) {
	s := &holdScript{caps: "IMAP4rev1 ENABLE", want: 2, answer: func(tag, _ string) string { return tag + " OK done\r\n" }}
	c := dialHold(t, s)
	err := c.StoreFlags(context.Background(), []FlagChange{{UIDs: []uint32{2}, Add: true, Flags: []imap.Flag{imap.FlagDeleted}}}, []uint32{2})
	if err != nil {
		t.Fatal(err)
	}
	cmds := <-s.got
	if _, rest, _ := strings.Cut(cmds[1], " "); rest != "EXPUNGE" {
		t.Errorf("second command %q, want EXPUNGE", cmds[1])
	}
}

func TestStoreFlagsDovecot(t *testing.T) {
	const user = "sf"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	var uids []uint32
	for i := 1; i <= 6; i++ {
		uids = append(uids, srv.Append(t, user, "INBOX", []byte(fmt.Sprintf("Message-ID: <sf%d@test>\r\n\r\nbody %d\r\n", i, i)), `\Seen`))
	}
	ctx := context.Background()
	c := dialDovecot(t, srv, user)
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		t.Fatal(err)
	}
	err := c.StoreFlags(ctx, []FlagChange{
		{UIDs: uids[0:2], Add: true, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered}},
		{UIDs: uids[2:3], Add: false, Flags: []imap.Flag{imap.FlagSeen}},
		{UIDs: uids[4:6], Add: true, Flags: []imap.Flag{imap.FlagDeleted}},
	}, uids[4:6])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"<sf1@test>": {`\Answered`, `\Flagged`, `\Seen`},
		"<sf2@test>": {`\Answered`, `\Flagged`, `\Seen`},
		"<sf3@test>": nil,
		"<sf4@test>": {`\Seen`},
	}
	got := map[string][]string{}
	for _, m := range srv.Messages(t, user, "INBOX") {
		got[m.MessageID] = m.Flags
	}
	if len(got) != len(want) {
		t.Errorf("server has %v, want %v (sf5 and sf6 expunged)", got, want)
	}
	for id, flags := range want {
		if f, ok := got[id]; !ok || !slices.Equal(f, flags) {
			t.Errorf("%s: flags %v (present %v), want %v", id, f, ok, flags)
		}
	}
}
