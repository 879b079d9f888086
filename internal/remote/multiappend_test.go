package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/dovetest"
	"mailsync/internal/mutf7"
)

func TestParseUIDList(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want []uint32 // nil: not accepted
	}{
		{"5", 1, []uint32{5}},
		{"3:5", 3, []uint32{3, 4, 5}},
		{"5:3", 3, []uint32{3, 4, 5}},
		{"7:7", 1, []uint32{7}},
		{"4,7:9", 4, []uint32{4, 7, 8, 9}},
		{"9:7,4", 4, []uint32{4, 7, 8, 9}},
		{"9,4,6", 3, []uint32{4, 6, 9}},
		{"1,2,3,4", 4, []uint32{1, 2, 3, 4}},
		{"4294967293:4294967295", 3, []uint32{4294967293, 4294967294, 4294967295}},
		{"4294967295", 1, []uint32{4294967295}},
		{"007", 1, []uint32{7}},
		// Duplicates: fewer distinct UIDs than messages.
		{"3,3", 2, nil},
		{"3:5,4", 4, nil},
		{"3:5,5:3", 6, nil},
		// Wrong count.
		{"3:5", 2, nil},
		{"3:5", 4, nil},
		{"3,4", 1, nil},
		{"3", 2, nil},
		{"3", 0, nil},
		{"1:4294967295", 3, nil}, // must not expand four billion UIDs
		{"1:4294967295", 1 << 20, nil},
		// Zero is no UID.
		{"0", 1, nil},
		{"0:2", 3, nil},
		{"2:0", 3, nil},
		{"1,0", 2, nil},
		// Garbage.
		{"", 1, nil},
		{"*", 1, nil},
		{"3:*", 3, nil},
		{"3:", 1, nil},
		{":3", 1, nil},
		{"3,,4", 2, nil},
		{"3,", 1, nil},
		{",3", 1, nil},
		{"-1", 1, nil},
		{"+3", 1, nil},
		{" 3", 1, nil},
		{"3 ", 1, nil},
		{"4294967296", 1, nil},
		{"1:4294967296", 1, nil},
		{"3:4:5", 3, nil},
		{"0x10", 1, nil},
	}
	for _, tt := range tests {
		got, ok := parseUIDList(tt.s, tt.n)
		if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("parseUIDList(%q, %d) = %v, %v; want %v", tt.s, tt.n, got, ok, tt.want)
		}
	}
}

func TestParseAppendAnswer(t *testing.T) {
	tests := []struct {
		line     string
		n        int
		want     []uint32
		rejected bool // errors.Is(err, ErrAppendRejected)
		err      bool // another error
	}{
		{line: "M1 OK [APPENDUID 7 3:5] done", n: 3, want: []uint32{3, 4, 5}},
		{line: "M1 OK [APPENDUID 7 3:5]", n: 3, want: []uint32{3, 4, 5}},
		{line: "M1 OK [APPENDUID 1234567 9] Append completed (0.001 + 0.000 secs).", n: 1, want: []uint32{9}},
		{line: "M1 OK [APPENDUID 7 5:3] done", n: 3, want: []uint32{3, 4, 5}},
		{line: "M1 OK [APPENDUID 7 3,5,4] done", n: 3, want: []uint32{3, 4, 5}},
		{line: "M1 OK [APPENDUID 7 10,3:4] done", n: 3, want: []uint32{3, 4, 10}},
		{line: "M1 ok [appenduid 7 3:5] done", n: 3, want: []uint32{3, 4, 5}},
		// OK, but no usable UIDs: no error, no UIDs.
		{line: "M1 OK append completed", n: 3},
		{line: "M1 OK", n: 1},
		{line: "M1 OK [APPENDUID 7 3:4] done", n: 3},
		{line: "M1 OK [APPENDUID 7 3:6] done", n: 3},
		{line: "M1 OK [APPENDUID 7 3,3,4] done", n: 3},
		{line: "M1 OK [APPENDUID 7 0:2] done", n: 3},
		{line: "M1 OK [APPENDUID 7 0] done", n: 1},
		{line: "M1 OK [APPENDUID 7] done", n: 1},
		{line: "M1 OK [APPENDUID 7 3 4] done", n: 1},
		{line: "M1 OK [APPENDUID 7 3:5 done", n: 3},
		{line: "M1 OK [APPENDUID 7 x:y] done", n: 2},
		{line: "M1 OK [COPYUID 7 1:3 3:5] done", n: 3},
		{line: "M1 OK [X-APPENDED 7 3:5] done", n: 3},
		{line: "M1 OK [READ-WRITE] done", n: 1},
		{line: "M1 OK done [APPENDUID 7 3:5]", n: 3},
		// Refused: nothing was appended.
		{line: "M1 NO [TRYCREATE] Mailbox doesn't exist: Nope", n: 3, rejected: true},
		{line: "M1 NO [OVERQUOTA] Quota exceeded", n: 1, rejected: true},
		{line: "M1 no", n: 1, rejected: true},
		// BAD: the server may have lost track of where the messages end,
		// so the connection can't be trusted; not a clean refusal.
		{line: "M1 BAD Error in IMAP command APPEND: Invalid arguments.", n: 1, err: true},
		{line: "M1 bad [APPENDUID 7 3] x", n: 1, err: true},
		{line: "M1 BAD", n: 1, err: true},
		// Not an answer to this command.
		{line: "M2 OK [APPENDUID 7 3:5] done", n: 3, err: true},
		{line: "M10 OK [APPENDUID 7 3:5] done", n: 3, err: true},
		{line: "M2 NO no", n: 1, err: true},
		{line: "M1", n: 1, err: true},
		{line: "M1OK [APPENDUID 7 3] done", n: 1, err: true},
		{line: "M1 ", n: 1, err: true},
		{line: "M1  OK", n: 1, err: true},
		{line: "M1 PREAUTH x", n: 1, err: true},
		{line: "M1 BYE x", n: 1, err: true},
		{line: "M1 OKAY [APPENDUID 7 3] x", n: 1, err: true},
		{line: "* OK [APPENDUID 7 3] x", n: 1, err: true},
		{line: "", n: 1, err: true},
		{line: "\x00\xff garbage", n: 1, err: true},
	}
	for _, tt := range tests {
		got, err := parseAppendAnswer(tt.line, "M1", tt.n)
		if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%q (n=%d): UIDs %v, want %v", tt.line, tt.n, got, tt.want)
		}
		switch {
		case tt.rejected:
			if !errors.Is(err, ErrAppendRejected) {
				t.Errorf("%q: err = %v, want ErrAppendRejected", tt.line, err)
			} else if text := strings.SplitN(tt.line, " ", 3); len(text) == 3 && !strings.Contains(err.Error(), text[2]) {
				t.Errorf("%q: err = %v, want the server's text in it", tt.line, err)
			}
		case tt.err:
			if err == nil || errors.Is(err, ErrAppendRejected) {
				t.Errorf("%q: err = %v, want an error other than ErrAppendRejected", tt.line, err)
			}
		case err != nil:
			t.Errorf("%q: unexpected error %v", tt.line, err)
		}
	}
}

