package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// traceStep is bytes one side sends.
type traceStep struct {
	server bool
	data   string
}

func cl(s string) traceStep { return traceStep{false, s} }
func sv(s string) traceStep { return traceStep{true, s} }

// runTracer feeds steps to a tracer, each cut into pieces of chunk bytes
// (0: whole), and returns its lines as "C: ..." and "S: ...".
func runTracer(steps []traceStep, chunk int) []string {
	var out []string
	tr := newTracer(func(fromServer bool, line string) {
		if fromServer {
			out = append(out, "S: "+line)
		} else {
			out = append(out, "C: "+line)
		}
	})
	for _, st := range steps {
		b := []byte(st.data)
		for len(b) > 0 {
			n := len(b)
			if chunk > 0 && chunk < n {
				n = chunk
			}
			tr.feed(st.server, b[:n])
			b = b[n:]
		}
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// secretForms are the ways a secret can appear in a trace: as it is, and
// base64-encoded at each of the three offsets it can have in a SASL blob
// (only the characters that depend on the secret alone).
func secretForms(secret string) []string {
	forms := []string{secret}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{0}, k), secret...))
		skip := []int{0, 2, 3}[k]
		end := (k + len(secret)) / 3 * 4
		if end > skip {
			forms = append(forms, enc[skip:end])
		}
	}
	return forms
}

func TestSecretForms(t *testing.T) {
	const pw = "hunter22-long"
	for _, blob := range []string{"\x00joe\x00" + pw, "\x00jo\x00" + pw, "\x00j\x00" + pw, pw} {
		enc := b64(blob)
		found := false
		for _, f := range secretForms(pw)[1:] {
			found = found || strings.Contains(enc, f)
		}
		if !found {
			t.Errorf("no form of %q in base64 %q of %q", pw, enc, blob)
		}
	}
}

const (
	tPass  = "hunter22-Pw"
	tToken = "ya29.tok-EN_secret"
)

