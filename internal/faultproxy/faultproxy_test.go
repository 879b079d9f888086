package faultproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer accepts connections on loopback and runs handle on each.
func fakeServer(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, plan Plan) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	p.SetPlan(plan)
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads until EOF or error and returns what arrived.
func readAll(c net.Conn) []byte {
	b, _ := io.ReadAll(c)
	return b
}

// recorder is a fake server that records everything it receives and sends
// a fixed script.
type recorder struct {
	mu   sync.Mutex
	got  bytes.Buffer
	conn net.Conn
	done chan struct{}
	once sync.Once
}

func newRecorder(t *testing.T, script []byte) (*recorder, string) {
	r := &recorder{done: make(chan struct{})}
	addr := fakeServer(t, func(c net.Conn) {
		defer r.once.Do(func() { close(r.done) })
		r.mu.Lock()
		r.conn = c
		r.mu.Unlock()
		go func() { _, _ = c.Write(script) }()
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			r.mu.Lock()
			r.got.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	return r, addr
}

func (r *recorder) received(t *testing.T) []byte {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's connection was never closed")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.got.Bytes()...)
}

func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TestPassThroughIsExact: without a fault, arbitrary bytes (with line ends
// and literal headers by chance, and some made on purpose) arrive
// unchanged in both directions, including a partial last line.
func TestPassThroughIsExact(t *testing.T) {
	down := append([]byte("* OK ready\r\n* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n"), randomBytes(1, 1<<20)...)
	down = append(down, "no newline at the end"...)
	up := append([]byte("a APPEND INBOX {7}\r\n"), randomBytes(2, 1<<20)...)
	up = append(up, "x LOGOUT"...)
	var got []byte
	var wg sync.WaitGroup
	wg.Add(1)
	addr := fakeServer(t, func(c net.Conn) {
		defer wg.Done()
		go func() { _, _ = c.Write(down); c.(*net.TCPConn).CloseWrite() }()
		got, _ = io.ReadAll(c)
	})
	p := startProxy(t, addr, nil)
	c := dial(t, p)
	go func() { _, _ = c.Write(up); c.(*net.TCPConn).CloseWrite() }()
	recv := readAll(c)
	wg.Wait()
	if sha256.Sum256(recv) != sha256.Sum256(down) {
		t.Errorf("client received %d bytes, want the server's %d unchanged", len(recv), len(down))
	}
	if sha256.Sum256(got) != sha256.Sum256(up) {
		t.Errorf("server received %d bytes, want the client's %d unchanged", len(got), len(up))
	}
	if s := p.Stats(); s != (Stats{Conns: 1}) {
		t.Errorf("stats %+v, want one connection and no faults", s)
	}
}

func TestCutAfterBytes(t *testing.T) {
	script := []byte(strings.Repeat("* OK some line of text\r\n", 1000))
	rec, addr := newRecorder(t, script)
	p := startProxy(t, addr, Every(Fault{Cut: &Trigger{Dir: ServerToClient, Skip: 1234}}))
	c := dial(t, p)
	got := readAll(c)
	if !bytes.Equal(got, script[:1234]) {
		t.Errorf("client got %d bytes, want exactly the first 1234", len(got))
	}
	rec.received(t) // the server side was closed too
	if s := p.Stats(); s.Cuts != 1 || s.Conns != 1 {
		t.Errorf("stats %+v, want 1 connection, 1 cut", s)
	}
}

// TestCutAtMatchingLine: a cut on the client's Nth line containing a
// pattern, with Skip 0, lets everything before that line through and not
// the line itself.
func TestCutAtMatchingLine(t *testing.T) {
	for _, c := range []struct {
		name  string
		trig  Trigger
		sent  string
		wantN int // bytes of sent the server gets
	}{
		{"EXPUNGE", Trigger{Dir: ClientToServer, Match: " EXPUNGE"},
			"a1 UID STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\na2 UID EXPUNGE 1:3\r\na3 LOGOUT\r\n", len("a1 UID STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n")},
		{"second FETCH plus 5", Trigger{Dir: ClientToServer, Match: "FETCH", Nth: 2, Skip: 5},
			"a1 UID FETCH 1 FLAGS\r\na2 UID FETCH 2 FLAGS\r\na3 NOOP\r\n", len("a1 UID FETCH 1 FLAGS\r\n") + 5},
		{"not found", Trigger{Dir: ClientToServer, Match: "IDLE"},
			"a1 NOOP\r\na2 NOOP\r\n", len("a1 NOOP\r\na2 NOOP\r\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, addr := newRecorder(t, []byte("* OK hi\r\n"))
			p := startProxy(t, addr, Every(Fault{Cut: &c.trig}))
			conn := dial(t, p)
			if _, err := conn.Write([]byte(c.sent)); err != nil {
				t.Fatal(err)
			}
			if c.wantN == len(c.sent) {
				conn.(*net.TCPConn).CloseWrite()
			}
			got := rec.received(t)
			if string(got) != c.sent[:c.wantN] {
				t.Errorf("server got %q, want %q", got, c.sent[:c.wantN])
			}
		})
	}
}

// fetchScript is a server stream of n FETCH responses with literals of
// size bytes, and the offset where each literal's data begins.
func fetchScript(n, size int) ([]byte, []int) {
	var b bytes.Buffer
	var starts []int
	b.WriteString("* OK [CAPABILITY IMAP4rev1] ready\r\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "* %d FETCH (UID %d BODY[] {%d}\r\n", i, i, size)
		starts = append(starts, b.Len())
		body := bytes.Repeat([]byte(fmt.Sprintf("line %d {99}\r\n", i)), size)[:size]
		b.Write(body)
		b.WriteString(" FLAGS (\\Seen))\r\n")
	}
	b.WriteString("a1 OK Fetch completed.\r\n")
	return b.Bytes(), starts
}

func TestCutMidLiteral(t *testing.T) {
	script, starts := fetchScript(5, 5000)
	_, addr := newRecorder(t, script)
	p := startProxy(t, addr, Every(Fault{Cut: &Trigger{Dir: ServerToClient, Literal: true, Nth: 3, Skip: 1000}}))
	c := dial(t, p)
	got := readAll(c)
	want := script[:starts[2]+1000]
	if !bytes.Equal(got, want) {
		t.Errorf("client got %d bytes, want %d (third literal header + 1000 bytes)", len(got), len(want))
	}
	if ev := p.Events(); len(ev) != 1 || !strings.Contains(ev[0], "literal #3") {
		t.Errorf("events %q", ev)
	}
}

// appendServer is a fake IMAP server that answers every command line with
// OK and grants synchronising literals with "+ go ahead", except that
// "APPEND Nope" is refused before its literal. It records the commands
// (with literal contents) it received.
type appendServer struct {
	mu   sync.Mutex
	cmds []string
}

func (s *appendServer) handle(c net.Conn) {
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready\r\n")
	uid := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := line
		tag, _, _ := strings.Cut(line, " ")
		refused := false
		for {
			size, sync, ok := literalHeader([]byte(line))
			if !ok {
				break
			}
			if strings.Contains(line, "APPEND Nope") {
				fmt.Fprintf(c, "%s NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n", tag)
				refused = true
				break
			}
			if sync {
				fmt.Fprintf(c, "+ go ahead\r\n")
			}
			lit := make([]byte, size)
			if _, err := io.ReadFull(r, lit); err != nil {
				return
			}
			line, err = r.ReadString('\n')
			if err != nil {
				return
			}
			cmd += string(lit) + line
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, cmd)
		s.mu.Unlock()
		if refused {
			continue
		}
		if strings.Contains(cmd, "APPEND") {
			uid++
			fmt.Fprintf(c, "%s OK [APPENDUID 7 %d] Append completed.\r\n", tag, uid)
		} else {
			fmt.Fprintf(c, "%s OK done\r\n", tag)
		}
	}
}

func (s *appendServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// imapClient is a minimal client for the fake servers.
type imapClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func newClient(t *testing.T, p *Proxy) *imapClient {
	c := dial(t, p)
	ic := &imapClient{t: t, c: c, r: bufio.NewReader(c)}
	ic.line() // greeting
	return ic
}

func (c *imapClient) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading from the proxy: %v (got %q)", err, l)
	}
	return l
}

func (c *imapClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a command without literals and returns its tagged response.
func (c *imapClient) cmd(tag, rest string) string {
	c.t.Helper()
	c.send(tag + " " + rest + "\r\n")
	return c.tagged(tag)
}

func (c *imapClient) tagged(tag string) string {
	c.t.Helper()
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
}

// appendSync sends APPEND with a synchronising literal, the way go-imap
// does: the literal only after the server's "+". It returns the tagged
// response, or the refusal that came instead of the "+".
func (c *imapClient) appendSync(tag, mailbox, msg string) string {
	c.t.Helper()
	c.send(fmt.Sprintf("%s APPEND %s (\\Seen) {%d}\r\n", tag, mailbox, len(msg)))
	l := c.line()
	if !strings.HasPrefix(l, "+") {
		return l
	}
	c.send(msg + "\r\n")
	return c.tagged(tag)
}

// TestCutMidClientLiteral: a cut in the second APPEND's literal; the
// server gets the first APPEND whole and the second up to the cut.
func TestCutMidClientLiteral(t *testing.T) {
	srv := &appendServer{}
	addr := fakeServer(t, srv.handle)
	p := startProxy(t, addr, First(Fault{Cut: &Trigger{Dir: ClientToServer, Literal: true, Match: "APPEND", Nth: 2, Skip: 100}}))
	c := newClient(t, p)
	msg := strings.Repeat("0123456789", 50)
	if r := c.appendSync("a1", "INBOX", msg); !strings.HasPrefix(r, "a1 OK") {
		t.Fatalf("first APPEND: %q", r)
	}
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d}\r\n", len(msg)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("second APPEND: want a continuation, got %q", l)
	}
	c.send(msg + "\r\n")
	if l, err := c.r.ReadString('\n'); err == nil {
		t.Errorf("after the cut the client read %q", l)
	}
	time.Sleep(50 * time.Millisecond)
	cmds := srv.commands()
	if len(cmds) != 1 || !strings.HasPrefix(cmds[0], "a1 APPEND") {
		t.Errorf("the server completed %q; want only a1", cmds)
	}
	// A second connection is not affected (First).
	c2 := newClient(t, p)
	if r := c2.appendSync("b1", "INBOX", msg); !strings.HasPrefix(r, "b1 OK") {
		t.Errorf("second connection: %q", r)
	}
	if s := p.Stats(); s.Conns != 2 || s.Cuts != 1 {
		t.Errorf("stats %+v, want 2 connections and 1 cut", s)
	}
}

// TestStall: once stalled nothing moves in either direction, yet the
// proxy keeps reading, so a client writing megabytes does not block.
func TestStall(t *testing.T) {
	rec, addr := newRecorder(t, []byte("* OK ready\r\n"))
	p := startProxy(t, addr, Every(Fault{Stall: &Trigger{Dir: ClientToServer, Match: "a2 "}}))
	c := newClient(t, p)
	c.send("a1 NOOP\r\n")
	time.Sleep(100 * time.Millisecond)
	c.send("a2 LIST \"\" *\r\n")
	// Megabytes more, well beyond socket buffers: must not block.
	done := make(chan error, 1)
	go func() {
		_, err := c.c.Write(bytes.Repeat([]byte("a3 NOOP\r\n"), 1<<20))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("writing while stalled: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client write blocked while the proxy stalled")
	}
	// The server's output is not forwarded either.
	rec.mu.Lock()
	fmt.Fprintf(rec.conn, "* BYE not forwarded\r\n")
	rec.mu.Unlock()
	_ = c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if l, err := c.r.ReadString('\n'); err == nil || l != "" {
		t.Errorf("the client received %q while stalled", l)
	}
	rec.mu.Lock()
	got := rec.got.String()
	rec.mu.Unlock()
	if got != "a1 NOOP\r\n" {
		t.Errorf("server received %q, want only the command before the stall", got)
	}
	if s := p.Stats(); s.Stalls != 1 {
		t.Errorf("stats %+v, want 1 stall", s)
	}
	// When the client gives up, the server side is closed too.
	c.c.Close()
	select {
	case <-rec.done:
	case <-time.After(5 * time.Second):
		t.Error("the server side stayed open after the client closed")
	}
}

// TestStallAtStart: Skip 0 without Match stalls before the greeting.
func TestStallAtStart(t *testing.T) {
	_, addr := newRecorder(t, []byte("* OK ready\r\n"))
	p := startProxy(t, addr, Every(Fault{Stall: &Trigger{Dir: ServerToClient}}))
	c := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("got %q before a stall at the start", b)
	}
}