func FuzzParseAppendAnswer(f *testing.F) {
	for _, s := range []string{
		"M1 OK [APPENDUID 7 3:5] done", "M1 OK [APPENDUID 7 5:3]", "M1 OK [APPENDUID 7 4,7:9] x",
		"M1 OK [APPENDUID 7 3,3,4] x", "M1 OK [APPENDUID 7 0:2] x", "M1 OK [APPENDUID 7 1:4294967295] x",
		"M1 OK [APPENDUID 7 4294967295:4294967290] x", "M1 NO [TRYCREATE] no", "M1 BAD x", "M1 OK",
		"M2 OK [APPENDUID 7 1] x", "M1 OK [APPENDUID 7 3:5", "",
	} {
		for _, n := range []uint16{0, 1, 3, 6, 65535} {
			f.Add(s, n)
		}
	}
	f.Fuzz(func(t *testing.T, line string, n16 uint16) {
		n := int(n16)
		uids, err := parseAppendAnswer(line, "M1", n)
		if err != nil {
			if uids != nil {
				t.Fatalf("%q: UIDs %v with error %v", line, uids, err)
			}
			if errors.Is(err, ErrAppendRejected) {
				if !strings.HasPrefix(line, "M1 ") {
					t.Fatalf("%q: ErrAppendRejected for an answer to another command", line)
				}
				if status := strings.ToUpper(strings.SplitN(line, " ", 3)[1]); status != "NO" {
					t.Fatalf("%q: ErrAppendRejected for a line that is not NO", line)
				}
			}
			return
		}
		if !strings.HasPrefix(line, "M1 ") {
			t.Fatalf("%q: accepted as the answer to M1", line)
		}
		if uids == nil {
			return
		}
		if len(uids) != n {
			t.Fatalf("%q: %d UIDs for %d messages: %v", line, len(uids), n, uids)
		}
		for i, u := range uids {
			if u == 0 || (i > 0 && u <= uids[i-1]) {
				t.Fatalf("%q: UIDs not distinct, ascending and non-zero: %v", line, uids)
			}
		}
		if !strings.EqualFold(strings.SplitN(line, " ", 3)[1], "OK") {
			t.Fatalf("%q: UIDs from an answer that is not OK", line)
		}
	})
}

