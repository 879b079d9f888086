package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A well-formed transcript for the command sequence serverSession runs; the
// fuzzer mutates it. go-imap numbers its tags T1, T2, ... in order.
const goodTranscript = "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n" +
	"T1 OK [CAPABILITY IMAP4rev1 ESEARCH CONDSTORE UIDPLUS LIST-STATUS] logged in\r\n" +
	"* LIST () \"/\" INBOX\r\n* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\nT2 OK\r\n" +
	"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1 HIGHESTMODSEQ 5)\r\nT3 OK\r\n" +
	"* STATUS \"Entw&APw-rfe\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1 HIGHESTMODSEQ 1)\r\nT4 OK\r\n" +
	"* 2 EXISTS\r\n* OK [UIDVALIDITY 1] v\r\n* OK [UIDNEXT 3] n\r\n* OK [HIGHESTMODSEQ 5] m\r\nT5 OK [READ-WRITE] selected\r\n" +
	"* ESEARCH (TAG \"T6\") UID ALL 1:2\r\nT6 OK\r\n" +
	"* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (4))\r\n* 2 FETCH (UID 2 FLAGS ())\r\nT7 OK\r\n" +
	"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE \"01-Jan-2025 00:00:00 +0000\" " +
	"BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n)\r\nT8 OK\r\n" +
	"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE \"01-Jan-2025 00:00:00 +0000\" BODY[] {10}\r\n0123456789)\r\n" +
	"T9 OK\r\n* BYE\r\nT10 OK\r\n"

// scriptServer plays stream to the client: the first line as the greeting,
// then, for each command line the client sends, the next segment up to and
// including a tagged line ("T..."). Responses therefore never run ahead of
// the commands they answer, whatever the bytes are.
func scriptServer(server net.Conn, stream []byte) {
	segs := splitTranscript(stream)
	if len(segs) == 0 {
		return
	}
	if _, err := server.Write(segs[0]); err != nil {
		return
	}
	buf := make([]byte, 0, 512)
	one := make([]byte, 1)
	for _, seg := range segs[1:] {
		buf = buf[:0]
		for {
			if _, err := server.Read(one); err != nil {
				return
			}
			buf = append(buf, one[0])
			if one[0] == '\n' {
				break
			}
		}
		if _, err := server.Write(seg); err != nil {
			return
		}
	}
	// Script over: hang up, so the client sees EOF instead of waiting for
	// its timeout (which would make fuzzing crawl).
	server.Close()
}

func splitTranscript(b []byte) [][]byte {
	var segs [][]byte
	i := strings.Index(string(b), "\n")
	if i < 0 {
		return [][]byte{b}
	}
	segs = append(segs, b[:i+1])
	start, pos := i+1, i+1
	for pos < len(b) {
		j := strings.Index(string(b[pos:]), "\n")
		if j < 0 {
			break
		}
		line := b[pos : pos+j+1]
		pos += j + 1
		if len(line) > 0 && line[0] == 'T' {
			segs = append(segs, b[start:pos])
			start = pos
		}
	}
	if start < len(b) {
		segs = append(segs, b[start:])
	}
	return segs
}

// serverSession runs the engine's command sequence against a server that
// answers with stream, whatever the client says.
func serverSession(t testing.TB, stream []byte) {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scriptServer(server, stream)
	}()
	defer func() {
		client.Close()
		server.Close()
		<-done
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := newConn(ctx, client, Options{Host: "fuzz", TLS: TLSNone, User: "u", Timeout: 300 * time.Millisecond,
		Password: func(context.Context) (string, error) { return "p", nil }})
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := c.List(ctx, nil); err != nil {
		return
	}
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		return
	}
	if _, err := c.UIDs(ctx, time.Time{}); err != nil {
		return
	}
	if _, err := c.FetchFlags(ctx, nil, 0); err != nil {
		return
	}
	if _, err := c.FetchInfo(ctx, []uint32{1, 2}, true); err != nil {
		return
	}
	_ = c.FetchBodies(ctx, []uint32{1, 2}, discardSink{})
}

type discardSink struct{}

func (discardSink) Body(r io.Reader, _ int64) error { _, err := io.Copy(io.Discard, r); return err }
func (discardSink) Done(Info) error                 { return nil }