// TestLatency: each direction is delayed by Latency (a round trip by
// twice that), but chunks in flight overlap: a bulk transfer is not
// slowed down per chunk.
func TestLatency(t *testing.T) {
	const lat = 40 * time.Millisecond
	// The proxy forwards a line once it is complete: end with CRLF.
	bulk := bytes.Repeat([]byte("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n"), 4<<20/32)
	addr := fakeServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(l, "bulk") {
				_, _ = c.Write(bulk)
				continue
			}
			_, _ = io.WriteString(c, l)
		}
	})
	p := startProxy(t, addr, Every(Fault{Latency: lat}))
	c := dial(t, p)
	r := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		start := time.Now()
		fmt.Fprintf(c, "ping %d\r\n", i)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 2*lat || rtt > 2*lat+time.Second {
			t.Errorf("round trip %v, want about %v", rtt, 2*lat)
		}
	}
	start := time.Now()
	fmt.Fprintf(c, "bulk\r\n")
	got := make([]byte, len(bulk))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	// 4 MB is over a hundred 32 KB chunks: one 40 ms delay each in turn
	// would take over 5 s.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("4 MB took %v with %v latency: the delay is applied per chunk in turn", d, lat)
	}
	if !bytes.Equal(got, bulk) {
		t.Error("bulk data changed")
	}
}

