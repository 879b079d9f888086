package remote

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	body := strings.Repeat("x", 3<<20)
	tests := []struct {
		name, stream string
		ok           bool
	}{
		{"plain lines", "* OK hi\r\n* 3 EXISTS\r\n", true},
		{"small string literal", "* LIST () \"/\" {5}\r\nINBOX\r\n", true},
		{"huge body literal streams", "* 1 FETCH (UID 1 BODY[] {3145728}\r\n" + body + ")\r\n", true},
		{"huge body literal with origin", "* 1 FETCH (BODY[]<0> {3145728}\r\n" + body + ")\r\n", true},
		{"huge RFC822 literal", "* 1 FETCH (RFC822 {3145728}\r\n" + body + ")\r\n", true},
		{"literal bytes are not parsed as lines", "* 1 FETCH (BODY[] {12}\r\n{9999999999}\r\n)\r\n", true},
		{"huge string literal", "* LIST () \"/\" {3145728}\r\n" + body + "\r\n", false},
		{"huge header-looking string", "* 1 FETCH (FLAGS {99999999}\r\n", false},
		{"endless line", "* OK " + strings.Repeat("a", maxLine+10), false},
		{"capabilities", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n* CAPABILITY IMAP4rev1 X-Y\r\n", true},
		{"parenthesis after capabilities is fine", "* OK [CAPABILITY IMAP4rev1] (hi)\r\n* LIST (\\Noselect) \"/\" CAPABILITY(\r\n", true},
		{"'(' in a capability response code (go-imap would spin)", "* OK [CAPABILITY(\nT1 OK\n", false},
		{"'(' in untagged capability data", "* CAPABILITY IMAP4rev1 (X)\r\n", false},
	}
	for _, tt := range tests {
		g := newGuardConn(nil, nil)
		// Feed in odd-sized chunks so headers straddle reads.
		_, _, err := feedGuard(t, g, nil, tt.stream, 7777)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestGuardPrefix(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	g := newGuardConn(a, []byte("* OK synthetic\r\n"))
	buf := make([]byte, 64)
	n, err := g.Read(buf)
	if err != nil || string(buf[:n]) != "* OK synthetic\r\n" {
		t.Fatalf("prefix: %q %v", buf[:n], err)
	}
}

// divertAnswer is the tagged answer to a raw MULTIAPPEND ("M1") as a server
// sends it, and divertLine is what the guard must hand over for it.
const (
	divertAnswer = "M1 OK [APPENDUID 7 3:5] done\r\n"
	divertLine   = "M1 OK [APPENDUID 7 3:5] done"
)

// TestGuardDivert feeds streams through scan in every chunk size and checks
// that exactly the awaited tagged line is taken out of the stream and handed
// over, and that every other byte (literal data that looks like that line
// included) reaches go-imap unchanged.
func TestGuardDivert(t *testing.T) {
	// A FETCH whose body holds lines that look like the awaited answer,
	// one of them right at the start of the literal.
	fakeBody := "M1 OK fake\r\nSubject: x\r\n\r\nM1 OK [APPENDUID 7 3:5] fake\r\nM1 OK {5}\r\n"
	fetch := "* 1 FETCH (UID 1 BODY[] {" + strconv.Itoa(len(fakeBody)) + "}\r\n" + fakeBody + ")\r\n"
	tests := []struct {
		name   string
		tag    string // the divert pending before the stream; "" for none
		stream string
		kept   string // what must reach go-imap
		line   string // what the divert must receive; "" for nothing (yet)
		err    string // a scan error containing this; "" for none
	}{
		{
			name:   "answer among untagged and go-imap answers",
			tag:    "M1",
			stream: "* 5 EXISTS\r\nT3 OK done\r\n" + divertAnswer + "* 6 EXISTS\r\nT4 OK [APPENDUID 7 6] x\r\n",
			kept:   "* 5 EXISTS\r\nT3 OK done\r\n* 6 EXISTS\r\nT4 OK [APPENDUID 7 6] x\r\n",
			line:   divertLine,
		},
		{
			name:   "answer first",
			tag:    "M1",
			stream: divertAnswer + "* 1 EXISTS\r\n",
			kept:   "* 1 EXISTS\r\n",
			line:   divertLine,
		},
		{
			name:   "answer alone",
			tag:    "M1",
			stream: divertAnswer,
			kept:   "",
			line:   divertLine,
		},
		{
			name:   "answer after a body literal that contains lookalike lines",
			tag:    "M1",
			stream: "* 2 EXISTS\r\n" + fetch + "T2 OK fetched\r\n" + divertAnswer + "T3 OK\r\n",
			kept:   "* 2 EXISTS\r\n" + fetch + "T2 OK fetched\r\nT3 OK\r\n",
			line:   divertLine,
		},
		{
			name:   "lookalike literal only: nothing is diverted",
			tag:    "M1",
			stream: fetch + "T2 OK\r\n",
			kept:   fetch + "T2 OK\r\n",
		},
		{
			name: "string literal that is exactly a lookalike line",
			tag:  "M1",
			stream: "* LIST () \"/\" {10}\r\nM1 OK fake\r\n* LIST () \"/\" {0}\r\n\r\n" +
				"* 1 FETCH (BODY[] {3}\r\nabcM1 OK fake)\r\n" + divertAnswer,
			kept: "* LIST () \"/\" {10}\r\nM1 OK fake\r\n* LIST () \"/\" {0}\r\n\r\n" +
				"* 1 FETCH (BODY[] {3}\r\nabcM1 OK fake)\r\n",
			line: divertLine,
		},
		{
			name:   "M not at the start of a line",
			tag:    "M1",
			stream: "* OK M1 OK fake\r\nT1 NO M1 OK fake\r\n" + divertAnswer,
			kept:   "* OK M1 OK fake\r\nT1 NO M1 OK fake\r\n",
			line:   divertLine,
		},
		{
			name:   "refusal, bare LF line end",
			tag:    "M1",
			stream: "* 1 EXISTS\r\nM1 NO [TRYCREATE] no such mailbox\n* 2 EXISTS\r\n",
			kept:   "* 1 EXISTS\r\n* 2 EXISTS\r\n",
			line:   "M1 NO [TRYCREATE] no such mailbox",
		},
		{
			name:   "answer still incomplete: nothing delivered yet, nothing leaked",
			tag:    "M1",
			stream: "* 1 EXISTS\r\nM1 OK [APPENDUID 7 3:5] do",
			kept:   "* 1 EXISTS\r\n",
		},
		{
			name:   "only the first answer is diverted",
			tag:    "M1",
			stream: divertAnswer + "M1 OK again\r\n",
			kept:   "M1 OK again\r\n",
			line:   divertLine,
		},
		{
			name:   "other tag",
			tag:    "M7",
			stream: "* 1 EXISTS\r\nM7 BAD [PARSE] x\r\n",
			kept:   "* 1 EXISTS\r\n",
			line:   "M7 BAD [PARSE] x",
		},
		{
			name:   "no divert pending: an M line passes through",
			stream: "* 1 EXISTS\r\n" + divertAnswer + "T1 OK\r\n",
			kept:   "* 1 EXISTS\r\n" + divertAnswer + "T1 OK\r\n",
		},
		{
			name:   "wrong tag",
			tag:    "M1",
			stream: "* 1 EXISTS\r\nM2 OK [APPENDUID 7 3:5] done\r\n",
			err:    "not sent",
		},
		{
			name:   "longer tag with the awaited one as prefix",
			tag:    "M1",
			stream: "M10 OK [APPENDUID 7 3:5] done\r\n",
			err:    "not sent",
		},
		{
			name:   "tag without a space",
			tag:    "M1",
			stream: "M1\r\n",
			err:    "not sent",
		},
		{
			name:   "literal announced at the end of the answer",
			tag:    "M1",
			stream: "M1 OK {5}\r\nhello\r\n",
			err:    "literal in a tagged response",
		},
		{
			name:   "non-synchronising literal announced at the end of the answer",
			tag:    "M1",
			stream: "T1 OK\r\nM1 OK [APPENDUID 7 3:5] {5+}\r\nhello\r\n",
			err:    "literal in a tagged response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for size := 1; size <= len(tt.stream); size++ {
				g := newGuardConn(nil, nil)
				var ch <-chan divertResult
				if tt.tag != "" {
					ch = g.divert(tt.tag)
				}
				kept, got, err := feedGuard(t, g, ch, tt.stream, size)
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("chunk size %d: err = %v, want one containing %q", size, err, tt.err)
					}
					if len(got) > 0 {
						t.Fatalf("chunk size %d: divert received %+v on a failed stream", size, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("chunk size %d: %v", size, err)
				}
				if string(kept) != tt.kept {
					t.Fatalf("chunk size %d: kept\n%q\nwant\n%q", size, kept, tt.kept)
				}
				checkDiverted(t, size, got, tt.line)
			}
		})
	}
	t.Run("two raw commands in turn", func(t *testing.T) {
		first := "* 1 EXISTS\r\n" + divertAnswer + "T1 OK\r\n"
		second := "* 2 EXISTS\r\nM2 NO [TRYCREATE] no\r\nT2 OK\r\n"
		for size := 1; size <= len(second); size++ {
			g := newGuardConn(nil, nil)
			ch := g.divert("M1")
			kept, got, err := feedGuard(t, g, ch, first, size)
			if err != nil || string(kept) != "* 1 EXISTS\r\nT1 OK\r\n" {
				t.Fatalf("chunk size %d: first command: kept %q, %v", size, kept, err)
			}
			checkDiverted(t, size, got, divertLine)
			ch = g.divert("M2")
			kept, got, err = feedGuard(t, g, ch, second, size)
			if err != nil || string(kept) != "* 2 EXISTS\r\nT2 OK\r\n" {
				t.Fatalf("chunk size %d: second command: kept %q, %v", size, kept, err)
			}
			checkDiverted(t, size, got, "M2 NO [TRYCREATE] no")
		}
	})
}

