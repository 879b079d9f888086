package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"mailsync/internal/dovetest"
)

func capSet(caps ...string) imap.CapSet {
	s := imap.CapSet{}
	for _, c := range caps {
		s[imap.Cap(c)] = struct{}{}
	}
	return s
}

// TestPickMechanism: the default order per credential, configured
// mechanisms honoured in their order, LOGIN refused under LOGINDISABLED,
// and a clear error naming what the server offers.
func TestPickMechanism(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	gmail := capSet("IMAP4rev1", "AUTH=PLAIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER", "AUTH=PLAIN-CLIENTTOKEN")
	outlook := capSet("IMAP4rev1", "AUTH=PLAIN", "AUTH=XOAUTH2", "SASL-IR")
	for _, tc := range []struct {
		name    string
		caps    imap.CapSet
		token   bool
		mechs   []string
		want    string
		wantErr []string // substrings of the error; nil: no error
		auth    bool     // the error is ErrAuth
	}{
		{name: "password: PLAIN", caps: capSet("AUTH=PLAIN", "AUTH=LOGIN"), want: "PLAIN"},
		{name: "password: LOGIN command without AUTH=PLAIN", caps: capSet("IMAP4rev1"), want: "LOGIN"},
		{name: "password: LOGINDISABLED", caps: capSet("LOGINDISABLED", "AUTH=GSSAPI"),
			wantErr: []string{"imap.test offers none of the mechanisms PLAIN, LOGIN", "it offers GSSAPI"}, auth: true},
		{name: "password: LOGIN configured", caps: capSet("AUTH=PLAIN"), mechs: []string{"LOGIN"}, want: "LOGIN"},
		{name: "password: LOGIN configured, LOGINDISABLED", caps: capSet("AUTH=PLAIN", "LOGINDISABLED"), mechs: []string{"LOGIN"},
			wantErr: []string{"offers none of the mechanisms LOGIN", "it offers PLAIN"}, auth: true},
		{name: "password: AUTH=LOGIN is not the LOGIN command", caps: capSet("AUTH=LOGIN", "LOGINDISABLED"),
			wantErr: []string{"it offers no way to log in"}, auth: true},
		{name: "token: gmail", caps: gmail, token: true, want: "OAUTHBEARER"},
		{name: "token: outlook", caps: outlook, token: true, want: "XOAUTH2"},
		{name: "token: XOAUTH2 configured", caps: gmail, token: true, mechs: []string{"XOAUTH2"}, want: "XOAUTH2"},
		{name: "token: second configured", caps: outlook, token: true, mechs: []string{"OAUTHBEARER", "XOAUTH2"}, want: "XOAUTH2"},
		{name: "token: not offered", caps: outlook, token: true, mechs: []string{"OAUTHBEARER"},
			wantErr: []string{"offers none of the mechanisms OAUTHBEARER", "it offers PLAIN, XOAUTH2, LOGIN (the LOGIN command)"}, auth: true},
		{name: "token: none offered", caps: capSet("AUTH=PLAIN"), token: true,
			wantErr: []string{"offers none of the mechanisms OAUTHBEARER, XOAUTH2"}, auth: true},
		{name: "token: password mechanism", caps: gmail, token: true, mechs: []string{"PLAIN"},
			wantErr: []string{"PLAIN needs a password"}},
		{name: "password: token mechanism", caps: gmail, mechs: []string{"XOAUTH2"},
			wantErr: []string{"XOAUTH2 needs an OAuth2 token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Host: "imap.test", Mechanisms: tc.mechs}
			if tc.token {
				o.Token = token
			}
			got, err := pickMechanism(tc.caps, o)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %s", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if errors.Is(err, ErrAuth) != tc.auth {
				t.Errorf("errors.Is(%v, ErrAuth) = %v, want %v", err, !tc.auth, tc.auth)
			}
		})
	}
}

// recorder keeps what clients sent to a server.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Split(r.buf.String(), "\r\n")
}

type recordingListener struct {
	net.Listener
	r *recorder
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recordingConn{c, l.r}, nil
}