func TestStripCapsLine(t *testing.T) {
	caps := []string{"UIDPLUS", "condstore"}
	for in, want := range map[string]string{
		"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS IDLE CONDSTORE] Dovecot ready.\r\n": "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Dovecot ready.\r\n",
		"* CAPABILITY IMAP4rev1 UIDPLUS MOVE\r\n":                                        "* CAPABILITY IMAP4rev1 MOVE\r\n",
		"* capability UIDPLUS\r\n":                                                       "* capability \r\n",
		"T1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n":                             "T1 OK [CAPABILITY IMAP4rev1] Logged in\r\n",
		"T5 OK [APPENDUID 1700000000 6] Append completed.\r\n":                           "T5 OK Append completed.\r\n",
		"T6 OK [COPYUID 17 1:2 5:6] Copy completed.\r\n":                                 "T6 OK Copy completed.\r\n",
		"* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n":                                           "* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n",
		"* OK [CAPABILITY IMAP4rev1] no newline":                                         "* OK [CAPABILITY IMAP4rev1] no newline",
	} {
		if got := string(stripCaps([]byte(in), caps)); got != want {
			t.Errorf("stripCaps(%q) = %q, want %q", in, got, want)
		}
	}
	// APPENDUID stays when UIDPLUS is not stripped.
	in := "T5 OK [APPENDUID 1 6] Append completed.\r\n"
	if got := string(stripCaps([]byte(in), []string{"IDLE"})); got != in {
		t.Errorf("stripping IDLE changed %q to %q", in, got)
	}
}