// feedGuard passes stream through g.scan in chunks of size bytes, as
// successive reads would, with what scan leaves to be returned first
// (pending) or read again (prefix) taken as Read takes them, and returns
// the bytes kept, what ch received (drained after every chunk) and the
// first error.
func feedGuard(t *testing.T, g *guardConn, ch <-chan divertResult, stream string, size int) ([]byte, []divertResult, error) {
	t.Helper()
	var kept []byte
	var got []divertResult
	var err error
	for s := stream; (s != "" || len(g.pending) > 0 || len(g.prefix) > 0) && err == nil; {
		if len(g.pending) > 0 {
			kept = append(kept, g.pending...)
			g.pending = nil
			continue
		}
		var chunk string
		if len(g.prefix) > 0 {
			chunk, g.prefix = string(g.prefix), nil
		} else {
			chunk, s = s[:min(size, len(s))], s[min(size, len(s)):]
		}
		n := len(chunk)
		// A fresh buffer with room after the data, as a Read would have:
		// scan must only touch b[:n].
		buf := append([]byte(chunk), "GUARD"...)
		var k int
		k, err = g.scan(buf[:n])
		if k < 0 || k > n {
			t.Fatalf("chunk size %d: scan kept %d of %d bytes", size, k, n)
		}
		if string(buf[n:]) != "GUARD" {
			t.Fatalf("chunk size %d: scan wrote past its slice", size)
		}
		kept = append(kept, buf[:k]...)
		for drained := false; !drained; {
			select {
			case r := <-ch:
				got = append(got, r)
			default:
				drained = true
			}
		}
	}
	return kept, got, err
}