type recordingConn struct {
	net.Conn
	r *recorder
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.buf.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

const (
	memUser     = "me@example.org"
	memPassword = "pw-secret"
	memToken    = "ya29.token-secret"
)

// authSession is a memory-server session that offers the mechanisms the
// test chooses, and checks the OAuth2 ones' initial responses byte for
// byte against what RFC 7628 and Google's XOAUTH2 documentation say.
type authSession struct {
	imapserver.SessionIMAP4rev2
	mechs []string
	port  int
	// responses after an error challenge, per mechanism
	after *sync.Map
}

func (s *authSession) AuthenticateMechanisms() []string { return s.mechs }

func (s *authSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.Login(user, pass) }), nil
	case "XOAUTH2":
		return &tokenServer{s: s, mech: mech, want: "user=" + memUser + "\x01auth=Bearer " + memToken + "\x01\x01"}, nil
	case "OAUTHBEARER":
		return &tokenServer{s: s, mech: mech, want: "n,a=" + memUser + ",\x01host=127.0.0.1\x01port=" +
			strconv.Itoa(s.port) + "\x01auth=Bearer " + memToken + "\x01\x01"}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "no such mechanism"}
}

// tokenServer accepts exactly want as the initial response; anything else
// gets the JSON error challenge, and the client's answer to it is kept.
type tokenServer struct {
	s       *authSession
	mech    string
	want    string
	refused bool
}

func (ts *tokenServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case resp == nil:
		return nil, false, nil // no SASL-IR: "+ " asks for the initial response
	case ts.refused:
		ts.s.after.Store(ts.mech, append([]byte(nil), resp...))
		return nil, true, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed,
			Text: "token refused by the test server"}
	case string(resp) == ts.want:
		return nil, true, ts.s.Login(memUser, memPassword)
	}
	ts.refused = true
	b, _ := json.Marshal(map[string]string{"status": "401", "schemes": "bearer", "scope": "https://mail.example/"})
	return b, false, nil
}

type memServer struct {
	port  int
	rec   *recorder
	after *sync.Map
}

// startMemServer serves the memory server with mechs (nil: go-imap's
// default, PLAIN) over plain TCP; insecure allows logins there, else the
// server announces LOGINDISABLED. go-imap's server always offers SASL-IR
// (and go-imap's client takes IMAP4rev2 to imply it): scriptedAuth
// serves without.
func startMemServer(t *testing.T, mechs []string, insecure bool) *memServer {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(memUser, memPassword)
	u.Create("INBOX", nil)
	mem.AddUser(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := &memServer{port: ln.Addr().(*net.TCPAddr).Port, rec: &recorder{}, after: &sync.Map{}}
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if mechs == nil {
				return mem.NewSession(), nil, nil
			}
			return &authSession{SessionIMAP4rev2: mem.NewSession().(imapserver.SessionIMAP4rev2), mechs: mechs, port: ms.port, after: ms.after}, nil, nil
		},
		Caps: caps, InsecureAuth: insecure, Logger: testLogger{t},
	})
	go srv.Serve(recordingListener{ln, ms.rec})
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *memServer) dial(mechs []string, password, token string) (*Conn, error) {
	o := Options{Host: "127.0.0.1", Port: ms.port, TLS: TLSNone, User: memUser, Timeout: 5 * time.Second, Mechanisms: mechs}
	if token != "" {
		o.Token = func(context.Context) (string, error) { return token, nil }
	} else {
		o.Password = func(context.Context) (string, error) { return password, nil }
	}
	return Dial(context.Background(), o)
}

