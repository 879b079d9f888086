package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/dovetest"
	"mailsync/internal/faultproxy"
)

// aheadScript is a server that holds its answer to the login until the
// LIST arrives: a client that waits for the login's answer before sending
// its first round never gets one.
type aheadScript struct {
	login   string // the answer to the login after the tag; default an OK with CONDSTORE
	onLogin func() // called once the login is read, if set
	got     chan string
}

func (s *aheadScript) serve(c net.Conn) error {
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] scripted\r\n"); err != nil {
		return err
	}
	var held []string
	loggedIn := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		s.got <- line
		tag, rest, _ := strings.Cut(line, " ")
		name, args, _ := strings.Cut(rest, " ")
		var answer string
		switch strings.ToUpper(name) {
		case "AUTHENTICATE", "LOGIN":
			if s.onLogin != nil {
				s.onLogin()
			}
			answer = s.login
			if answer == "" {
				answer = "OK [CAPABILITY IMAP4rev1 CONDSTORE] logged in"
			}
			loggedIn = strings.HasPrefix(answer, "OK")
			held = append(held, tag+" "+answer+"\r\n")
			continue
		case "STATUS":
			if !loggedIn {
				answer = tag + " BAD not logged in\r\n"
				break
			}
			box, items, _ := strings.Cut(args, " ")
			answer = "* STATUS " + box + " (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7"
			if strings.Contains(items, "HIGHESTMODSEQ") {
				answer += " HIGHESTMODSEQ 9"
			}
			answer += ")\r\n" + tag + " OK status\r\n"
		case "LIST":
			answer = "* LIST () \".\" INBOX\r\n* LIST () \".\" Work\r\n" + tag + " OK listed\r\n"
			if !loggedIn {
				answer = tag + " BAD not logged in\r\n"
			}
		case "CAPABILITY":
			answer = "* CAPABILITY IMAP4rev1 CONDSTORE\r\n" + tag + " OK\r\n"
		case "LOGOUT":
			answer = "* BYE\r\n" + tag + " OK\r\n"
		default:
			answer = tag + " BAD unexpected\r\n"
		}
		if held != nil {
			answer = strings.Join(held, "") + answer
			held = nil
		}
		if _, err := fmt.Fprint(c, answer); err != nil {
			return err
		}
	}
}

func dialAheadScript(t *testing.T, s *aheadScript, o Options) (*Conn, error) {
	t.Helper()
	s.got = make(chan string, 64)
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve(server)
	}()
	t.Cleanup(func() {
		server.Close()
		<-done
	})
	o.Host, o.TLS, o.User = "scripted", TLSNone, "u"
	o.Password = func(context.Context) (string, error) { return "sesame", nil }
	o.Timeout = 2 * time.Second
	c, err := newConn(context.Background(), client, o)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func ahead(known []string, condStore bool) func(context.Context) (Ahead, bool) {
	return func(context.Context) (Ahead, bool) { return Ahead{Known: known, CondStore: condStore}, true }
}