// checkDiverted checks that a divert received exactly line ("": nothing).
func checkDiverted(t *testing.T, size int, got []divertResult, line string) {
	t.Helper()
	switch {
	case line == "" && len(got) > 0:
		t.Fatalf("chunk size %d: divert received %+v, want nothing", size, got)
	case line != "" && (len(got) != 1 || got[0].err != nil || got[0].line != line):
		t.Fatalf("chunk size %d: divert received %+v, want exactly %q", size, got, line)
	}
}

// TestGuardDivertRead checks Read on a pipe: a read that held only the
// diverted answer is not returned to go-imap as an empty read (bufio would
// give up with io.ErrNoProgress after a few, and an empty read can look
// like the end of the stream), and a divert still waiting learns when no
// answer can come any more.
func TestGuardDivertRead(t *testing.T) {
	t.Run("read of only the answer keeps reading", func(t *testing.T) {
		a, b := deadlinePipe()
		defer a.Close()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		go func() {
			// Separate writes: net.Pipe hands each to a separate Read.
			b.Write([]byte(divertAnswer))
			b.Write([]byte("* 1 EXISTS\r\n"))
		}()
		buf := make([]byte, 256)
		n, err := g.Read(buf)
		if err != nil || string(buf[:n]) != "* 1 EXISTS\r\n" {
			t.Fatalf("Read = %d %q, %v; want the untagged line", n, buf[:n], err)
		}
		select {
		case r := <-ch:
			if r.err != nil || r.line != divertLine {
				t.Fatalf("divert received %+v", r)
			}
		default:
			t.Fatal("divert received nothing")
		}
	})
	t.Run("answer in pieces", func(t *testing.T) {
		a, b := deadlinePipe()
		defer a.Close()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		stream := "* 1 EXISTS\r\n" + divertAnswer + "T2 OK\r\n"
		go func() {
			for i := 0; i < len(stream); i += 3 {
				b.Write([]byte(stream[i:min(i+3, len(stream))]))
			}
		}()
		var got []byte
		buf := make([]byte, 256)
		for len(got) < len("* 1 EXISTS\r\nT2 OK\r\n") {
			n, err := g.Read(buf)
			if err != nil || n == 0 {
				t.Fatalf("Read = %d, %v after %q", n, err, got)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != "* 1 EXISTS\r\nT2 OK\r\n" {
			t.Fatalf("read %q", got)
		}
		if r := <-ch; r.err != nil || r.line != divertLine {
			t.Fatalf("divert received %+v", r)
		}
	})
	t.Run("close delivers an error", func(t *testing.T) {
		// No Read under way, as when go-imap's reader has already quit.
		a, b := deadlinePipe()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		g.Close()
		if r := waitDivert(t, ch); r.err == nil || r.line != "" {
			t.Fatalf("divert received %+v after Close, want an error", r)
		}
	})
	t.Run("close during a read delivers an error", func(t *testing.T) {
		a, b := deadlinePipe()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		readErr := make(chan error, 1)
		go func() {
			_, err := g.Read(make([]byte, 64))
			readErr <- err
		}()
		g.Close()
		r := waitDivert(t, ch)
		if r.err == nil || r.line != "" {
			t.Fatalf("divert received %+v after Close, want an error", r)
		}
		if err := <-readErr; err == nil {
			t.Fatal("Read succeeded on a closed guard")
		}
	})
	t.Run("connection error delivers an error", func(t *testing.T) {
		a, b := deadlinePipe()
		defer a.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		go func() {
			b.Write([]byte("* 1 EXISTS\r\nM1 OK [APPEND"))
			b.Close()
		}()
		buf := make([]byte, 64)
		n, err := g.Read(buf)
		if err != nil || string(buf[:n]) != "* 1 EXISTS\r\n" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		select {
		case r := <-ch:
			t.Fatalf("divert received %+v before the connection failed", r)
		default:
		}
		if n, err = g.Read(buf); err == nil {
			t.Fatalf("Read = %q after the peer hung up, want an error", buf[:n])
		}
		r := waitDivert(t, ch)
		if r.err == nil || r.line != "" {
			t.Fatalf("divert received %+v after EOF, want an error", r)
		}
	})
	t.Run("wrong tag fails the read and the divert", func(t *testing.T) {
		a, b := deadlinePipe()
		defer a.Close()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		go b.Write([]byte("M2 OK done\r\n"))
		if n, err := g.Read(make([]byte, 64)); err == nil {
			t.Fatalf("Read = %d, nil on an answer to a command never sent", n)
		}
		if r := waitDivert(t, ch); r.err == nil {
			t.Fatalf("divert received %+v, want an error", r)
		}
		// A divert after the guard failed learns it at once.
		if r := waitDivert(t, g.divert("M2")); r.err == nil {
			t.Fatalf("divert on a failed guard received %+v, want an error", r)
		}
	})
	t.Run("undivert", func(t *testing.T) {
		a, b := deadlinePipe()
		defer a.Close()
		defer b.Close()
		g := newGuardConn(a, nil)
		ch := g.divert("M1")
		g.undivert("M1")
		// Nothing is awaited any more: the line reaches go-imap.
		go b.Write([]byte(divertAnswer + "* 1 EXISTS\r\n"))
		buf := make([]byte, 256)
		n, err := g.Read(buf)
		if err != nil || string(buf[:n]) != divertAnswer+"* 1 EXISTS\r\n" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		g.Close()
		select {
		case r := <-ch:
			t.Fatalf("undiverted channel received %+v", r)
		default:
		}
	})
}

func waitDivert(t *testing.T, ch <-chan divertResult) divertResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("divert received nothing")
		return divertResult{}
	}
}