func TestQuoteMailbox(t *testing.T) {
	tests := []struct{ name, want string }{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"InBoX", "INBOX"},
		{"INBOX.Sent", `"INBOX.Sent"`},
		{"Sent", `"Sent"`},
		{"", `""`},
		{"a b", `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{`\"`, `"\\\""`},
		{`Entwürfe "Ü" \ & 日本`, `"Entw&APw-rfe \"&ANw-\" \\ &- &ZeVnLA-"`},
		{"tab\there", `"tab&AAk-here"`},
		{"cr\r\nlf", `"cr&AA0ACg-lf"`},
	}
	for _, c := range utf7Cases {
		if !strings.EqualFold(c.utf8, "INBOX") {
			tests = append(tests, struct{ name, want string }{c.utf8, `"` + c.wire + `"`})
		}
	}
	for _, tt := range tests {
		got := quoteMailbox(tt.name)
		if got != tt.want {
			t.Errorf("quoteMailbox(%q) = %q; want %q", tt.name, got, tt.want)
			continue
		}
		if got == "INBOX" {
			continue
		}
		// Whatever the name, the result is one quoted string of printable
		// ASCII that decodes back to it.
		inner := got[1 : len(got)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] < 0x20 || inner[i] > 0x7e {
				t.Errorf("quoteMailbox(%q) = %q: byte %#x can't be sent in a quoted string", tt.name, got, inner[i])
			}
		}
		unq, ok := unquote(inner)
		if !ok {
			t.Errorf("quoteMailbox(%q) = %q: unescaped quote or backslash", tt.name, got)
			continue
		}
		if dec, ok := mutf7.Decode(unq); !ok || dec != tt.name {
			t.Errorf("quoteMailbox(%q) = %q, which decodes to %q, %v", tt.name, got, dec, ok)
		}
	}
}

// unquote undoes the escapes inside a quoted string; ok is false for a
// quote or backslash that is not escaped.
func unquote(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return "", false
		case '\\':
			i++
			if i == len(s) || (s[i] != '\\' && s[i] != '"') {
				return "", false
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}

func TestSendableFlag(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		// The system flags a client may set, in any case.
		{`\Seen`, true},
		{`\Answered`, true},
		{`\Flagged`, true},
		{`\Deleted`, true},
		{`\Draft`, true},
		{`\SEEN`, true},
		{`\seen`, true},
		{`\dRaFt`, true},
		// \Recent is the server's to set, and other flag-extensions are
		// refused (Dovecot answers BAD in the middle of the command).
		{`\Recent`, false},
		{`\recent`, false},
		{`\Foo`, false},
		{`\Seen2`, false},
		{`\Seen `, false},
		{`\*`, false},
		{`\`, false},
		{`\\Seen`, false},
		// Keywords: atoms.
		{`$Forwarded`, true},
		{`$MDNSent`, true},
		{`Junk`, true},
		{`Seen`, true},
		{`Recent`, true},
		{`a[b`, true},
		{`x-y.z_1+2&3'4!5#6~7`, true},
		{``, false},
		{`Se\en`, false},
		{`a\`, false},
		{`a b`, false},
		{"a\tb", false},
		{"a\r\n", false},
		{"a\x00", false},
		{"a\x7f", false},
		{`ä`, false},
		{`a(`, false},
		{`a)`, false},
		{`a{`, false},
		{`a%`, false},
		{`a*`, false},
		{`a"`, false},
		{`a]`, false},
	}
	for _, tt := range tests {
		if got := sendableFlag(imap.Flag(tt.s)); got != tt.want {
			t.Errorf("sendableFlag(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestAppendDate(t *testing.T) {
	zone := time.FixedZone("", -(9*3600 + 30*60))
	tests := []struct {
		in   time.Time
		sent bool // returned unchanged; otherwise zero
	}{
		{time.Time{}, false},
		{time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), true},
		{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), true},
		{time.Date(1, 1, 1, 0, 0, 0, 0, zone), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, zone), true},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, zone), false},
		{time.Date(123456, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(-5000, 6, 1, 0, 0, 0, 0, zone), false},
		{time.Unix(1<<62, 0), false},
		{time.Unix(-1<<62, 0), false},
	}
	for _, tt := range tests {
		got := appendDate(tt.in)
		want := time.Time{}
		if tt.sent {
			want = tt.in
		}
		if !got.Equal(want) || got.Location() != want.Location() {
			t.Errorf("appendDate(%v) = %v, want %v", tt.in, got, want)
		}
		if got.IsZero() {
			continue
		}
		// What is sent is a date-time: a four-digit year.
		if s := got.Format("_2-Jan-2006 15:04:05 -0700"); len(s) != len(" 2-Jan-2006 15:04:05 -0700") {
			t.Errorf("appendDate(%v) formats as %q", tt.in, s)
		}
	}
}

// appendScript is a scripted IMAP server on one end of a pipe, for
// MultiAppend: it logs the client in with MULTIAPPEND, LITERAL+ and UIDPLUS
// (or caps), answers NOOP, SELECT and UID FETCH with fixed data, reads each
// APPEND whole (literals included) and lets onAppend answer it.
type appendScript struct {
	caps  string
	chunk int // the server writes its answers in pieces of at most this size; 0: whole
	// onAppend returns the answer to an APPEND (tag and the full command
	// text, literals included), written as it is; "" holds the answer back.
	onAppend func(tag, cmd string) string
	appends  chan string // every APPEND's command text
	hangUp   bool        // close the connection after answering an APPEND
	// received, if set, gets every byte the server reads, as it reads it.
	received *bytes.Buffer
	ended    <-chan struct{} // closed when serve returns (set by dialScript)
}

// teeConn copies what is read from the connection into w.
type teeConn struct {
	net.Conn
	w io.Writer
}

func (t teeConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.w.Write(p[:n])
	return n, err
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\+?\}\r\n$`)

// serve runs the script on c until LOGOUT or an error.
func (s *appendScript) serve(c net.Conn) error {
	defer c.Close()
	var rc io.Reader = c
	if s.received != nil {
		rc = teeConn{c, s.received}
	}
	r := bufio.NewReader(rc)
	write := func(text string) error {
		for text != "" {
			n := len(text)
			if s.chunk > 0 {
				n = min(n, s.chunk)
			}
			if _, err := io.WriteString(c, text[:n]); err != nil {
				return err
			}
			text = text[n:]
		}
		return nil
	}
	caps := s.caps
	if caps == "" {
		caps = "IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS"
	}
	if err := write("* OK [CAPABILITY IMAP4rev1] scripted\r\n"); err != nil {
		return err
	}
	for {
		var cmd strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			cmd.WriteString(line)
			m := literalAtEnd.FindStringSubmatch(line)
			if m == nil {
				break
			}
			n, _ := strconv.Atoi(m[1])
			if !strings.HasSuffix(m[0], "+}\r\n") {
				if err := write("+ go on\r\n"); err != nil {
					return err
				}
			}
			lit := make([]byte, n)
			if _, err := io.ReadFull(r, lit); err != nil {
				return err
			}
			cmd.Write(lit)
		}
		text := cmd.String()
		tag, rest, _ := strings.Cut(text, " ")
		name, _, _ := strings.Cut(strings.TrimRight(rest, "\r\n"), " ")
		var answer string
		switch strings.ToUpper(name) {
		case "LOGIN":
			answer = tag + " OK [CAPABILITY " + caps + "] logged in\r\n"
		case "CAPABILITY":
			answer = "* CAPABILITY " + caps + "\r\n" + tag + " OK\r\n"
		case "NOOP":
			answer = tag + " OK noop\r\n"
		case "SELECT":
			answer = "* 5 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n* OK [UIDNEXT 6] n\r\n" + tag + " OK [READ-WRITE] selected\r\n"
		case "UID":
			answer = "* 1 FETCH (UID 3 FLAGS (\\Seen))\r\n* 2 FETCH (UID 4 FLAGS ())\r\n" + tag + " OK fetched\r\n"
		case "APPEND":
			s.appends <- text
			answer = s.onAppend(tag, text)
		case "LOGOUT":
			return write("* BYE\r\n" + tag + " OK\r\n")
		default:
			answer = tag + " BAD unexpected\r\n"
		}
		if err := write(answer); err != nil {
			return err
		}
		if s.hangUp && strings.EqualFold(name, "APPEND") {
			return nil
		}
	}
}

// dialScript logs in to s over a pipe.
func dialScript(t *testing.T, s *appendScript, timeout time.Duration) *Conn {
	t.Helper()
	if s.appends == nil {
		s.appends = make(chan string, 16)
	}
	c, done := dialPipe(t, s.serve, Options{Timeout: timeout})
	s.ended = done
	return c
}

// dialPipe logs in over a pipe to a scripted server that serve runs, with
// o and a scripted host, user and password; the connection and the server
// end with the test. done is closed when serve returns.
func dialPipe(t *testing.T, serve func(net.Conn) error, o Options) (c *Conn, done <-chan struct{}) {
	t.Helper()
	client, server := net.Pipe()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		serve(server)
	}()
	o.Host, o.TLS, o.User = "scripted", TLSNone, "u"
	o.Password = func(context.Context) (string, error) { return "p", nil }
	c, err := newConn(context.Background(), client, o)
	if err != nil {
		server.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		server.Close()
		<-ended
	})
	return c, ended
}

// scriptMessages are three messages to MultiAppend and the command text
// mailsync must send for them into the folder `Entwürfe "x"`, tag M1.
func scriptMessages() ([]AppendMessage, string) {
	bodies := []string{
		"Message-ID: <s1@test>\r\nSubject: one\r\n\r\nM1 OK fake\r\n",
		"Message-ID: <s2@test>\r\n\r\n",
		"Message-ID: <s3@test>\r\n\r\n" + strings.Repeat("three\r\n", 20000),
	}
	msgs := []AppendMessage{
		{Flags: []imap.Flag{imap.FlagSeen, "$Forwarded"}, Date: time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))},
		{},
		{Flags: []imap.Flag{imap.FlagFlagged}, Date: time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -8*3600))},
	}
	for i := range msgs {
		msgs[i].Size = int64(len(bodies[i]))
		msgs[i].Body = strings.NewReader(bodies[i])
	}
	wire := `M1 APPEND "Entw&APw-rfe \"x\""` +
		` (\Seen $Forwarded) " 4-Mar-2021 05:06:07 +0100" {` + strconv.Itoa(len(bodies[0])) + "+}\r\n" + bodies[0] +
		` {` + strconv.Itoa(len(bodies[1])) + "+}\r\n" + bodies[1] +
		` (\Flagged) "31-Dec-1999 23:59:59 -0800" {` + strconv.Itoa(len(bodies[2])) + "+}\r\n" + bodies[2] +
		"\r\n"
	return msgs, wire
}

// TestMultiAppendScripted runs MultiAppend against a scripted server whose
// answer comes in small pieces, mixed with untagged data and go-imap's own
// answers: the UIDs are picked out of it, and the connection keeps working
// for go-imap's commands.
func TestMultiAppendScripted(t *testing.T) {
	const box = `Entwürfe "x"`
	ctx := context.Background()
	for _, chunk := range []int{0, 1, 2, 3, 5, 7, 64} {
		t.Run("chunk "+strconv.Itoa(chunk), func(t *testing.T) {
			s := &appendScript{chunk: chunk, onAppend: func(tag, _ string) string {
				return "* 5 EXISTS\r\n* 3 RECENT\r\n" + tag + " OK [APPENDUID 9 3:5] appended\r\n"
			}}
			c := dialScript(t, s, 5*time.Second)
			if !c.CanMultiAppend() {
				t.Fatal("CanMultiAppend is false with MULTIAPPEND, LITERAL+ and UIDPLUS")
			}
			msgs, wire := scriptMessages()
			uids, err := c.MultiAppend(ctx, box, msgs)
			if err != nil || !slices.Equal(uids, []uint32{3, 4, 5}) {
				t.Fatalf("MultiAppend = %v, %v; want [3 4 5]", uids, err)
			}
			if got := <-s.appends; got != wire {
				t.Fatalf("sent\n%.300q\nwant\n%.300q", got, wire)
			}
			checkScriptConnWorks(t, c)
			// A second MultiAppend has its own tag. The script answers it
			// with APPENDUID 3:5 too, three UIDs for one message: no UIDs,
			// and no error.
			msgs, _ = scriptMessages()
			if uids, err = c.MultiAppend(ctx, "INBOX", msgs[:1]); err != nil || uids != nil {
				t.Fatalf("second MultiAppend = %v, %v; want no UIDs and no error", uids, err)
			}
			if got := <-s.appends; !strings.HasPrefix(got, "M2 APPEND INBOX (") {
				t.Fatalf("second MultiAppend sent %.60q", got)
			}
			checkScriptConnWorks(t, c)
		})
	}
}

// checkScriptConnWorks runs go-imap commands on a connection to an
// appendScript.
func checkScriptConnWorks(t *testing.T, c *Conn) {
	t.Helper()
	ctx := context.Background()
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("NOOP: %v", err)
	}
	st, err := c.Select(ctx, "INBOX", false)
	if err != nil || st.Messages != 5 || st.UIDNext != 6 || st.UIDValidity != 9 {
		t.Fatalf("SELECT: %+v, %v", st, err)
	}
	fl, err := c.FetchFlags(ctx, nil, 0)
	if err != nil || len(fl) != 2 || fl[0].UID != 3 || fl[1].UID != 4 || !slices.Equal(fl[0].Flags, []imap.Flag{imap.FlagSeen}) {
		t.Fatalf("FetchFlags: %+v, %v", fl, err)
	}
}

// TestMultiAppendScriptedAnswers covers the other answers a server may give.
func TestMultiAppendScriptedAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answer   string // to the MultiAppend; %s is its tag
		uids     []uint32
		rejected bool // ErrAppendRejected
		err      bool // another error
		works    bool // the connection still works afterwards
		hangUp   bool // the server closes the connection after its answer
	}{
		{name: "refused", answer: "* OK [ALERT] hmm\r\n%s NO [TRYCREATE] no such mailbox\r\n", rejected: true, works: true},
		// BAD: the server may have read message text as commands, so the
		// connection is given up, and the error is no clean refusal.
		{name: "BAD", answer: "%s BAD [PARSE] bad\r\n", err: true},
		{name: "BAD in lower case", answer: "* OK [ALERT] hmm\r\n%s bad\r\n", err: true},
		{name: "PREAUTH", answer: "%s PREAUTH [APPENDUID 9 3:5] x\r\n", err: true},
		{name: "OKAY", answer: "%s OKAY [APPENDUID 9 3:5] x\r\n", err: true},
		{name: "no APPENDUID", answer: "%s OK appended\r\n", works: true},
		{name: "APPENDUID for another count", answer: "%s OK [APPENDUID 9 3:9] appended\r\n", works: true},
		{name: "APPENDUID in reverse", answer: "%s OK [APPENDUID 9 5,4,3] appended\r\n", uids: []uint32{3, 4, 5}, works: true},
		{name: "answer to another raw command", answer: "M9 OK [APPENDUID 9 3:5] appended\r\n", err: true},
		{name: "literal in the answer", answer: "%s OK {3}\r\nabc\r\n", err: true},
		{name: "hang-up", answer: "* BYE going away\r\n", hangUp: true, err: true},
		{name: "no answer", answer: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &appendScript{chunk: 4, hangUp: tt.hangUp, onAppend: func(tag, _ string) string {
				if strings.Contains(tt.answer, "%s") {
					return fmt.Sprintf(tt.answer, tag)
				}
				return tt.answer
			}}
			c := dialScript(t, s, time.Second)
			msgs, _ := scriptMessages()
			// Bounded, so that an answer that never arrives fails the test
			// rather than hanging it; it must end well before this anyway.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			uids, err := c.MultiAppend(ctx, `Entwürfe "x"`, msgs)
			if !slices.Equal(uids, tt.uids) {
				t.Errorf("UIDs %v, want %v", uids, tt.uids)
			}
			switch {
			case tt.rejected:
				if !errors.Is(err, ErrAppendRejected) {
					t.Errorf("err = %v, want ErrAppendRejected", err)
				}
			case tt.err:
				if err == nil || errors.Is(err, ErrAppendRejected) {
					t.Errorf("err = %v, want an error other than ErrAppendRejected", err)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("MultiAppend took %v with a 1 s timeout", d)
			}
			if tt.works {
				checkScriptConnWorks(t, c)
			} else {
				checkGivenUp(t, c)
			}
		})
	}
}

// TestMultiAppendScriptedPipelined: an APPEND of go-imap's still awaits its
// answer when MultiAppend starts, and the server answers both in one
// stream, in pieces.
func TestMultiAppendScriptedPipelined(t *testing.T) {
	var held string
	s := &appendScript{chunk: 3, onAppend: func(tag, _ string) string {
		if strings.HasPrefix(tag, "T") {
			held = tag
			return ""
		}
		return "* 2 EXISTS\r\n" + held + " OK [APPENDUID 9 2] one\r\n* 5 EXISTS\r\n" + tag + " OK [APPENDUID 9 3:5] three\r\n"
	}}
	c := dialScript(t, s, 5*time.Second)
	ctx := context.Background()
	body := "Message-ID: <p@test>\r\n\r\nbody\r\n"
	pa, err := c.StartAppend(ctx, "INBOX", []imap.Flag{imap.FlagSeen}, time.Time{}, int64(len(body)), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := scriptMessages()
	uids, err := c.MultiAppend(ctx, `Entwürfe "x"`, msgs)
	if err != nil || !slices.Equal(uids, []uint32{3, 4, 5}) {
		t.Fatalf("MultiAppend = %v, %v", uids, err)
	}
	if uid, v, err := pa.Wait(); err != nil || uid != 2 || v != 9 {
		t.Fatalf("go-imap's APPEND: uid %d, uidvalidity %d, %v", uid, v, err)
	}
	checkScriptConnWorks(t, c)
}

func TestMultiAppendScriptedRefusesEarly(t *testing.T) {
	ctx := context.Background()
	t.Run("without MULTIAPPEND", func(t *testing.T) {
		s := &appendScript{caps: "IMAP4rev1 LITERAL+ UIDPLUS", onAppend: func(tag, _ string) string { return tag + " OK\r\n" }}
		c := dialScript(t, s, 5*time.Second)
		if c.CanMultiAppend() {
			t.Fatal("CanMultiAppend without MULTIAPPEND")
		}
		msgs, _ := scriptMessages()
		if _, err := c.MultiAppend(ctx, "INBOX", msgs); err == nil {
			t.Fatal("MultiAppend without MULTIAPPEND succeeded")
		}
		checkScriptConnWorks(t, c)
		select {
		case cmd := <-s.appends:
			t.Fatalf("sent %.60q", cmd)
		default:
		}
	})
	for _, caps := range []string{"IMAP4rev1 MULTIAPPEND UIDPLUS", "IMAP4rev1 LITERAL+ MULTIAPPEND"} {
		s := &appendScript{caps: caps}
		if dialScript(t, s, 5*time.Second).CanMultiAppend() {
			t.Errorf("CanMultiAppend with only %s", caps)
		}
	}
	t.Run("no messages", func(t *testing.T) {
		s := &appendScript{}
		c := dialScript(t, s, 5*time.Second)
		if uids, err := c.MultiAppend(ctx, "INBOX", nil); err != nil || uids != nil {
			t.Fatalf("MultiAppend of nothing = %v, %v", uids, err)
		}
		checkScriptConnWorks(t, c)
		select {
		case cmd := <-s.appends:
			t.Fatalf("sent %.60q", cmd)
		default:
		}
	})
}

// checkGivenUp checks that c was closed: a command fails at once. (On a
// connection left open it could succeed, or wait for an answer that does
// not come, for several timeouts.)
func checkGivenUp(t *testing.T, c *Conn) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Noop(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("NOOP succeeded on a connection that should have been given up")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("NOOP still waiting after 5 s: the connection was not closed")
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestMultiAppendScriptedLongBody: a Body longer than its Size fails
// MultiAppend without being read (and sent) to its end.
func TestMultiAppendScriptedLongBody(t *testing.T) {
	s := &appendScript{onAppend: func(tag, _ string) string { return tag + " OK\r\n" }}
	c := dialScript(t, s, 5*time.Second)
	body := &countingReader{r: strings.NewReader("Message-ID: <long@test>\r\n\r\n" + strings.Repeat("x", 8<<20))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.MultiAppend(ctx, "INBOX", []AppendMessage{{Size: 100, Body: body}}); err == nil {
		t.Fatal("MultiAppend of a body longer than its size succeeded")
	}
	if body.n > 100+4096 {
		t.Fatalf("read %d bytes of a body announced as 100", body.n)
	}
	checkGivenUp(t, c)
}

// TestMultiAppendScriptedLongBodyFillsBuffer: the byte by which a Body is
// longer than its Size must never reach the server, not even when it would
// exactly fill the 64 KiB write buffer (which is then flushed as it is):
// the server would take it as the start of the next message or command.
func TestMultiAppendScriptedLongBodyFillsBuffer(t *testing.T) {
	const header = `M1 APPEND "Box" {65509+}` + "\r\n"
	const size = 65509
	if len(header)+size+1 != 64<<10 {
		t.Fatalf("header and body are %d bytes, want the extra byte to be the buffer's last", len(header)+size+1)
	}
	received := &bytes.Buffer{}
	s := &appendScript{received: received, onAppend: func(tag, _ string) string { return tag + " OK\r\n" }}
	c := dialScript(t, s, 5*time.Second)
	body := []byte("Message-ID: <fill@test>\r\n\r\n" + strings.Repeat("f", size-len("Message-ID: <fill@test>\r\n\r\n")) + "Z")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	uids, err := c.MultiAppend(ctx, "Box", []AppendMessage{{Size: size, Body: bytes.NewReader(body)}})
	if err == nil || uids != nil || errors.Is(err, ErrAppendRejected) {
		t.Fatalf("MultiAppend of a body one byte longer than its size = %v, %v; want an error other than ErrAppendRejected", uids, err)
	}
	if !strings.Contains(err.Error(), "longer than the 65509 bytes announced") {
		t.Errorf("err = %v, want it to say the message is longer than announced", err)
	}
	checkGivenUp(t, c)
	// The server sees the hang-up; then all it read is known.
	select {
	case <-s.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the scripted server still reading 5 s after MultiAppend gave up")
	}
	got := received.Bytes()
	i := bytes.Index(got, []byte(header))
	if i < 0 {
		// Not even the command's start was sent: nothing of it can be
		// misread.
		if bytes.Contains(got, []byte("APPEND")) {
			t.Fatalf("server received part of the command: %.200q", got[bytes.Index(got, []byte("APPEND")):])
		}
		return
	}
	lit := got[i+len(header):]
	if len(lit) > size {
		t.Fatalf("server received %d bytes of a %d-byte literal, ending %q", len(lit), size, lit[size:])
	}
	if !bytes.Equal(lit, body[:len(lit)]) {
		t.Fatal("server received other bytes than the message's")
	}
}

// TestMultiAppendScriptedCancel: a context that ends while the answer is
// awaited ends MultiAppend with its error and gives up the connection.
func TestMultiAppendScriptedCancel(t *testing.T) {
	s := &appendScript{onAppend: func(string, string) string { return "" }}
	c := dialScript(t, s, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.appends
		cancel()
	}()
	msgs, _ := scriptMessages()
	if _, err := c.MultiAppend(ctx, "INBOX", msgs); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	checkGivenUp(t, c)
}

func dialDovecot(t *testing.T, srv *dovetest.Server, user string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// appendCase is a message to MultiAppend and what the server must report
// for it.
type appendCase struct {
	flags []imap.Flag
	date  time.Time
	body  string
}

func (a appendCase) message() AppendMessage {
	return AppendMessage{Flags: a.flags, Date: a.date, Size: int64(len(a.body)), Body: strings.NewReader(a.body)}
}

func appendCases(prefix string) []appendCase {
	msg := func(i int, text string) string {
		return fmt.Sprintf("Message-ID: <%s%d@test>\r\nSubject: %s %d\r\n\r\n%s", prefix, i, prefix, i, text)
	}
	return []appendCase{
		{nil, time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600)), msg(1, "one\r\nM1 OK [APPENDUID 1 1] fake\r\n")},
		{[]imap.Flag{imap.FlagSeen, imap.FlagFlagged}, time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -8*3600)), msg(2, "")},
		// Larger than the writer's buffer and go-imap's 4 KiB literal limit.
		{[]imap.Flag{imap.FlagAnswered, "$Forwarded", "Custom"}, time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
			msg(3, strings.Repeat("three: 0123456789 abcdefghijklmnopqrstuvwxyz\r\n", 3000))},
	}
}

// checkAppended checks, through c and through doveadm, that mailbox holds
// exactly want at uids (among other messages).
func checkAppended(t *testing.T, srv *dovetest.Server, c *Conn, user, mailbox string, uids []uint32, want []appendCase) {
	t.Helper()
	ctx := context.Background()
	if len(uids) != len(want) {
		t.Fatalf("%d UIDs for %d messages: %v", len(uids), len(want), uids)
	}
	sortedFlags := func(fs []imap.Flag) []string {
		var out []string
		for _, f := range fs {
			if !strings.EqualFold(string(f), `\Recent`) {
				out = append(out, string(f))
			}
		}
		slices.Sort(out)
		return out
	}
	infos, err := c.FetchInfo(ctx, uids, true)
	if err != nil {
		t.Fatalf("FetchInfo: %v", err)
	}
	if len(infos) != len(want) {
		t.Fatalf("FetchInfo %v: %d messages: %+v", uids, len(infos), infos)
	}
	sink := &collectSink{bodies: map[uint32]string{}}
	if err := c.FetchBodies(ctx, uids, sink); err != nil {
		t.Fatalf("FetchBodies: %v", err)
	}
	for i, w := range want {
		var in *Info
		for j := range infos {
			if infos[j].UID == uids[i] {
				in = &infos[j]
			}
		}
		if in == nil {
			t.Fatalf("UID %d not fetched", uids[i])
		}
		wantID := ParseMessageID([]byte(w.body))
		if in.MessageID != wantID {
			t.Errorf("UID %d: Message-ID %q, want %q (message %d)", uids[i], in.MessageID, wantID, i)
		}
		if !slices.Equal(sortedFlags(in.Flags), sortedFlags(w.flags)) {
			t.Errorf("UID %d: flags %v, want %v", uids[i], in.Flags, w.flags)
		}
		if !in.InternalDate.Equal(w.date) {
			t.Errorf("UID %d: INTERNALDATE %v, want %v", uids[i], in.InternalDate, w.date)
		}
		if in.Size != int64(len(w.body)) {
			t.Errorf("UID %d: size %d, want %d", uids[i], in.Size, len(w.body))
		}
		if got := sink.bodies[uids[i]]; got != w.body {
			t.Errorf("UID %d: body differs (%d bytes, want %d)", uids[i], len(got), len(w.body))
		}
	}
	// The server's own view, not through the code under test.
	byUID := map[uint32]dovetest.Message{}
	for _, m := range srv.MessagesWithBodies(t, user, mailbox) {
		byUID[m.UID] = m
	}
	for i, w := range want {
		m, ok := byUID[uids[i]]
		if !ok {
			t.Errorf("doveadm: no UID %d in %q", uids[i], mailbox)
			continue
		}
		if string(m.Body) != w.body || m.MessageID != ParseMessageID([]byte(w.body)) {
			t.Errorf("doveadm: UID %d holds %q, want message %d", uids[i], m.MessageID, i)
		}
		if got := slices.Sorted(slices.Values(m.Flags)); !slices.Equal(got, sortedFlags(w.flags)) {
			t.Errorf("doveadm: UID %d flags %v, want %v", uids[i], m.Flags, w.flags)
		}
	}
}

type collectSink struct {
	bodies map[uint32]string
	cur    []byte
}

func (s *collectSink) Body(r io.Reader, _ int64) error {
	var err error
	s.cur, err = io.ReadAll(r)
	return err
}

func (s *collectSink) Done(in Info) error {
	s.bodies[in.UID] = string(s.cur)
	return nil
}

// TestMultiAppendDovecot appends to a real Dovecot and checks the UIDs
// MultiAppend returns against what the server holds, and that the
// connection stays usable for go-imap's commands.
func TestMultiAppendDovecot(t *testing.T) {
	const user = "ma"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	// Quotes, a backslash, '&' and non-ASCII: all must survive quoting and
	// modified UTF-7 on the wire.
	const box = `Entwürfe "Ü" \ & 日本`
	srv.CreateMailbox(t, user, box)
	// A message already there, so the new UIDs do not start at 1.
	first := srv.Append(t, user, box, []byte("Message-ID: <old@test>\r\n\r\nold\r\n"))
	srv.Append(t, user, "INBOX", []byte("Message-ID: <inbox@test>\r\n\r\ninbox\r\n"))
	ctx := context.Background()
	c := dialDovecot(t, srv, user)
	if !c.CanMultiAppend() {
		t.Fatalf("CanMultiAppend is false against Dovecot (MULTIAPPEND %v, LITERAL+ %v, UIDPLUS %v)",
			c.Has(imap.CapMultiAppend), c.Has(imap.CapLiteralPlus), c.UIDPlus())
	}
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		t.Fatal(err)
	}

	want := appendCases("a")
	msgs := make([]AppendMessage, len(want))
	for i, w := range want {
		msgs[i] = w.message()
	}
	uids, err := c.MultiAppend(ctx, box, msgs)
	if err != nil {
		t.Fatalf("MultiAppend: %v", err)
	}
	if !slices.Equal(uids, []uint32{first + 1, first + 2, first + 3}) {
		t.Fatalf("UIDs %v, want the three after %d", uids, first)
	}
	// INBOX is still selected and still answers.
	if fl, err := c.FetchFlags(ctx, nil, 0); err != nil || len(fl) != 1 {
		t.Fatalf("FetchFlags in INBOX after MultiAppend: %+v, %v", fl, err)
	}
	st, err := c.Select(ctx, box, false)
	if err != nil || st.Messages != 4 || st.UIDNext != uids[2]+1 {
		t.Fatalf("SELECT after MultiAppend: %+v, %v; want 4 messages, UIDNEXT %d", st, err, uids[2]+1)
	}
	checkAppended(t, srv, c, user, box, uids, want)

	// Into the selected mailbox, after an APPEND of go-imap's that still
	// awaits its answer: Dovecot sends EXISTS before each tagged answer.
	one := "Message-ID: <pipelined@test>\r\n\r\npipelined\r\n"
	pa, err := c.StartAppend(ctx, box, []imap.Flag{"$Pipelined"}, time.Time{}, int64(len(one)), strings.NewReader(one))
	if err != nil {
		t.Fatal(err)
	}
	want2 := appendCases("b")
	msgs = msgs[:0]
	for _, w := range want2 {
		msgs = append(msgs, w.message())
	}
	uids2, err := c.MultiAppend(ctx, box, msgs)
	if err != nil {
		t.Fatalf("second MultiAppend: %v", err)
	}
	uid, _, err := pa.Wait()
	if err != nil || uid != uids[2]+1 {
		t.Fatalf("go-imap's APPEND before the second MultiAppend: UID %d, %v; want %d", uid, err, uids[2]+1)
	}
	if !slices.Equal(uids2, []uint32{uid + 1, uid + 2, uid + 3}) {
		t.Fatalf("second MultiAppend: UIDs %v, want the three after %d", uids2, uid)
	}
	checkAppended(t, srv, c, user, box, uids2, want2)
	fl, err := c.FetchFlags(ctx, nil, 0)
	if err != nil || len(fl) != 8 {
		t.Fatalf("FetchFlags after the second MultiAppend: %d messages, %v; want 8", len(fl), err)
	}

	// A mailbox that does not exist: refused, nothing created, and the
	// connection carries on.
	msgs = msgs[:0]
	for _, w := range appendCases("c") {
		msgs = append(msgs, w.message())
	}
	if uids, err := c.MultiAppend(ctx, "Nope ünd nie", msgs); !errors.Is(err, ErrAppendRejected) || uids != nil {
		t.Fatalf("MultiAppend to a missing mailbox = %v, %v; want ErrAppendRejected", uids, err)
	}
	if slices.Contains(srv.Mailboxes(t, user), "Nope ünd nie") {
		t.Fatal("the refused MultiAppend created the mailbox")
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("NOOP after a refused MultiAppend: %v", err)
	}
	if fl, err := c.FetchFlags(ctx, nil, 0); err != nil || len(fl) != 8 {
		t.Fatalf("FetchFlags after a refused MultiAppend: %d messages, %v; want 8", len(fl), err)
	}
	if n := len(srv.Messages(t, user, box)); n != 8 {
		t.Fatalf("%q holds %d messages, want 8", box, n)
	}
}

// TestMultiAppendDovecotBadSize: a message whose Body is shorter or longer
// than its Size fails MultiAppend, which gives up the connection (the
// literal can't be finished), and nothing of the batch is appended.
func TestMultiAppendDovecotBadSize(t *testing.T) {
	const user = "mb"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	const box = "Größe"
	srv.CreateMailbox(t, user, box)
	// Message 2 is larger than the writer's buffer, so the server has read
	// part of its literal when MultiAppend gives up.
	for _, bad := range []struct {
		msg   int
		delta int64
	}{{1, +1}, {1, -1}, {2, +1}, {2, -1}, {2, +100000}, {0, -50}} {
		t.Run(fmt.Sprintf("message %d size%+d", bad.msg, bad.delta), func(t *testing.T) {
			ctx := context.Background()
			c, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
				Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var msgs []AppendMessage
			for _, w := range appendCases("d") {
				msgs = append(msgs, w.message())
			}
			msgs[bad.msg].Size += bad.delta
			start := time.Now()
			uids, err := c.MultiAppend(ctx, box, msgs)
			if err == nil || uids != nil || errors.Is(err, ErrAppendRejected) {
				t.Fatalf("MultiAppend with a wrong size = %v, %v; want an error other than ErrAppendRejected", uids, err)
			}
			// Found out while writing, not by waiting for an answer that
			// can't come.
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("MultiAppend took %v to fail", d)
			}
			checkGivenUp(t, c)
			// Dovecot notices the hang-up on its own time; a new session
			// sees whatever it kept.
			c2 := dialDovecot(t, srv, user)
			st, err := c2.Select(ctx, box, true)
			if err != nil || st.Messages != 0 {
				t.Fatalf("after the failed MultiAppend: %+v, %v; want an empty mailbox", st, err)
			}
		})
	}
	// The mailbox works normally afterwards.
	c := dialDovecot(t, srv, user)
	var msgs []AppendMessage
	want := appendCases("e")
	for _, w := range want {
		msgs = append(msgs, w.message())
	}
	uids, err := c.MultiAppend(context.Background(), box, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(context.Background(), box, false); err != nil {
		t.Fatal(err)
	}
	checkAppended(t, srv, c, user, box, uids, want)
	if !bytes.Equal([]byte(want[0].body), srv.MessagesWithBodies(t, user, box)[0].Body) {
		t.Fatal("first message differs")
	}
}

// commandBody is a message whose lines look like commands: a server that
// lost track of where a literal ends would run them.
func commandBody(id string) string {
	return "Message-ID: <" + id + "@test>\r\n\r\n" +
		"T99 NOOP\r\nX1 DELETE \"victim\"\r\nX2 DELETE victim\r\n" +
		strings.Repeat("padding\r\n", 100) + "X3 DELETE \"victim\"\r\n"
}

// TestMultiAppendDovecotUnsafe appends batches that Dovecot would refuse
// with BAD in the middle of the command, after which it reads the rest of
// the messages as commands: MultiAppend must refuse them before sending
// anything (an unsendable flag), or send them in a form Dovecot takes (a
// date it can't express is left out). And the text of messages is never
// run as commands, whether the batch is taken or refused.
func TestMultiAppendDovecotUnsafe(t *testing.T) {
	const user = "mu"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	const box = "Ziel"
	srv.CreateMailbox(t, user, box)
	srv.CreateMailbox(t, user, "victim")
	ctx := context.Background()
	c := dialDovecot(t, srv, user)
	if _, err := c.Select(ctx, box, false); err != nil {
		t.Fatal(err)
	}
	// checkVictim checks that no message text was run as a command.
	checkVictim := func(t *testing.T) {
		t.Helper()
		if !slices.Contains(srv.Mailboxes(t, user), "victim") {
			srv.CreateMailbox(t, user, "victim") // for the other subtests
			t.Fatal(`message text was run as a command: "victim" was deleted`)
		}
	}
	appended := 0 // messages in box
	checkCount := func(t *testing.T) {
		t.Helper()
		if n := len(srv.Messages(t, user, box)); n != appended {
			t.Fatalf("%q holds %d messages, want %d", box, n, appended)
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatalf("NOOP: %v", err)
		}
		if fl, err := c.FetchFlags(ctx, nil, 0); err != nil || len(fl) != appended {
			t.Fatalf("FetchFlags: %d messages, %v; want %d", len(fl), err, appended)
		}
	}

	for _, flag := range []imap.Flag{`\Recent`, `\recent`, `\Foo`, `\*`, `a(b`} {
		t.Run("flag "+string(flag), func(t *testing.T) {
			var bodies []*countingReader
			var msgs []AppendMessage
			for i, flags := range [][]imap.Flag{{imap.FlagSeen}, {imap.FlagFlagged, flag}, nil, nil} {
				b := commandBody(fmt.Sprintf("flag%d", i))
				r := &countingReader{r: strings.NewReader(b)}
				bodies = append(bodies, r)
				msgs = append(msgs, AppendMessage{Flags: flags, Size: int64(len(b)), Body: r})
			}
			uids, err := c.MultiAppend(ctx, box, msgs)
			if err == nil || uids != nil || errors.Is(err, ErrAppendRejected) {
				t.Fatalf("MultiAppend with flag %q = %v, %v; want an error other than ErrAppendRejected", flag, uids, err)
			}
			if !strings.Contains(err.Error(), string(flag)) {
				t.Errorf("err = %v, want it to name the flag", err)
			}
			// Refused before anything was sent: no message was read, and
			// the connection carries on.
			for i, r := range bodies {
				if r.n != 0 {
					t.Errorf("message %d: %d bytes read", i, r.n)
				}
			}
			checkVictim(t)
			checkCount(t)
		})
	}

	t.Run("unexpressible dates", func(t *testing.T) {
		dates := []time.Time{
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC),
			time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(12345, 6, 7, 8, 9, 10, 0, time.FixedZone("", 3600)),
		}
		var msgs []AppendMessage
		var bodies []string
		for i, d := range dates {
			b := commandBody(fmt.Sprintf("date%d", i))
			bodies = append(bodies, b)
			msgs = append(msgs, AppendMessage{Date: d, Size: int64(len(b)), Body: strings.NewReader(b)})
		}
		start := time.Now()
		uids, err := c.MultiAppend(ctx, box, msgs)
		if err != nil || len(uids) != len(msgs) {
			t.Fatalf("MultiAppend with dates outside 1..9999 = %v, %v; want the messages appended without those dates", uids, err)
		}
		appended += len(msgs)
		end := time.Now()
		infos, err := c.FetchInfo(ctx, uids, true)
		if err != nil || len(infos) != len(msgs) {
			t.Fatalf("FetchInfo = %+v, %v", infos, err)
		}
		for _, in := range infos {
			i := slices.Index(uids, in.UID)
			if in.MessageID != ParseMessageID([]byte(bodies[i])) {
				t.Errorf("UID %d: Message-ID %q, want message %d", in.UID, in.MessageID, i)
			}
			if i == 1 {
				if !in.InternalDate.Equal(dates[1]) {
					t.Errorf("UID %d: INTERNALDATE %v, want %v", in.UID, in.InternalDate, dates[1])
				}
				continue
			}
			// The time of arrival, to the second.
			if in.InternalDate.Before(start.Add(-2*time.Second)) || in.InternalDate.After(end.Add(2*time.Second)) {
				t.Errorf("UID %d (date %v): INTERNALDATE %v, want about now (%v)", in.UID, dates[i], in.InternalDate, start)
			}
		}
		checkVictim(t)
		checkCount(t)
	})

	t.Run("taken", func(t *testing.T) {
		var msgs []AppendMessage
		var want []appendCase
		for i := range 3 {
			w := appendCase{flags: []imap.Flag{imap.FlagSeen}, date: time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC), body: commandBody(fmt.Sprintf("ok%d", i))}
			want = append(want, w)
			msgs = append(msgs, w.message())
		}
		uids, err := c.MultiAppend(ctx, box, msgs)
		if err != nil {
			t.Fatal(err)
		}
		appended += len(msgs)
		checkVictim(t)
		checkCount(t)
		checkAppended(t, srv, c, user, box, uids, want)
	})

	t.Run("refused", func(t *testing.T) {
		var msgs []AppendMessage
		for i := range 3 {
			b := commandBody(fmt.Sprintf("no%d", i))
			msgs = append(msgs, AppendMessage{Flags: []imap.Flag{imap.FlagSeen}, Size: int64(len(b)), Body: strings.NewReader(b)})
		}
		if uids, err := c.MultiAppend(ctx, "Nope", msgs); !errors.Is(err, ErrAppendRejected) || uids != nil {
			t.Fatalf("MultiAppend to a missing mailbox = %v, %v; want ErrAppendRejected", uids, err)
		}
		checkVictim(t)
		checkCount(t)
		if slices.Contains(srv.Mailboxes(t, user), "Nope") {
			t.Fatal("the refused MultiAppend created the mailbox")
		}
	})
}