// TestStripCaps through the proxy: capability lines are rewritten, a
// literal that looks like one is not.
func TestStripCaps(t *testing.T) {
	lit := "* CAPABILITY UIDPLUS\r\n"
	script := "* OK [CAPABILITY IMAP4rev1 UIDPLUS IDLE] ready\r\n" +
		"* CAPABILITY IMAP4rev1 UIDPLUS MOVE\r\n" +
		fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n%s)\r\n", len(lit), lit) +
		"a1 OK [APPENDUID 5 9] Append completed.\r\n"
	want := "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n" +
		"* CAPABILITY IMAP4rev1 MOVE\r\n" +
		fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n%s)\r\n", len(lit), lit) +
		"a1 OK Append completed.\r\n"
	_, addr := newRecorder(t, []byte(script))
	p := startProxy(t, addr, Every(Fault{StripCaps: []string{"UIDPLUS"}}))
	c := dial(t, p)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("%v after %q", err, got)
	}
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestReject: chosen commands are answered by the proxy and never reach
// the server, whatever their literals; everything else is forwarded.
func TestReject(t *testing.T) {
	srv := &appendServer{}
	addr := fakeServer(t, srv.handle)
	p := startProxy(t, addr, Every(Fault{Reject: []Reject{
		{Command: "UID STORE", Status: "NO", Text: "[SERVERBUG] store refused"},
		{Command: "append", Status: "BAD", Text: "append refused"},
		{Command: "NOOP", Nth: 2, Text: "second noop refused"},
	}}))
	c := newClient(t, p)
	steps := []struct{ tag, rest, want string }{
		{"a1", "NOOP", "a1 OK done\r\n"},
		{"a2", "UID STORE 1 +FLAGS.SILENT (\\Seen)", "a2 NO [SERVERBUG] store refused\r\n"},
		{"a3", "STORE 1 +FLAGS.SILENT (\\Seen)", "a3 OK done\r\n"},
		{"a4", "NOOP", "a4 NO second noop refused\r\n"},
		{"a5", "NOOP", "a5 OK done\r\n"},
		// A non-synchronising literal (and a second one) the proxy must skip.
		{"a6", "APPEND INBOX {5+}\r\nhello {3+}\r\nabc", "a6 BAD append refused\r\n"},
		{"a7", "uid store 2 -FLAGS (\\Seen)", "a7 NO [SERVERBUG] store refused\r\n"},
	}
	for _, s := range steps {
		if got := c.cmd(s.tag, s.rest); got != s.want {
			t.Errorf("%s %s: got %q, want %q", s.tag, s.rest, got, s.want)
		}
	}
	// A synchronising literal: the proxy answers instead of "+", and the
	// client sends no literal.
	if got := c.appendSync("a8", "INBOX", "hello"); got != "a8 BAD append refused\r\n" {
		t.Errorf("APPEND with a synchronising literal: got %q", got)
	}
	if got := c.cmd("a9", "CHECK"); got != "a9 OK done\r\n" {
		t.Errorf("after a rejected APPEND: got %q", got)
	}
	want := []string{"a1 NOOP\r\n", "a3 STORE 1 +FLAGS.SILENT (\\Seen)\r\n", "a5 NOOP\r\n", "a9 CHECK\r\n"}
	if got := srv.commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server received %q, want %q", got, want)
	}
	if s := p.Stats(); s.Rejects != 5 {
		t.Errorf("stats %+v, want 5 rejects", s)
	}
}