// deadlinePipe is net.Pipe with a deadline on both ends, so that a guard
// that waits for bytes that never come fails the test instead of hanging it.
func deadlinePipe() (net.Conn, net.Conn) {
	a, b := net.Pipe()
	deadline := time.Now().Add(5 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	return a, b
}

// TestGuardDivertFailingRead runs divert while a Read fails on a stream
// the guard refuses: the failure is recorded in g.err, which divert reads
// from MultiAppend's goroutine. It must be written under the same lock
// (go test -race reports it otherwise), and a divert after the failure
// learns of it.
func TestGuardDivertFailingRead(t *testing.T) {
	for round := 0; round < 20; round++ {
		a, b := deadlinePipe()
		g := newGuardConn(a, nil)
		readErr := make(chan error, 1)
		go func() {
			// No line starts with 'M', so the reader takes no lock before
			// it fails.
			_, err := g.Read(make([]byte, 64))
			readErr <- err
		}()
		started := make(chan struct{})
		diverted := make(chan divertResult, 1)
		go func() {
			// Not synchronised with the writer below except through the
			// guard itself.
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; time.Now().Before(deadline); i++ {
				ch := g.divert("M1")
				if i == 0 {
					close(started)
				}
				select {
				case r := <-ch:
					diverted <- r
					return
				default:
				}
				g.undivert("M1")
			}
			diverted <- divertResult{}
		}()
		<-started
		go b.Write([]byte("* CAPABILITY IMAP4rev1 (\r\n"))
		if err := <-readErr; err == nil {
			t.Fatal("Read accepted '(' in the capability list")
		}
		if r := waitDivert(t, diverted); r.err == nil || r.line != "" {
			t.Fatalf("divert after the failed Read received %+v, want the error", r)
		}
		a.Close()
		b.Close()
	}
}
