package remote

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// scriptedServer speaks just enough IMAP to log in, answer LIST with fixed
// lines and record the mailbox names that CREATE sends, as they appear on
// the wire.
type scriptedServer struct {
	ln      net.Listener
	list    []string // raw "* LIST" lines
	created chan string
	// caps is the CAPABILITY answer after login; the greeting offers only
	// "IMAP4rev1 LIST-STATUS".
	caps string
}

func startScripted(t *testing.T, list []string) *scriptedServer {
	return startScriptedCaps(t, list, "")
}

func startScriptedCaps(t *testing.T, list []string, caps string) *scriptedServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln, list: list, created: make(chan string, 16), caps: caps}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

func (s *scriptedServer) serve() {
	c, err := s.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	w("* OK [CAPABILITY IMAP4rev1 LIST-STATUS] scripted")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		tag, rest, _ := strings.Cut(line, " ")
		cmd, args, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(cmd) {
		case "LOGIN":
			w("%s OK logged in", tag)
		case "CAPABILITY":
			caps := s.caps
			if caps == "" {
				caps = "IMAP4rev1 LIST-STATUS"
			}
			w("* CAPABILITY %s", caps)
			w("%s OK", tag)
		case "LIST":
			for _, l := range s.list {
				w("%s", l)
			}
			w("%s OK", tag)
		case "CREATE":
			s.created <- args
			w("%s OK", tag)
		case "LOGOUT":
			w("* BYE")
			w("%s OK", tag)
			return
		default:
			w("%s BAD unexpected %s", tag, cmd)
		}
	}
}

func dialScripted(t *testing.T, s *scriptedServer) *Conn {
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	c, err := Dial(context.Background(), Options{Host: host, Port: p, TLS: TLSNone, User: "u",
		Password: func(context.Context) (string, error) { return "p", nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Folder names travel in IMAP's modified UTF-7 (RFC 3501 5.1.3) and are
// UTF-8 everywhere in mailsync.
var utf7Cases = []struct{ utf8, wire string }{
	{"INBOX", "INBOX"},
	{"Entwürfe", "Entw&APw-rfe"},
	{"日本語", "&ZeVnLIqe-"},
	{"Tom & Jerry", "Tom &- Jerry"},
	{"Résumé.Été", "R&AOk-sum&AOk-.&AMk-t&AOk-"},
	{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
}

func TestListDecodesModifiedUTF7(t *testing.T) {
	var lines []string
	for _, c := range utf7Cases {
		lines = append(lines, fmt.Sprintf(`* LIST () "." "%s"`, c.wire))
	}
	conn := dialScripted(t, startScripted(t, lines))
	boxes, err := conn.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != len(utf7Cases) {
		t.Fatalf("got %d mailboxes, want %d", len(boxes), len(utf7Cases))
	}
	for i, c := range utf7Cases {
		if boxes[i].Name != c.utf8 {
			t.Errorf("wire %q decoded to %q, want %q", c.wire, boxes[i].Name, c.utf8)
		}
		if boxes[i].Delim != '.' {
			t.Errorf("%q: delimiter %q, want '.'", c.utf8, boxes[i].Delim)
		}
	}
}

func TestCreateEncodesModifiedUTF7(t *testing.T) {
	s := startScripted(t, nil)
	conn := dialScripted(t, s)
	for _, c := range utf7Cases {
		if err := conn.Create(context.Background(), c.utf8); err != nil {
			t.Fatal(err)
		}
		got := strings.Trim(<-s.created, `"`)
		if got != c.wire {
			t.Errorf("CREATE %q sent %q, want %q", c.utf8, got, c.wire)
		}
	}
}

func TestListRejectsInvalidUTF7(t *testing.T) {
	// A server bug or a hostile server: the error must surface, not a panic
	// and not a garbled local folder name.
	conn := dialScripted(t, startScripted(t, []string{`* LIST () "." "bad&Jjo!"`}))
	if _, err := conn.List(context.Background(), nil); err == nil {
		t.Fatal("LIST with invalid modified UTF-7 succeeded")
	}
}

// TestCapsAfterLogin: a server that announces CONDSTORE and UIDPLUS only
// after login, and not in the login's OK. go-imap completes the login before
// it forgets the pre-auth capabilities, so reading them right away can race
// with that; the connection must still end up with the post-login list.
func TestCapsAfterLogin(t *testing.T) {
	for i := 0; i < 30; i++ {
		c := dialScripted(t, startScriptedCaps(t, nil, "IMAP4rev1 LIST-STATUS CONDSTORE UIDPLUS"))
		if !c.CondStore() || !c.UIDPlus() {
			t.Fatalf("dial %d: capabilities after login are the pre-auth ones: CONDSTORE %v, UIDPLUS %v", i, c.CondStore(), c.UIDPlus())
		}
		c.Close()
	}
}