// TestLoginAhead: the first round goes out behind the login, before its
// answer, and List takes its answers; a refusal is still a refused login.
func TestLoginAhead(t *testing.T) {
	ctx := context.Background()
	known := []string{"INBOX", "Work"}
	wantStatus := func(t *testing.T, boxes []Mailbox, modseq uint64) {
		t.Helper()
		if len(boxes) != 2 {
			t.Fatalf("List gave %d folders; want 2", len(boxes))
		}
		for _, b := range boxes {
			if b.Status == nil || b.Status.UIDNext != 4 || b.Status.HighestModSeq != modseq {
				t.Errorf("%s: status %+v; want UIDNEXT 4, HIGHESTMODSEQ %d", b.Name, b.Status, modseq)
			}
		}
	}
	// listAhead dials the script with o and lists the known folders,
	// whose statuses must come from the server's STATUS answers.
	listAhead := func(t *testing.T, s *aheadScript, o Options) *Conn {
		t.Helper()
		c, err := dialAheadScript(t, s, o)
		if err != nil {
			t.Fatalf("Dial: %v (did the first round go out before the login's answer?)", err)
		}
		boxes, err := c.List(ctx, known)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, boxes, 9)
		return c
	}
	for mech, login := range map[string]string{MechPlain: "AUTHENTICATE PLAIN ", MechLogin: "LOGIN "} {
		t.Run(mech, func(t *testing.T) {
			s := &aheadScript{}
			c := listAhead(t, s, Options{Mechanisms: []string{mech}, Ahead: ahead(known, true)})
			if !c.CondStore() || !c.c.Caps().Has(imap.CapCondStore) {
				t.Errorf("CONDSTORE: ours %v, go-imap's %v; want both from the login's answer", c.CondStore(), c.c.Caps().Has(imap.CapCondStore))
			}
			seen := commandsSeen(s.got)
			if len(seen) != 4 || !strings.HasPrefix(seen[0], login) || !isStatus(seen[1], "INBOX", true) ||
				!isStatus(seen[2], `"Work"`, true) || seen[3] != `LIST "" "*"` {
				t.Errorf("the server read %q; want the login, then STATUS of INBOX and Work with HIGHESTMODSEQ, then LIST", seen)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		s := &aheadScript{login: "NO [AUTHENTICATIONFAILED] wrong password"}
		_, err := dialAheadScript(t, s, Options{Ahead: ahead(known, true)})
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "wrong password") {
			t.Fatalf("Dial: %v; want ErrAuth with the server's text", err)
		}
		if strings.Contains(err.Error(), "sesame") {
			t.Errorf("the error holds the password: %v", err)
		}
	})
	t.Run("OK without capabilities", func(t *testing.T) {
		s := &aheadScript{login: "OK logged in"}
		c := listAhead(t, s, Options{Ahead: ahead(known, true)})
		if !c.CondStore() {
			t.Error("CondStore() = false; want it from the CAPABILITY asked behind the round")
		}
		if seen := commandsSeen(s.got); len(seen) != 5 || seen[4] != "CAPABILITY" {
			t.Errorf("the server read %q; want the round, then CAPABILITY", seen)
		}
	})
	t.Run("stale CONDSTORE", func(t *testing.T) {
		// The state said the server had no CONDSTORE; it has now: the
		// round lacks HIGHESTMODSEQ, and List asks again.
		s := &aheadScript{}
		listAhead(t, s, Options{Ahead: ahead(known, false)})
		if seen := commandsSeen(s.got); len(seen) != 7 || !isStatus(seen[1], "INBOX", false) || !isStatus(seen[4], "INBOX", true) {
			t.Errorf("the server read %q; want the round, then the STATUS and LIST again with HIGHESTMODSEQ", seen)
		}
	})
	t.Run("the login does not wait for the round", func(t *testing.T) {
		// The round is given only once the server has the login: a
		// login that waited for the round would never be sent.
		s := &aheadScript{}
		loggedIn := make(chan struct{})
		s.onLogin = func() { close(loggedIn) }
		listAhead(t, s, Options{Ahead: func(ctx context.Context) (Ahead, bool) {
			select {
			case <-loggedIn:
				return Ahead{Known: known, CondStore: true}, true
			case <-time.After(3 * time.Second):
				return Ahead{}, false // and Dial times out
			}
		}})
	})
	t.Run("nothing ahead", func(t *testing.T) {
		// Ahead answering false: the login is awaited, as without it;
		// the script holds the answer until a LIST, which never comes.
		s := &aheadScript{}
		_, err := dialAheadScript(t, s, Options{Ahead: func(context.Context) (Ahead, bool) { return Ahead{}, false }})
		if err == nil {
			t.Fatal("Dial succeeded; want a timeout: nothing may be sent behind the login")
		}
	})
}

// isStatus reports whether line is a STATUS of box (as written) that asks
// for HIGHESTMODSEQ, or not, as modseq says; go-imap writes the items in
// no set order.
func isStatus(line, box string, modseq bool) bool {
	return strings.HasPrefix(line, "STATUS "+box+" (") && strings.Contains(line, "HIGHESTMODSEQ") == modseq
}