var (
	plainIR = b64("\x00joe\x00" + tPass)
	xoauth2 = b64("user=joe@example.com\x01auth=Bearer " + tToken + "\x01\x01")
	errJSON = b64(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`)
	bearer  = b64("n,a=joe@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer " + tToken + "\x01\x01")
)

// TestTraceConversations: lines come out whole and in order whatever the
// reads and writes are cut into, literals come out as their size, and
// credentials never come out, while the lines around them do.
func TestTraceConversations(t *testing.T) {
	big := strings.Repeat("B", 100_000)
	tests := []struct {
		name  string
		steps []traceStep
		want  []string
	}{
		{"LOGIN with atoms", []traceStep{
			sv("* OK ready\r\n"), cl("a1 LOGIN joe " + tPass + "\r\n"), sv("a1 OK logged in\r\n"), cl("a2 SELECT INBOX\r\n"),
		}, []string{"S: * OK ready", "C: a1 LOGIN <redacted>", "S: a1 OK logged in", "C: a2 SELECT INBOX"}},
		{"LOGIN with quoted strings", []traceStep{
			cl(`T1 login "joe" "` + tPass + `\"q"` + "\r\n"), sv("T1 OK\r\n"), cl("T2 NOOP\r\n"),
		}, []string{"C: T1 LOGIN <redacted>", "S: T1 OK", "C: T2 NOOP"}},
		{"LOGIN with synchronising literals", []traceStep{
			cl("T1 LOGIN {3}\r\n"), sv("+ Ready\r\n"), cl("joe {11}\r\n"), sv("+ go on\r\n"),
			cl(tPass + "\r\n"), sv("T1 NO [AUTHENTICATIONFAILED] no\r\n"), cl("T2 LOGOUT\r\n"),
		}, []string{"C: T1 LOGIN <redacted>", "S: + Ready", "C: <redacted>", "S: + go on", "C: <redacted>",
			"S: T1 NO [AUTHENTICATIONFAILED] no", "C: T2 LOGOUT"}},
		{"LOGIN with LITERAL+", []traceStep{
			cl("T1 LOGIN joe {11+}\r\n" + tPass + "\r\nT2 CAPABILITY\r\n"), sv("T1 OK\r\n"),
		}, []string{"C: T1 LOGIN <redacted>", "C: <redacted>", "C: T2 CAPABILITY", "S: T1 OK"}},
		{"AUTHENTICATE PLAIN with SASL-IR", []traceStep{
			cl("T1 AUTHENTICATE PLAIN " + plainIR + "\r\n"), sv("T1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"), cl("T2 LIST \"\" *\r\n"),
		}, []string{"C: T1 AUTHENTICATE PLAIN <redacted>", "S: T1 OK [CAPABILITY IMAP4rev1] Logged in", `C: T2 LIST "" *`}},
		{"AUTHENTICATE PLAIN with SASL-IR, the first round pipelined behind it", []traceStep{
			cl("M1 AUTHENTICATE PLAIN " + plainIR + "\r\n"), cl("T1 STATUS INBOX (UIDNEXT)\r\n"), cl("T2 LIST \"\" *\r\n"),
			sv("M1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		}, []string{"C: M1 AUTHENTICATE PLAIN <redacted>", "C: T1 STATUS INBOX (UIDNEXT)", `C: T2 LIST "" *`, "S: M1 OK [CAPABILITY IMAP4rev1] Logged in"}},
		{"AUTHENTICATE with SASL-IR, then a continuation", []traceStep{
			cl("T1 AUTHENTICATE PLAIN " + plainIR + "\r\n"), sv("+ more\r\n"), cl(plainIR + "\r\n"), sv("T1 OK\r\n"),
		}, []string{"C: T1 AUTHENTICATE PLAIN <redacted>", "S: + more", "C: <redacted>", "S: T1 OK"}},
		{"AUTHENTICATE PLAIN with a continuation", []traceStep{
			cl("T1 AUTHENTICATE PLAIN\r\n"), sv("+ \r\n"), cl(plainIR + "\r\n"), sv("T1 OK\r\n"),
		}, []string{"C: T1 AUTHENTICATE PLAIN", "S: + ", "C: <redacted>", "S: T1 OK"}},
		{"AUTHENTICATE LOGIN", []traceStep{
			cl("T1 AUTHENTICATE LOGIN\r\n"), sv("+ " + b64("Username:") + "\r\n"), cl(b64("joe") + "\r\n"),
			sv("+ " + b64("Password:") + "\r\n"), cl(b64(tPass) + "\r\n"), sv("T1 OK\r\n"),
		}, []string{"C: T1 AUTHENTICATE LOGIN", "S: + VXNlcm5hbWU6", "C: <redacted>", "S: + UGFzc3dvcmQ6", "C: <redacted>", "S: T1 OK"}},
		{"AUTHENTICATE XOAUTH2 refused with an error challenge", []traceStep{
			cl("T1 AUTHENTICATE XOAUTH2 " + xoauth2 + "\r\n"), sv("+ " + errJSON + "\r\n"), cl("\r\n"),
			sv("T1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"), cl("T2 LOGOUT\r\n"),
		}, []string{"C: T1 AUTHENTICATE XOAUTH2 <redacted>", "S: + " + errJSON, "C: <redacted>",
			"S: T1 NO [AUTHENTICATIONFAILED] Invalid credentials", "C: T2 LOGOUT"}},
		{"AUTHENTICATE XOAUTH2 without SASL-IR", []traceStep{
			cl("T1 AUTHENTICATE XOAUTH2\r\n"), sv("+ \r\n"), cl(xoauth2 + "\r\n"), sv("T1 OK\r\n"),
		}, []string{"C: T1 AUTHENTICATE XOAUTH2", "S: + ", "C: <redacted>", "S: T1 OK"}},
		{"AUTHENTICATE OAUTHBEARER, cancelled", []traceStep{
			cl("T1 AUTHENTICATE OAUTHBEARER " + bearer + "\r\n"), sv("+ " + errJSON + "\r\n"), cl("*\r\n"),
			sv("T1 BAD cancelled\r\n"),
		}, []string{"C: T1 AUTHENTICATE OAUTHBEARER <redacted>", "S: + " + errJSON, "C: *", "S: T1 BAD cancelled"}},
		{"a server that repeats the credentials", []traceStep{
			cl("T1 AUTHENTICATE XOAUTH2 " + xoauth2 + "\r\n"),
			sv("+ " + b64(`{"status":"401","token":"`+tToken+`"}`) + "\r\n"), cl("\r\n"),
			sv("* OK you sent " + xoauth2 + "\r\n"), sv("T1 NO bad token " + tToken + "\r\n"),
			cl("T2 LOGIN joe " + tPass + "\r\n"), sv("T2 NO wrong password " + tPass + "\r\n"),
			cl("T3 LOGIN joe {11+}\r\n" + tPass + "\r\n"), sv("T3 NO wrong password " + tPass + "\r\n"),
			cl(`T4 LOGIN "joe" "` + tPass + `"` + "\r\n"), sv("T4 NO wrong password " + tPass + "\r\n"),
			cl("T5 AUTHENTICATE PLAIN " + plainIR + "\r\n"), sv("T5 NO wrong password " + tPass + "\r\n"),
			// A token longer than a line (cut where its base64 does not
			// decode), and an echo of it.
			cl("T61 AUTHENTICATE XOAUTH2 " + b64("user=joe\x01auth=Bearer "+tToken+strings.Repeat("t", 4000)+"\x01\x01") + "\r\n"),
			sv("+ " + b64(`{"status":"401","token":"`+tToken+strings.Repeat("t", 1100)+`"}`) + "\r\n"),
			sv("* NO " + strings.Repeat(".", traceLineMax-10) + tPass + "\r\n"), sv("T61 NO\r\n"),
			sv("* OK " + tPass + " is not a secret after the answer\r\n"),
		}, []string{"C: T1 AUTHENTICATE XOAUTH2 <redacted>", "S: " + echoRedacted, "C: <redacted>",
			"S: " + echoRedacted, "S: " + echoRedacted, "C: T2 LOGIN <redacted>", "S: " + echoRedacted,
			"C: T3 LOGIN <redacted>", "C: <redacted>", "S: " + echoRedacted,
			"C: T4 LOGIN <redacted>", "S: " + echoRedacted, "C: T5 AUTHENTICATE PLAIN <redacted>", "S: " + echoRedacted,
			"C: T61 AUTHENTICATE XOAUTH2 <redacted>", "S: " + echoRedacted, "S: " + longRedacted, "S: T61 NO",
			"S: * OK " + tPass + " is not a secret after the answer"}},
		{"a FETCH of a big body", []traceStep{
			cl("T5 UID FETCH 7 (UID BODY.PEEK[])\r\n"),
			sv("* 3 FETCH (UID 7 BODY[] {100000}\r\n" + big + ")\r\n"), sv("T5 OK done\r\n"),
		}, []string{"C: T5 UID FETCH 7 (UID BODY.PEEK[])", "S: * 3 FETCH (UID 7 BODY[] {100000}",
			"S: <literal 100000 bytes>)", "S: T5 OK done"}},
		{"two literals in a line, and an empty one", []traceStep{
			sv("* 1 FETCH (BODY[HEADER] {3}\r\nabc BODY[TEXT] {0}\r\n BODY[1] {2}\r\nde)\r\n"),
		}, []string{"S: * 1 FETCH (BODY[HEADER] {3}", "S: <literal 3 bytes> BODY[TEXT] {0}",
			"S: <literal 0 bytes> BODY[1] {2}", "S: <literal 2 bytes>)"}},
		{"a BINARY literal", []traceStep{
			sv("* 1 FETCH (UID 2 BINARY[] ~{7}\r\n\x00\x01}\r\nxy)\r\n* 2 EXISTS\r\n"),
		}, []string{"S: * 1 FETCH (UID 2 BINARY[] ~{7}", "S: <literal 7 bytes>)", "S: * 2 EXISTS"}},
		{"an APPEND", []traceStep{
			cl("T9 APPEND INBOX (\\Seen) {12+}\r\nHello\r\n{3}\r\n\r\n"), sv("T9 OK [APPENDUID 1 5] done\r\n"),
		}, []string{`C: T9 APPEND INBOX (\Seen) {12+}`, "C: <literal 12 bytes>", "S: T9 OK [APPENDUID 1 5] done"}},
		{"bare LF line ends and control characters", []traceStep{
			sv("* OK \x1b[31mred\u009b\xff\x7f\tend\n* 1 EXISTS\n"),
		}, []string{`S: * OK \x1b[31mred\u009b\xff\x7f` + "\tend", "S: * 1 EXISTS"}},
		{"a long line", []traceStep{
			sv("* SEARCH " + strings.Repeat("1 ", 3000) + "{4}\r\nabcd)\r\n"),
		}, []string{"S: * SEARCH " + strings.Repeat("1 ", 3000)[:traceLineMax-len("* SEARCH ")] + " <1916 more bytes>",
			"S: <literal 4 bytes>)"}},
		{"no literal", []traceStep{
			sv("* OK {x} {-1} {} {+} {12a}\r\n* OK {99999999999999999999}\r\n* OK {-1}\r\n* OK {+5}\r\nnext\r\n"),
		}, []string{"S: * OK {x} {-1} {} {+} {12a}", "S: * OK {99999999999999999999}", "S: * OK {-1}", "S: * OK {+5}", "S: next"}},
		{"an empty initial response", []traceStep{
			cl("T1 AUTHENTICATE EXTERNAL =\r\n"), sv("T1 OK [X=Y] done\r\n"),
		}, []string{"C: T1 AUTHENTICATE EXTERNAL <redacted>", "S: T1 OK [X=Y] done"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 7, 4096} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, chunk), func(t *testing.T) {
				got := runTracer(tt.steps, chunk)
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	}
}

// TestTraceNeverShowsSecrets: no form of the password or the token, and
// no byte of a literal, comes out of any of the conversations above cut
// at any point.
func TestTraceNeverShowsSecrets(t *testing.T) {
	steps := []traceStep{
		cl("T1 LOGIN {3}\r\n"), sv("+ Ready\r\n"), cl("joe {11}\r\n"), sv("+ Ready\r\n"), cl(tPass + "\r\n"), sv("T1 NO\r\n"),
		cl("T2 AUTHENTICATE PLAIN " + plainIR + "\r\n"), sv("T2 NO\r\n"),
		cl("T3 AUTHENTICATE LOGIN\r\n"), sv("+ VXNlcm5hbWU6\r\n"), cl(b64("joe") + "\r\n"), sv("+ UGFzc3dvcmQ6\r\n"),
		cl(b64(tPass) + "\r\n"), sv("T3 NO\r\n"),
		cl("T4 AUTHENTICATE XOAUTH2\r\n"), sv("+ \r\n"), cl(xoauth2 + "\r\n"), sv("+ " + b64(tToken) + "\r\n"), cl("\r\n"), sv("T4 NO " + tToken + "\r\n"),
		cl("T5 AUTHENTICATE OAUTHBEARER " + bearer + "\r\n"), sv("T5 NO\r\n"),
		sv("* 1 FETCH (BODY[] {11}\r\nLITERALbody)\r\n"),
	}
	for chunk := 0; chunk < 40; chunk++ {
		out := strings.Join(runTracer(steps, chunk), "\n")
		for _, s := range append(append(secretForms(tPass), secretForms(tToken)...), "LITERAL") {
			if strings.Contains(out, s) {
				t.Fatalf("chunk %d: the trace shows %q:\n%s", chunk, s, out)
			}
		}
	}
}

// TestTraceBounded: a huge line and a huge literal leave the tracer holding
// no more than its limits.
func TestTraceBounded(t *testing.T) {
	n := 0
	tr := newTracer(func(bool, string) { n++ })
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	tr.feed(true, []byte("* 1 FETCH (BODY[] {104857600}\r\n"))
	for i := 0; i < 100<<20/len(chunk); i++ {
		tr.feed(true, chunk)
	}
	for i := 0; i < 100; i++ {
		tr.feed(true, chunk) // a 6.4 MB line after the literal
	}
	tr.feed(true, []byte("\r\n"))
	if n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
	if c := cap(tr.server.line); c > 2*traceLineMax {
		t.Errorf("line buffer of %d bytes", c)
	}
	if c := cap(tr.server.tail); c > 2*traceTailSize {
		t.Errorf("tail buffer of %d bytes", c)
	}
}

// TestTraceEndOfStream: what the server sent of a line or a literal before
// hanging up is shown, and said to be cut off.
func TestTraceEndOfStream(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{"* 1 FETCH (BODY[] {100}\r\n0123456789", "* 1 FETCH (BODY[] {100}\n<literal 100 bytes, cut off after 10> <end of stream>"},
		{"* BYE going awa", "* BYE going awa <end of stream>"},
		{"* 1 FETCH (BODY[] {3}\r\nabc", "* 1 FETCH (BODY[] {3}\n<literal 3 bytes> <end of stream>"},
		{"* OK fine\r\n", "* OK fine"},
	} {
		server, client := net.Pipe()
		var lines []string
		c := newTraceConn(client, func(_ bool, l string) { lines = append(lines, l) })
		go func() {
			_, _ = server.Write([]byte(tt.data))
			server.Close()
		}()
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		if got := strings.Join(lines, "\n"); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.data, got, tt.want)
		}
	}
}

// TestTracePreTLS: the trace of the exchange before a STARTTLS upgrade
// ends with the answer to STARTTLS, or with a TLS handshake the client
// starts (startTLS's probe of a silent server); TLS records are not shown.
func TestTracePreTLS(t *testing.T) {
	record := "\x16\x03\x01\x00\x05\r\nab{3}\r\nzzzzzz\r\n"
	for _, tt := range []struct {
		name  string
		steps []traceStep
		want  []string
	}{
		{"upgrade", []traceStep{
			sv("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"), cl("S1 STARTTLS\r\n"), sv("S1 OK go\r\n\x16\x03" + record),
			cl(record), sv(record),
		}, []string{"S: * OK [CAPABILITY IMAP4rev1 STARTTLS] hi", "C: S1 STARTTLS", "S: S1 OK go"}},
		// The partial line is not shown at the end of the stream either,
		// which can come long after, at the end of the TLS session.
		{"probe", []traceStep{sv("* OK hel"), cl(record), sv(record)}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tr := newTracer(func(fromServer bool, line string) {
				got = append(got, map[bool]string{false: "C: ", true: "S: "}[fromServer]+line)
			})
			tr.stopTag = "S1"
			for _, st := range tt.steps {
				tr.feed(st.server, []byte(st.data))
			}
			tr.eof()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// traceLog collects what a connection's trace shows.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) trace(fromServer bool, line string) {
	dir := "C: "
	if fromServer {
		dir = "S: "
	}
	l.mu.Lock()
	l.lines = append(l.lines, dir+line)
	l.mu.Unlock()
}

func (l *traceLog) String() string {
	return strings.Join(l.snapshot(), "\n")
}

// snapshot returns the lines collected so far.
func (l *traceLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// TestTraceDovecot: against Dovecot, the trace of a login with each of the
// password mechanisms, a SELECT and a FETCH of bodies shows the commands
// and the answers, with the body as its size, and no form of the password,
// right or wrong. Without Trace, nothing is put on the connection.
func TestTraceDovecot(t *testing.T) {
	const user = "tracer"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, OAuth2: &dovetest.OAuth2Options{}})
	ctx := context.Background()
	body := "Message-ID: <traced@test>\r\nSubject: t\r\n\r\nLITERAL-CONTENT\r\n"
	srv.Append(t, user, "INBOX", []byte(body))
	dial := func(mech, pass string, trace func(bool, string)) (*Conn, error) {
		return Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user, Mechanisms: []string{mech},
			Password: func(context.Context) (string, error) { return pass, nil }, Timeout: 10 * time.Second, Trace: trace})
	}
	for _, mech := range []string{MechPlain, MechLogin} {
		t.Run(mech, func(t *testing.T) {
			var log traceLog
			c, err := dial(mech, srv.Password(user), log.trace)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Select(ctx, "INBOX", false); err != nil {
				t.Fatal(err)
			}
			var sink sizeSink
			if err := c.FetchBodies(ctx, []uint32{1}, &sink); err != nil {
				t.Fatal(err)
			}
			c.Close()
			out := log.String()
			t.Logf("trace:\n%s", out)
			login := map[string]string{MechPlain: "AUTHENTICATE PLAIN <redacted>", MechLogin: "LOGIN <redacted>"}[mech]
			for _, want := range []string{"S: * OK ", " " + login + "\n", "SELECT INBOX", "S: * 1 FETCH (",
				fmt.Sprintf("S: <literal %d bytes>", len(body))} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the trace", want)
				}
			}
			for _, s := range append(secretForms(srv.Password(user)), "LITERAL-CONTENT") {
				if strings.Contains(out, s) {
					t.Errorf("the trace shows %q", s)
				}
			}
		})
		t.Run(mech+" refused", func(t *testing.T) {
			var log traceLog
			// Not ASCII, so go-imap sends it to LOGIN as a literal.
			const wrong = "wrong-Pä55word"
			_, err := dial(mech, wrong, log.trace)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			out := log.String()
			if !strings.Contains(out, "S: T1 NO ") {
				t.Errorf("no refusal in the trace:\n%s", out)
			}
			if mech == MechLogin && !strings.Contains(out, "C: <redacted>\n") {
				t.Errorf("the password was not sent as a literal:\n%s", out)
			}
			for _, s := range secretForms(wrong) {
				if strings.Contains(out, s) || strings.Contains(err.Error(), s) {
					t.Errorf("the trace or the error shows %q: %v\n%s", s, err, out)
				}
			}
		})
	}
	for _, mech := range []string{MechXOAuth2, MechOAuthBearer} {
		for name, token := range map[string]string{"good": srv.OAuth2Token(user), "refused": "refused-token-" + user} {
			t.Run(mech+"/"+name, func(t *testing.T) {
				var log traceLog
				c, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user, Mechanisms: []string{mech},
					Token: func(context.Context) (string, error) { return token, nil }, Timeout: 10 * time.Second, Trace: log.trace})
				if err == nil {
					c.Close()
				}
				out := log.String()
				t.Logf("trace:\n%s", out)
				if !strings.Contains(out, " AUTHENTICATE "+mech+" <redacted>\n") {
					t.Errorf("no AUTHENTICATE in the trace")
				}
				for _, s := range secretForms(token) {
					if strings.Contains(out, s) {
						t.Errorf("the trace shows %q", s)
					}
				}
			})
		}
	}
	t.Run("off", func(t *testing.T) {
		c, err := dial(MechPlain, srv.Password(user), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.g.Conn.(*traceConn); ok {
			t.Error("a connection without Trace is traced")
		}
	})
}

// TestTraceDovecotTLS: over TLS the trace shows the same plaintext
// conversation, not TLS records; with STARTTLS it starts with the exchange
// before the upgrade.
func TestTraceDovecotTLS(t *testing.T) {
	s := startTLSDovecot(t, &dovetest.TLSOptions{})
	for _, tt := range []struct {
		mode  TLSMode
		first string
	}{
		{TLSImplicit, "S: * OK [CAPABILITY IMAP4rev1 "},
		{TLSStartTLS, "S: * OK [CAPABILITY IMAP4rev1 "},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			var log traceLog
			o := tlsOptions(s, portFor(s, tt.mode), tt.mode)
			o.CAFile, o.Trace = s.CertFile, log.trace
			mustDialTLS(t, o)
			out := log.String()
			t.Logf("trace:\n%s", out)
			lines := strings.Split(out, "\n")
			if !strings.HasPrefix(lines[0], tt.first) {
				t.Errorf("the trace starts with %q, want %q", lines[0], tt.first)
			}
			want := []string{" AUTHENTICATE PLAIN <redacted>\n", ` LIST "" "*"` + "\n"}
			if tt.mode == TLSStartTLS {
				want = append(want, "\nC: S1 STARTTLS\nS: S1 OK ")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in the trace", w)
				}
			}
			if strings.Contains(out, `\x`) {
				t.Errorf("the trace shows binary data (TLS records?)")
			}
			for _, f := range secretForms(s.Password(tlsUser)) {
				if strings.Contains(out, f) {
					t.Errorf("the trace shows %q", f)
				}
			}
		})
	}
}

// BenchmarkTrace: the tracer's cost per byte of a conversation of FETCH
// responses with 20 kB bodies, the bulk of a sync, with the lines
// discarded (the log's own cost is apart).
func BenchmarkTrace(b *testing.B) {
	var conv []byte
	for i := 1; i <= 50; i++ {
		conv = fmt.Appendf(conv, "* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE 20000 BODY[] {20000}\r\n%s)\r\n", i, i, strings.Repeat("x", 20000))
	}
	tr := newTracer(func(bool, string) {})
	b.SetBytes(int64(len(conv)))
	for i := 0; i < b.N; i++ {
		for p := conv; len(p) > 0; {
			n := min(len(p), 4096) // go-imap reads through a 4 KiB bufio.Reader
			tr.feed(true, p[:n])
			p = p[n:]
		}
	}
}
