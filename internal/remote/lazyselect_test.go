package remote

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// selectScript is a server whose SELECT answer waits until the command
// after it has arrived: a client that waits for SELECT's answer before it
// sends the next command stalls against it. Its folder has UIDVALIDITY
// uidValidity.
type selectScript struct {
	uidValidity string
	got         chan string
}

func (s *selectScript) serve(c net.Conn) error {
	defer c.Close()
	r := bufio.NewReader(c)
	send := func(text string) error { _, err := io.WriteString(c, text); return err }
	if err := send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] scripted\r\n"); err != nil {
		return err
	}
	var held string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if m := literalAtEnd.FindStringSubmatch(line); m != nil {
			// An APPEND's message: read it, and the end of the line.
			n, _ := strconv.Atoi(m[1])
			if !strings.HasSuffix(m[0], "+}\r\n") {
				if err := send("+ go on\r\n"); err != nil {
					return err
				}
			}
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return err
			}
			if _, err := r.ReadString('\n'); err != nil {
				return err
			}
		}
		line = strings.TrimRight(line, "\r\n")
		s.got <- line
		tag, rest, _ := strings.Cut(line, " ")
		name, _, _ := strings.Cut(rest, " ")
		var answer string
		switch strings.ToUpper(name) {
		case "AUTHENTICATE":
			answer = tag + " OK [CAPABILITY IMAP4rev1 CONDSTORE ESEARCH UIDPLUS LITERAL+] in\r\n"
		case "SELECT", "EXAMINE":
			held = "* 3 EXISTS\r\n* OK [UIDVALIDITY " + s.uidValidity + "] v\r\n* OK [UIDNEXT 4] n\r\n* OK [HIGHESTMODSEQ 9] m\r\n" +
				tag + " OK [READ-WRITE] selected\r\n"
			continue
		case "UID":
			sub, _, _ := strings.Cut(strings.TrimPrefix(rest, name+" "), " ")
			switch strings.ToUpper(sub) {
			case "SEARCH":
				answer = "* ESEARCH (TAG \"" + tag + "\") UID ALL 1:3\r\n" + tag + " OK searched\r\n"
			case "FETCH":
				answer = "* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (9))\r\n" + tag + " OK fetched\r\n"
			default:
				answer = tag + " OK done\r\n"
			}
		case "APPEND":
			answer = tag + " OK [APPENDUID " + s.uidValidity + " 4] appended\r\n"
		case "LOGOUT":
			return send("* BYE\r\n" + tag + " OK\r\n")
		default:
			answer = tag + " BAD unexpected\r\n"
		}
		if err := send(held + answer); err != nil {
			return err
		}
		held = ""
	}
}

func dialSelectScript(t *testing.T, s *selectScript) *Conn {
	t.Helper()
	s.got = make(chan string, 64)
	c, _ := dialPipe(t, s.serve, Options{Timeout: 2 * time.Second})
	return c
}

// seenCommands is what the script read, as command names ("UID FETCH").
func seenCommands(s *selectScript) []string {
	var out []string
	for _, c := range commandsSeen(s.got) {
		f := strings.Fields(c)
		if len(f) > 1 && strings.EqualFold(f[0], "UID") {
			f[0] += " " + f[1]
		}
		out = append(out, f[0])
	}
	return out
}

// TestSelectLater: the SELECT goes out with the folder's first commands,
// not on its own; an answer with another UIDVALIDITY fails what was asked
// behind it and keeps STORE from being sent; an upload selects nothing.
func TestSelectLater(t *testing.T) {
	ctx := context.Background()
	t.Run("pipelined", func(t *testing.T) {
		s := &selectScript{uidValidity: "7"}
		c := dialSelectScript(t, s)
		c.SelectLater("INBOX", false, 7)
		// The script answers SELECT only once the next command is in.
		uids, flags, err := c.AskChanges(ctx, true, true, 5).Wait()
		if err != nil {
			t.Fatalf("AskChanges behind SELECT: %v", err)
		}
		if !slices.Equal(uids, []uint32{1, 2, 3}) || len(flags) != 1 || flags[0].UID != 2 {
			t.Errorf("answers: uids %v, flags %+v; want 1:3 and UID 2", uids, flags)
		}
		// Selected and checked: a STORE goes out at once.
		if err := c.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{2}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); err != nil {
			t.Fatal(err)
		}
		want := []string{"AUTHENTICATE", "SELECT", "UID SEARCH", "UID FETCH", "UID STORE"}
		if got := seenCommands(s); !slices.Equal(got, want) {
			t.Errorf("the server read %q; want %q", got, want)
		}
	})
	t.Run("store waits for the check", func(t *testing.T) {
		s := &selectScript{uidValidity: "7"}
		c := dialSelectScript(t, s)
		c.SelectLater("INBOX", false, 7)
		// SELECT's answer is held until the next command arrives, which a
		// STORE must not be: it waits for the check. The stall ends with
		// the connection's timeout, and no STORE was sent.
		err := c.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{2}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil)
		if err == nil {
			t.Fatal("StoreFlags went through without SELECT's answer")
		}
		if got := seenCommands(s); slices.Contains(got, "UID STORE") {
			t.Errorf("the server read %q: STORE sent before SELECT was checked", got)
		}
	})
	t.Run("another folder", func(t *testing.T) {
		s := &selectScript{uidValidity: "8"}
		c := dialSelectScript(t, s)
		c.SelectLater("INBOX", false, 7)
		_, _, err := c.AskChanges(ctx, true, true, 5).Wait()
		if !errors.Is(err, ErrSelectChanged) {
			t.Fatalf("UIDVALIDITY 8 where STATUS said 7: err = %v, want ErrSelectChanged", err)
		}
		if err := c.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{2}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); !errors.Is(err, ErrSelectChanged) {
			t.Errorf("StoreFlags after the changed SELECT: err = %v, want ErrSelectChanged", err)
		}
		if got := seenCommands(s); slices.Contains(got, "UID STORE") {
			t.Errorf("the server read %q: STORE sent to another generation of the folder", got)
		}
	})
	t.Run("preselect", func(t *testing.T) {
		// SELECT goes out ahead of the upload, and its answer (which the
		// script holds until the next command) comes with the APPEND's:
		// the STORE after them is sent at once.
		s := &selectScript{uidValidity: "7"}
		c := dialSelectScript(t, s)
		c.SelectLater("INBOX", false, 7)
		c.Preselect(ctx)
		body := "Subject: x\r\n\r\nx\r\n"
		p, err := c.StartAppend(ctx, "INBOX", nil, time.Time{}, int64(len(body)), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{2}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); err != nil {
			t.Fatal(err)
		}
		want := []string{"AUTHENTICATE", "SELECT", "APPEND", "UID STORE"}
		if got := seenCommands(s); !slices.Equal(got, want) {
			t.Errorf("the server read %q; want %q", got, want)
		}
	})
	t.Run("upload only", func(t *testing.T) {
		s := &selectScript{uidValidity: "7"}
		c := dialSelectScript(t, s)
		c.SelectLater("INBOX", false, 7)
		body := "Subject: x\r\n\r\nx\r\n"
		p, err := c.StartAppend(ctx, "INBOX", nil, time.Time{}, int64(len(body)), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if uid, _, err := p.Wait(); err != nil || uid != 4 {
			t.Fatalf("APPEND: uid %d, %v", uid, err)
		}
		if got := seenCommands(s); slices.Contains(got, "SELECT") {
			t.Errorf("the server read %q: an upload needs no SELECT", got)
		}
	})
}