// TestSyncLiteralRefusedByServer: when the server refuses a synchronising
// literal (tagged NO instead of "+"), the client sends no literal, and the
// proxy must read what follows as the next command; when the server grants
// it, the literal is passed through even if it looks like a command.
func TestSyncLiteralRefusedByServer(t *testing.T) {
	srv := &appendServer{}
	addr := fakeServer(t, srv.handle)
	p := startProxy(t, addr, Every(Fault{Reject: []Reject{{Command: "UID STORE", Text: "refused"}}}))
	c := newClient(t, p)
	if got := c.appendSync("a1", "Nope", "hello"); !strings.HasPrefix(got, "a1 NO [TRYCREATE]") {
		t.Fatalf("APPEND to a missing mailbox: got %q", got)
	}
	if got := c.cmd("a2", "UID STORE 1 +FLAGS (\\Seen)"); got != "a2 NO refused\r\n" {
		t.Errorf("the command after a refused literal: got %q, want the proxy's NO", got)
	}
	msg := "a3 UID STORE 1 +FLAGS (\\Seen)"
	if got := c.appendSync("a4", "INBOX", msg); !strings.HasPrefix(got, "a4 OK") {
		t.Errorf("APPEND of a literal that looks like a rejected command: got %q", got)
	}
	cmds := srv.commands()
	if len(cmds) != 2 || !strings.Contains(cmds[1], msg) {
		t.Errorf("server received %q", cmds)
	}
}

// TestRejectBetweenResponses: the proxy's answer never lands inside a
// server response that is still arriving.
func TestRejectBetweenResponses(t *testing.T) {
	release := make(chan struct{})
	addr := fakeServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		fmt.Fprintf(c, "* OK ready\r\n")
		if _, err := r.ReadString('\n'); err != nil { // a1 FETCH
			return
		}
		fmt.Fprintf(c, "* 1 FETCH (BODY[] {10}\r\n01234")
		<-release
		fmt.Fprintf(c, "56789)\r\na1 OK done\r\n")
		_, _ = io.Copy(io.Discard, r)
	})
	p := startProxy(t, addr, Every(Fault{Reject: []Reject{{Command: "NOOP", Text: "refused"}}}))
	c := newClient(t, p)
	c.send("a1 FETCH 1 BODY[]\r\n")
	time.Sleep(50 * time.Millisecond)
	c.send("a2 NOOP\r\n")
	time.Sleep(50 * time.Millisecond)
	close(release)
	var got strings.Builder
	for i := 0; i < 4; i++ {
		got.WriteString(c.line())
	}
	// The server's tagged OK and the proxy's NO may come in either order.
	fetch := "* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n"
	if g := got.String(); g != fetch+"a1 OK done\r\na2 NO refused\r\n" && g != fetch+"a2 NO refused\r\na1 OK done\r\n" {
		t.Errorf("got %q, want the FETCH response whole, then a1's OK and a2's NO", g)
	}
}