// TestLoginMemServer: each mechanism logs in with the exact string its
// specification gives (with SASL-IR; see TestLoginWithoutSASLIR); a refused token is
// answered as each mechanism requires (XOAUTH2 an empty line, OAUTHBEARER
// ^A), so the server's NO and text reach the error, which is ErrAuth,
// names the mechanism and never holds the token.
func TestLoginMemServer(t *testing.T) {
	all := []string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}
	for _, mech := range []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			ms := startMemServer(t, all, true)
			pw, tok := memPassword, ""
			if mech == "XOAUTH2" || mech == "OAUTHBEARER" {
				pw, tok = "", memToken
			}
			c, err := ms.dial([]string{mech}, pw, tok)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if _, err := c.List(context.Background(), nil); err != nil {
				t.Errorf("LIST after login: %v", err)
			}
			c.Close()
			verb := "AUTHENTICATE " + mech
			if mech == "LOGIN" {
				verb = "LOGIN "
			}
			if sent := strings.Join(ms.rec.lines(), "\n"); !strings.Contains(sent, verb) {
				t.Errorf("client did not send %q:\n%s", verb, sent)
			}
		})
	}
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech+"/refused", func(t *testing.T) {
			ms := startMemServer(t, all, true)
			bad := "ya29.refused-secret"
			_, err := ms.dial([]string{mech}, "", bad)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("refused token: %v, want ErrAuth", err)
			}
			msg := err.Error()
			for _, w := range []string{"logging in to 127.0.0.1 as " + memUser + " with " + mech, "token refused by the test server",
				"status 401", "scope https://mail.example/"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, bad) {
				t.Errorf("error %q holds the token", msg)
			}
			v, ok := ms.after.Load(mech)
			want := map[string][]byte{"XOAUTH2": {}, "OAUTHBEARER": {1}}[mech]
			if !ok || !bytes.Equal(v.([]byte), want) {
				t.Errorf("answer to the error challenge: %q (sent: %v), want %q", v, ok, want)
			}
			if mech == "XOAUTH2" {
				// go-imap would send "=", which is no empty response
				// outside SASL-IR; the memory server takes both.
				lines := ms.rec.lines()
				for i, l := range lines {
					if strings.Contains(l, "AUTHENTICATE XOAUTH2") {
						rest := lines[i+1:]
						if len(rest) == 0 || rest[0] != "" {
							t.Errorf("after the error challenge the client sent %q, want an empty line", rest)
						}
					}
				}
			}
		})
	}
}

// scriptedAuth is a server without SASL-IR that takes one AUTHENTICATE:
// it asks for the initial response with "+ ", accepts good, and answers
// anything else with an error challenge and then NO. lines are the raw
// lines the client sent. "PORT" in good stands for the server's port.
func scriptedAuth(t *testing.T, caps, good string) (port int, lines <-chan []string) {
	return scriptedAuthEcho(t, caps, good, false)
}