func TestServerSessionTranscript(t *testing.T) {
	// The seed must really drive the whole sequence, or the fuzzer starts
	// from a transcript that stops at the greeting.
	client, server := net.Pipe()
	go scriptServer(server, []byte(goodTranscript))
	defer server.Close()
	ctx := context.Background()
	c, err := newConn(ctx, client, Options{TLS: TLSNone, User: "u", Timeout: time.Second,
		Password: func(context.Context) (string, error) { return "p", nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	boxes, err := c.List(ctx, nil)
	if err != nil || len(boxes) != 2 || boxes[1].Name != "Entwürfe" || boxes[0].Status == nil || boxes[0].Status.UIDNext != 3 ||
		boxes[1].Status == nil || boxes[1].Status.Messages != 0 {
		t.Fatalf("LIST: %+v %v", boxes, err)
	}
	if st, err := c.Select(ctx, "INBOX", false); err != nil || st.HighestModSeq != 5 {
		t.Fatalf("SELECT: %+v %v", st, err)
	}
	if uids, err := c.UIDs(ctx, time.Time{}); err != nil || len(uids) != 2 {
		t.Fatalf("UIDs: %v %v", uids, err)
	}
	if fl, err := c.FetchFlags(ctx, nil, 0); err != nil || len(fl) != 2 {
		t.Fatalf("flags: %v %v", fl, err)
	}
	if in, err := c.FetchInfo(ctx, []uint32{1, 2}, true); err != nil || len(in) != 1 || in[0].MessageID != "<a@b>" {
		t.Fatalf("info: %+v %v", in, err)
	}
	if err := c.FetchBodies(ctx, []uint32{1, 2}, discardSink{}); err != nil {
		t.Fatalf("bodies: %v", err)
	}
}

func FuzzServerResponses(f *testing.F) {
	f.Add([]byte(goodTranscript))
	hostile := map[string][2]string{
		"literal with a huge size":  {"BODY[] {10}\r\n0123456789)", "BODY[] {99999999999}\r\n0123456789)"},
		"string literal too large":  {`"Entw&APw-rfe"`, "{4000000000}\r\nabc"},
		"invalid modified UTF-7":    {`"Entw&APw-rfe"`, `"Entw&APw!rfe&"`},
		"huge flag list":            {`FLAGS (\Seen) MODSEQ`, "FLAGS (" + strings.Repeat(`\Seen $k `, 5000) + ") MODSEQ"},
		"unknown untagged response": {"T5 OK", "* XYZZY 1 (FOO {3}\r\nbar)\r\nT5 OK"},
		"negative literal":          {"{21}", "{-21}"},
		"uid zero and huge":         {"UID ALL 1:2", "UID ALL 0:4294967295"},
		"truncated mid-literal":     {"0123456789)\r\nT9 OK", "01234"},
		"VANISHED responses":        {"T7 OK", "* VANISHED 3\r\n* vanished (EARLIER) 1:2\r\nT7 OK"},
		"malformed VANISHED":        {"T6 OK", "* VANISHED (EARLIER) 1:*\r\nT6 OK"},
	}
	for name, h := range hostile {
		if !strings.Contains(goodTranscript, h[0]) {
			f.Fatalf("hostile seed %q: %q is not in the transcript", name, h[0])
		}
		f.Add([]byte(strings.Replace(goodTranscript, h[0], h[1], 1)))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		serverSession(t, stream)
		runtime.ReadMemStats(&after)
		// Whatever the server sends, what we allocate is bounded by what it
		// sent plus the guard's limits, never by sizes it merely announces.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20+8*uint64(len(stream)) {
			t.Fatalf("allocated %d bytes for a %d-byte server stream", grew, len(stream))
		}
	})
}

// Opcodes of a FuzzTrace program; any other byte is text for the current
// side (except 'Q', 'Z' and '}', which only the opcodes write).
const (
	opSwap    = 0xf0 // the other side writes from now on
	opLiteral = 0xf1 // a literal of 'Q's, its size from the next two bytes
	opLogin   = 0xf2 // a client LOGIN whose arguments hold 'Z'
	opAuth    = 0xf3 // a client AUTHENTICATE whose initial response holds 'Z'
	opChunk   = 0xf4 // later writes are cut into pieces of the next byte + 1
	opCRLF    = 0xf5
	opLong    = 0xf6 // 3000 bytes of text
	opSASL    = 0xf7 // an AUTHENTICATE exchange whose responses hold 'Z'
)

// traceProgram turns fuzz input into a conversation in which every byte of
// a literal is 'Q' and every credential holds 'Z', letters nothing else
// in it has; '}' is kept out of the text so that only opLiteral announces
// a literal. It returns the writes of each side, in order, with the piece
// size each is fed in.
func traceProgram(data []byte) (steps []traceStep, chunks []int) {
	server, chunk := false, 0
	atStart := true // the client is at the start of a command
	total := 0
	add := func(s string) {
		steps = append(steps, traceStep{server, s})
		chunks = append(chunks, chunk)
		total += len(s)
	}
	next := func(i *int) int {
		if *i >= len(data) {
			return 0
		}
		*i++
		return int(data[*i-1])
	}
	// A longer conversation would only make the fuzzer slower.
	for i := 0; i < len(data) && total < 64<<10; {
		op := data[i]
		i++
		switch op {
		case opSwap:
			server = !server
		case opLiteral:
			size := next(&i)
			size *= 1 + next(&i)%4*30
			add([]string{"{%d}\r\n", "{%d+}\r\n", "~{%d}\r\n"}[size%3])
			steps[len(steps)-1].data = fmt.Sprintf(steps[len(steps)-1].data, size) + strings.Repeat("Q", size)
			if !server {
				atStart = false
			}
		case opLogin, opAuth:
			if server || !atStart {
				continue
			}
			switch {
			case op == opAuth:
				add("T8 AUTHENTICATE PLAIN Zir\r\n")
			case next(&i)%3 == 0:
				add(`T9 LOGIN "Zu" "Z\"p"` + "\r\n")
			case next(&i)%2 == 0:
				add("T9 LOGIN {2}\r\nZu Zpw {3+}\r\nZp2\r\n")
			default:
				add("T9 login Zu Zpw\r\n")
			}
		case opChunk:
			chunk = next(&i) + 1
		case opSASL:
			if server || !atStart {
				continue
			}
			// The tag holds '}', which the server's other lines cannot,
			// so that only the answer given here ends the exchange.
			add("}8 AUTHENTICATE XOAUTH2\r\n")
			server = true
			add("\r\n+ \r\n")
			server = false
			add("Zresp1\r\n")
			server = true
			add("\r\n+ eyJ9\r\n")
			server = false
			add("Zresp2\r\n*\r\n")
			server = true
			add("\r\n}8 NO\r\n")
			server = false
		case opLong:
			add(strings.Repeat("x", 3000))
			if !server {
				atStart = false
			}
		case opCRLF:
			add("\r\n")
			if !server {
				atStart = true
			}
		case 'Q', 'Z', '}':
		default:
			add(string(op))
			if !server {
				atStart = op == '\n'
			}
		}
	}
	return steps, chunks
}

// FuzzTrace: whatever the conversation and however it is cut into reads
// and writes, the tracer does not panic, shows no byte of a literal and
// no credential, and shows lines of bounded length.
func FuzzTrace(f *testing.F) {
	f.Add([]byte("\xf0* OK hi\xf5\xf0\xf3\xf0+ \xf5\xf0abc\xf5\xf0T8 NO\xf5\xf0\xf2\x00\xf0T9 NO\xf5\xf0\xf2\x01\x00\xf2\x01\x01"))
	f.Add([]byte("\xf0* SEARCH \xf6\xf6\xf6\xf6\xf6\xf6\xf5\xf0T1 UID FETCH \xf6\xf6\xf6\xf6\xf6\xf6\xf5\xf7T2 NOOP\xf5"))
	f.Add([]byte("\xf4\x02\xf0* 1 FETCH (BODY[] \xf1\x05\x02)\xf5\xf0T1 APPEND X \xf1\x03\x00\xf5\xf2\x00\x01"))
	f.Add([]byte("\xf0* 1 FETCH (BINARY[] ~{3\xf1\x00\x00 x \xf1\xff\x03\n\xf0\xf2\x03"))
	f.Fuzz(func(t *testing.T, data []byte) {
		steps, chunks := traceProgram(data)
		tr := newTracer(func(fromServer bool, line string) {
			if strings.ContainsAny(line, "QZ") {
				t.Fatalf("shown: %q (fromServer %v)", line, fromServer)
			}
			// Escaping at most quadruples a byte.
			if len(line) > 4*traceLineMax+100 {
				t.Fatalf("a line of %d bytes", len(line))
			}
		})
		for k, st := range steps {
			b := []byte(st.data)
			for len(b) > 0 {
				n := len(b)
				if chunks[k] > 0 && chunks[k] < n {
					n = chunks[k]
				}
				tr.feed(st.server, b[:n])
				b = b[n:]
			}
		}
		tr.eof()
	})
}