func TestPlans(t *testing.T) {
	_, addr := newRecorder(t, []byte("* OK ready\r\n"))
	p := startProxy(t, addr, Nth(2, Fault{Cut: &Trigger{Dir: ServerToClient}}))
	for i, wantCut := range []bool{false, true, false} {
		c := dial(t, p)
		b := make([]byte, 12)
		_, err := io.ReadFull(c, b)
		if gotCut := err != nil; gotCut != wantCut {
			t.Errorf("connection %d: read error %v, want cut=%v", i+1, err, wantCut)
		}
		c.Close()
	}
	p.PassThrough()
	c := dial(t, p)
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Errorf("after PassThrough: %v", err)
	}
	if s := p.Stats(); s.Conns != 4 || s.Cuts != 1 {
		t.Errorf("stats %+v, want 4 connections and 1 cut", s)
	}
}

func TestLiteralHeader(t *testing.T) {
	for in, want := range map[string]struct {
		n        int64
		sync, ok bool
	}{
		"a APPEND INBOX {123}\r\n":     {123, true, true},
		"a APPEND INBOX {123+}\r\n":    {123, false, true},
		"a APPEND INBOX {12-}\r\n":     {12, false, true},
		"* 1 FETCH (BINARY[] ~{7}\r\n": {7, true, true},
		"{0}\n":                        {0, true, true},
		"a NOOP\r\n":                   {0, false, false},
		"a {}\r\n":                     {0, false, false},
		"a {x1}\r\n":                   {0, false, false},
		"a \"{5}\" x\r\n":              {0, false, false},
	} {
		n, sync, ok := literalHeader([]byte(in))
		if n != want.n || sync != want.sync || ok != want.ok {
			t.Errorf("literalHeader(%q) = %d, %v, %v; want %+v", in, n, sync, ok, want)
		}
	}
}

// TestRefuseAndDropAll: a refusing plan closes new connections before the
// server sees them; DropAll closes the open ones, both sides.
func TestRefuseAndDropAll(t *testing.T) {
	script := []byte("* OK ready\r\n")
	rec, addr := newRecorder(t, script)
	p := startProxy(t, addr, nil)
	open := dial(t, p)
	buf := make([]byte, len(script))
	if _, err := io.ReadFull(open, buf); err != nil {
		t.Fatal(err)
	}
	p.Set(Fault{Refuse: true})
	refused := dial(t, p)
	if got := readAll(refused); len(got) != 0 {
		t.Errorf("a refused connection received %q", got)
	}
	p.DropAll()
	if got := readAll(open); len(got) != 0 {
		t.Errorf("a dropped connection received %q more", got)
	}
	rec.received(t) // the server side of the dropped one was closed
	if s := p.Stats(); s.Conns != 2 {
		t.Errorf("stats %+v, want 2 connections", s)
	}
}

// TestHoldUntil: the greeting goes through; the server's answers after it
// wait until the client sends the line that releases them, then all come,
// in order; a connection closed while they wait ends cleanly.
func TestHoldUntil(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		fmt.Fprintf(c, "* OK ready\r\n")
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, _, _ := strings.Cut(l, " ")
			fmt.Fprintf(c, "%s OK done\r\n", tag)
		}
	})
	p := startProxy(t, addr, Every(Fault{HoldUntil: `LIST "" "*"`}))
	c := newClient(t, p) // the greeting arrived
	c.send("a1 LOGIN u p\r\n")
	_ = c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if l, err := c.r.ReadString('\n'); err == nil || l != "" {
		t.Fatalf("the client received %q before sending the LIST", l)
	}
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.send("a2 LIST \"\" \"*\"\r\n")
	c.send("a3 NOOP\r\n")
	var got strings.Builder
	for range 3 {
		got.WriteString(c.line())
	}
	if want := "a1 OK done\r\na2 OK done\r\na3 OK done\r\n"; got.String() != want {
		t.Errorf("got %q, want %q", got.String(), want)
	}

	held := newClient(t, p)
	held.send("a1 LOGIN u p\r\n")
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a connection whose answers were held")
	}
}
