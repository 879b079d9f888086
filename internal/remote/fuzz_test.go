package remote

import (
	"context"
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