// scriptedAuthEcho is scriptedAuth whose NO, if echo, repeats the token
// it was sent, as a careless server might.
func scriptedAuthEcho(t *testing.T, caps, good string, echo bool) (port int, lines <-chan []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan []string, 1)
	port = ln.Addr().(*net.TCPAddr).Port
	good = strings.Replace(good, "PORT", strconv.Itoa(port), 1)
	go func() {
		var got []string
		defer func() { ch <- got }()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		w := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
		read := func() string {
			l, _ := r.ReadString('\n')
			got = append(got, l)
			return strings.TrimSuffix(l, "\r\n")
		}
		w("* OK [CAPABILITY IMAP4rev1 " + caps + "] scripted")
		tag, _, _ := strings.Cut(read(), " ")
		w("+ ")
		ir, _ := base64.StdEncoding.DecodeString(read())
		if string(ir) == good {
			w(tag + " OK [CAPABILITY IMAP4rev1 UIDPLUS] in")
		} else {
			w("+ " + base64.StdEncoding.EncodeToString([]byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`)))
			read()
			text := "Invalid credentials (Failure)"
			if echo {
				_, tok, _ := strings.Cut(string(ir), "auth=Bearer ")
				tok, _, _ = strings.Cut(tok, "\x01")
				text = "token " + tok + " is not valid"
			}
			w(tag + " NO [AUTHENTICATIONFAILED] " + text)
		}
		for {
			l := read()
			tag, cmd, _ := strings.Cut(l, " ")
			if l == "" {
				return
			}
			if cmd == "LOGOUT" {
				w("* BYE")
				w(tag + " OK")
				return
			}
			w(tag + " OK")
		}
	}()
	return port, ch
}

// TestLoginWithoutSASLIR: without SASL-IR the initial response follows
// the server's "+ "; the answer to an error challenge is exactly an empty
// line for XOAUTH2 (not go-imap's "=") and ^A for OAUTHBEARER.
func TestLoginWithoutSASLIR(t *testing.T) {
	for _, tc := range []struct {
		mech, ir, refusalAnswer string
	}{
		{"XOAUTH2", "user=" + memUser + "\x01auth=Bearer " + memToken + "\x01\x01", "\r\n"},
		{"OAUTHBEARER", "n,a=" + memUser + ",\x01host=127.0.0.1\x01port=PORT\x01auth=Bearer " + memToken + "\x01\x01", "AQ==\r\n"},
	} {
		for _, good := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/good=%v", tc.mech, good), func(t *testing.T) {
				accept := tc.ir
				if !good {
					accept = "not this"
				}
				port, lines := scriptedAuth(t, "AUTH=PLAIN AUTH="+tc.mech, accept)
				c, err := Dial(context.Background(), Options{Host: "127.0.0.1", Port: port, TLS: TLSNone, User: memUser,
					Timeout: 5 * time.Second, Mechanisms: []string{tc.mech},
					Token: func(context.Context) (string, error) { return memToken, nil }})
				if good {
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					c.Close()
				} else if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "Invalid credentials (Failure) (status 400, scope https://mail.google.com/)") {
					t.Fatalf("refused: %v", err)
				}
				got := <-lines
				if len(got) < 2 || got[0] != "T1 AUTHENTICATE "+tc.mech+"\r\n" {
					t.Fatalf("client sent %q", got)
				}
				ir, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(got[1], "\r\n"))
				if wantIR := strings.Replace(tc.ir, "PORT", strconv.Itoa(port), 1); string(ir) != wantIR {
					t.Errorf("initial response %q, want %q", ir, wantIR)
				}
				if !good && (len(got) < 3 || got[2] != tc.refusalAnswer) {
					t.Errorf("answer to the error challenge: %q, want %q", got[2:], tc.refusalAnswer)
				}
			})
		}
	}
}

// TestLoginRedactsEcho: a server that repeats the refused token in its
// NO does not get it into the error, which is still ErrAuth.
func TestLoginRedactsEcho(t *testing.T) {
	port, _ := scriptedAuthEcho(t, "AUTH=XOAUTH2", "not this", true)
	_, err := Dial(context.Background(), Options{Host: "127.0.0.1", Port: port, TLS: TLSNone, User: memUser,
		Timeout: 5 * time.Second, Token: func(context.Context) (string, error) { return memToken, nil }})
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), memToken) || !strings.Contains(err.Error(), "token <redacted> is not valid") {
		t.Errorf("got %v; want ErrAuth with the token redacted", err)
	}
}

// TestLoginMechanismNotOffered: a configured mechanism the server lacks
// fails before any credential is asked for or sent, naming what the
// server offers; LOGIN is never sent to a server that disabled it.
func TestLoginMechanismNotOffered(t *testing.T) {
	ms := startMemServer(t, []string{"PLAIN", "XOAUTH2"}, true)
	asked := false
	_, err := Dial(context.Background(), Options{Host: "127.0.0.1", Port: ms.port, TLS: TLSNone, User: memUser,
		Timeout: 5 * time.Second, Mechanisms: []string{"OAUTHBEARER"},
		Token: func(context.Context) (string, error) { asked = true; return memToken, nil }})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "offers none of the mechanisms OAUTHBEARER; it offers PLAIN, XOAUTH2") {
		t.Errorf("got %v", err)
	}
	if asked {
		t.Error("the token was fetched for a login that could not happen")
	}

	ms = startMemServer(t, nil, false) // LOGINDISABLED, no AUTH=
	_, err = ms.dial([]string{"LOGIN"}, memPassword, "")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "it offers no way to log in") {
		t.Errorf("LOGINDISABLED: %v", err)
	}
	for _, l := range ms.rec.lines() {
		if strings.Contains(l, "LOGIN") || strings.Contains(l, memPassword) {
			t.Errorf("client sent %q to a server with LOGINDISABLED", l)
		}
	}
}

// TestLoginDefaultPassword: without auth_mechanisms a password account
// uses PLAIN where offered and the LOGIN command where not.
func TestLoginDefaultPassword(t *testing.T) {
	for _, tc := range []struct {
		mechs []string
		verb  string
	}{{[]string{"PLAIN", "XOAUTH2"}, "AUTHENTICATE PLAIN"}, {[]string{"XOAUTH2"}, "LOGIN "}} {
		ms := startMemServer(t, tc.mechs, true)
		c, err := ms.dial(nil, memPassword, "")
		if err != nil {
			t.Fatalf("offering %v: %v", tc.mechs, err)
		}
		c.Close()
		if sent := strings.Join(ms.rec.lines(), "\n"); !strings.Contains(sent, tc.verb) {
			t.Errorf("offering %v: client did not send %q:\n%s", tc.mechs, tc.verb, sent)
		}
	}
}

// TestOAuth2Dovecot: against Dovecot's oauth2 passdb (asking dovetest's
// introspection endpoint), both token mechanisms and the default log in
// with a good token, and a refused one gets Dovecot's NO (not a BAD for a
// malformed answer to its error challenge), as ErrAuth, naming the
// mechanism, without the token. Dovecot's log says which mechanism was
// used.
func TestOAuth2Dovecot(t *testing.T) {
	user := "oauthee"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, OAuth2: &dovetest.OAuth2Options{}})
	dial := func(mechs []string, token string) error {
		c, err := Dial(context.Background(), Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
			Timeout: 10 * time.Second, Mechanisms: mechs,
			Token: func(context.Context) (string, error) { return token, nil }})
		if err == nil {
			_, err = c.List(context.Background(), nil)
			c.Close()
		}
		return err
	}
	for _, tc := range []struct {
		mechs []string
		used  string
	}{{[]string{"XOAUTH2"}, "XOAUTH2"}, {[]string{"OAUTHBEARER"}, "OAUTHBEARER"}, {nil, "OAUTHBEARER"}} {
		name := strings.Join(tc.mechs, ",")
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			login := "Login: user=<" + user + ">, method=" + tc.used + ","
			before := logCount(t, srv, login)
			if err := dial(tc.mechs, srv.OAuth2Token(user)); err != nil {
				t.Fatalf("good token: %v", err)
			}
			if n := waitLogCount(t, srv, login, before+1); n != before+1 {
				t.Errorf("Dovecot logged %d logins with method=%s, want %d", n, tc.used, before+1)
			}
			bad := "refused-" + srv.OAuth2Token(user)
			err := dial(tc.mechs, bad)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("refused token: %v, want ErrAuth", err)
			}
			msg := err.Error()
			for _, w := range []string{"with " + tc.used + ":", "[AUTHENTICATIONFAILED] Authentication failed."} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, bad) {
				t.Errorf("error %q holds the token", msg)
			}
			seen := srv.OAuth2Introspected()
			if len(seen) == 0 || seen[len(seen)-1] != bad {
				t.Errorf("Dovecot introspected %q, want the refused token last", seen)
			}
		})
	}
	t.Run("password beside", func(t *testing.T) {
		for _, m := range []string{"PLAIN", "LOGIN"} {
			c, err := Dial(context.Background(), Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
				Timeout: 10 * time.Second, Mechanisms: []string{m},
				Password: func(context.Context) (string, error) { return srv.Password(user), nil }})
			if err != nil {
				t.Fatalf("%s: %v", m, err)
			}
			c.Close()
		}
	})
}

func logCount(t *testing.T, srv *dovetest.Server, s string) int {
	b, err := os.ReadFile(srv.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte(s))
}

// waitLogCount waits a little for Dovecot's log process to catch up.
func waitLogCount(t *testing.T, srv *dovetest.Server, s string, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := logCount(t, srv, s)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(f string, a ...interface{}) { l.t.Logf(f, a...) }

// TestSlowCredentials: a password or token source slower than the
// timeout (a pinentry prompt, a token refresh) is not taken for a stalled
// server: the wait for it is outside the span the timeout bounds.
func TestSlowCredentials(t *testing.T) {
	ms := startMemServer(t, []string{"PLAIN", "XOAUTH2"}, true)
	for _, token := range []bool{false, true} {
		slow := func(s string) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { time.Sleep(600 * time.Millisecond); return s, nil }
		}
		o := Options{Host: "127.0.0.1", Port: ms.port, TLS: TLSNone, User: memUser, Timeout: 200 * time.Millisecond}
		if token {
			o.Token = slow(memToken)
		} else {
			o.Password = slow(memPassword)
		}
		c, err := Dial(context.Background(), o)
		if err != nil {
			t.Fatalf("token %v: %v", token, err)
		}
		c.Close()
	}
}