// TestLoginAheadDovecot: Dovecot runs what is pipelined behind
// AUTHENTICATE, sent before its answer, once the login succeeds, however
// much of it there is; List takes the round's answers; the trace shows
// the round, not the credentials; a wrong password is a refused login.
func TestLoginAheadDovecot(t *testing.T) {
	user := "ahead"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	srv.Append(t, user, "INBOX", textMessage("a1", 100))
	srv.CreateMailbox(t, user, "Work")
	ctx := context.Background()
	// Known folders the server no longer has, enough to fill Dovecot's
	// login process's input buffer many times over.
	known := []string{"INBOX", "Work"}
	for i := range 400 {
		known = append(known, fmt.Sprintf("Gone/%03d/%s", i, strings.Repeat("x", 60)))
	}
	var trace traceLog
	// The first connection goes through a proxy that holds Dovecot's
	// answers after the greeting until the LIST has gone by: the round
	// must be sent before the login's answer, or the Dial times out.
	gate, err := faultproxy.Start(net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	gate.Set(faultproxy.Fault{HoldUntil: `LIST "" "*"`})
	dial := func(port int, password string) (*Conn, error) {
		return Dial(ctx, Options{Host: srv.Host, Port: port, TLS: TLSNone, User: user,
			Password: func(context.Context) (string, error) { return password, nil },
			Timeout:  10 * time.Second, Ahead: ahead(known, true), Trace: trace.trace})
	}
	c, err := dial(gate.Port(), srv.Password(user))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	boxes, err := c.List(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*Status{}
	for _, b := range boxes {
		got[b.Name] = b.Status
	}
	if len(boxes) != 2 || got["INBOX"] == nil || got["INBOX"].Messages != 1 || got["INBOX"].HighestModSeq == 0 || got["Work"] == nil {
		t.Fatalf("List gave %+v; want INBOX (1 message, with HIGHESTMODSEQ) and Work", boxes)
	}
	// List took the round's answers: nothing more was asked.
	lines := trace.snapshot()
	if n := len(slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		return !strings.HasPrefix(l, "C: T") || !strings.Contains(l, " STATUS ") && !strings.Contains(l, " LIST ")
	})); n != len(known)+1 {
		t.Errorf("the client sent %d STATUS and LIST commands; want the round's %d", n, len(known)+1)
	}
	if !slices.Contains(lines, "C: M1 AUTHENTICATE PLAIN <redacted>") || strings.Contains(strings.Join(lines, "\n"), srv.Password(user)) {
		t.Errorf("the trace shows the credentials, or not the AUTHENTICATE:\n%s", strings.Join(lines[:min(len(lines), 4)], "\n"))
	}
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		t.Errorf("SELECT after the round: %v", err)
	}

	if _, err := dial(srv.Port, "wrong"); !errors.Is(err, ErrAuth) {
		t.Errorf("Dial with a wrong password: %v; want ErrAuth", err)
	}
}

// TestSelectAheadDovecot: a folder's SELECT goes behind the login, before
// its answer (the proxy holds Dovecot's answers until it has gone by), and
// the folder's SelectLater takes it: the STORE follows with no second
// SELECT, once the SELECT is checked. A SELECT that does not match what
// the folder asks (another UIDVALIDITY, or a CONDSTORE guess the login
// belied) is not taken: the folder selects again, and the first one's
// answer is read all the same.
func TestSelectAheadDovecot(t *testing.T) {
	user := "selahead"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	srv.Append(t, user, "INBOX", textMessage("s1", 100))
	ctx := context.Background()
	gate, err := faultproxy.Start(net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	gate.Set(faultproxy.Fault{HoldUntil: "SELECT"})
	probe, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := probe.Status(ctx, "INBOX")
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		uv        uint32
		condStore bool
		selects   int // SELECTs of INBOX sent in all
	}{
		{"taken", st.UIDValidity, true, 1},
		{"another UIDVALIDITY", st.UIDValidity + 1, true, 2},
		{"CONDSTORE guessed wrong", st.UIDValidity, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trace traceLog
			c, err := Dial(ctx, Options{Host: srv.Host, Port: gate.Port(), TLS: TLSNone, User: user,
				Password: func(context.Context) (string, error) { return srv.Password(user), nil },
				Timeout:  10 * time.Second, Trace: trace.trace,
				Ahead: func(context.Context) (Ahead, bool) {
					return Ahead{CondStore: tc.condStore, Select: &AheadSelect{Name: "INBOX", UIDValidity: tc.uv}}, true
				}})
			if err != nil {
				t.Fatalf("Dial: %v (did the SELECT go out before the login's answer?)", err)
			}
			defer c.Close()
			if got := c.Preselected(); got != "INBOX" {
				t.Errorf("Preselected() = %q; want INBOX", got)
			}
			f := c.Folder()
			f.SelectLater("INBOX", false, st.UIDValidity)
			if err := f.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{1}, Add: true, Flags: []imap.Flag{imap.FlagFlagged}}}, nil); err != nil {
				t.Fatal(err)
			}
			if got := c.Preselected(); got != "" {
				t.Errorf("Preselected() = %q after the folder's STORE; want none", got)
			}
			selects := 0
			for _, l := range trace.snapshot() {
				if strings.HasPrefix(l, "C: ") && strings.Contains(l, " SELECT INBOX") {
					selects++
				}
			}
			if selects != tc.selects {
				t.Errorf("%d SELECTs of INBOX sent; want %d:\n%s", selects, tc.selects, trace.String())
			}
			waitFor(t, func() bool { return c.pc.inflight.Load() == 0 })
		})
	}
	if m := srv.Messages(t, user, "INBOX"); len(m) != 1 || !slices.Contains(m[0].Flags, `\Flagged`) {
		t.Errorf("INBOX holds %+v; want its message flagged", m)
	}
}
