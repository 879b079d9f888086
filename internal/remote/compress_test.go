package remote

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// compressScript is a server that takes COMPRESS DEFLATE and then speaks
// DEFLATE both ways. Its answer to COMPRESS is followed, in the same write,
// by compressed data (afterOK): the client must hand the bytes it read past
// the OK to its decompressor, or it cannot decompress what follows.
type compressScript struct {
	answer  string // the answer to COMPRESS after the tag; default "OK DEFLATE active"
	corrupt bool   // answer NOOP with bytes that are not DEFLATE (a block of the reserved type)
	got     chan string
}

// afterOK is what the script sends, compressed, right after its OK to
// COMPRESS, and again before its answer to NOOP: DEFLATE sends the second
// as a reference back to the first, which decompresses only if the first
// reached the decompressor.
var afterOK = "* OK " + strings.Repeat("[sent right after the OK] ", 8) + "\r\n"

func (s *compressScript) serve(c net.Conn) error {
	defer c.Close()
	r := bufio.NewReader(c)
	var w io.Writer = c
	var fw *flate.Writer
	send := func(text string) error {
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
		if fw != nil {
			return fw.Flush()
		}
		return nil
	}
	if err := send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] scripted\r\n"); err != nil {
		return err
	}
	// The answer to LIST is held until COMPRESS arrives: a client that
	// waits for it before sending COMPRESS pays a round trip for it.
	var heldList string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		s.got <- strings.TrimRight(line, "\r\n")
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		name, _, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(name) {
		case "AUTHENTICATE":
			err = send(tag + " OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] in\r\n")
		case "LIST":
			heldList = "* LIST () \".\" INBOX\r\n" + tag + " OK listed\r\n"
		case "STATUS":
			err = send("* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7)\r\n" + tag + " OK status\r\n")
		case "SELECT", "EXAMINE":
			err = send("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 4] n\r\n" + tag + " OK [READ-WRITE] selected\r\n")
		case "COMPRESS":
			answer := s.answer
			if answer == "" {
				answer = "OK DEFLATE active"
			}
			if !strings.HasPrefix(answer, "OK") {
				err = send(tag + " " + answer + "\r\n")
				break
			}
			// One write: the OK, then the first compressed bytes.
			var b bytes.Buffer
			b.WriteString(heldList)
			heldList = ""
			b.WriteString(tag + " " + answer + "\r\n")
			to := &redirectWriter{&b}
			fw, _ = flate.NewWriter(to, flate.DefaultCompression)
			fw.Write([]byte(afterOK))
			fw.Flush()
			if _, err = c.Write(b.Bytes()); err != nil {
				return err
			}
			to.w = c
			w = fw
			// The client's bytes from here on are compressed.
			r = bufio.NewReader(flate.NewReader(r))
		case "NOOP":
			if s.corrupt && fw != nil {
				// Plain text where DEFLATE belongs.
				_, err = io.WriteString(c, "\xff\xff\xff\xff")
				break
			}
			err = send(afterOK + tag + " OK noop\r\n")
		case "LOGOUT":
			return send("* BYE\r\n" + tag + " OK\r\n")
		default:
			err = send(tag + " BAD unexpected\r\n")
		}
		if err != nil {
			return err
		}
	}
}

// redirectWriter writes to w, which may change between writes.
type redirectWriter struct{ w io.Writer }

func (r *redirectWriter) Write(p []byte) (int, error) { return r.w.Write(p) }

func dialCompressScript(t *testing.T, s *compressScript, o Options) *Conn {
	t.Helper()
	s.got = make(chan string, 64)
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	c, _ := dialPipe(t, s.serve, o)
	return c
}

// commandsSeen drains what a script read so far, without the tags.
func commandsSeen(got <-chan string) []string {
	var out []string
	for {
		select {
		case l := <-got:
			_, rest, _ := strings.Cut(l, " ")
			out = append(out, rest)
		default:
			return out
		}
	}
}

// TestCompressScripted: COMPRESS goes behind the first SELECT; the bytes
// the server sends right after its OK, in the same packet, are
// decompressed; later commands are compressed both ways. A refusal leaves the connection plain
// and usable; without Compress nothing is asked.
func TestCompressScripted(t *testing.T) {
	ctx := context.Background()
	t.Run("accepted", func(t *testing.T) {
		s := &compressScript{}
		c := dialCompressScript(t, s, Options{Compress: true})
		if _, err := c.Select(ctx, "INBOX", false); err != nil {
			t.Fatal(err)
		}
		if !c.Compressed() {
			t.Fatal("Compressed() = false after the server's OK")
		}
		// The NOOP's answer repeats afterOK.
		if err := c.Noop(ctx); err != nil {
			t.Fatalf("NOOP over the compressed stream: %v", err)
		}
		seen := commandsSeen(s.got)
		want := []string{"SELECT INBOX", "COMPRESS DEFLATE", "NOOP"}
		if len(seen) < 2 || !slices.Equal(seen[1:], want) {
			t.Errorf("the server read %q; want AUTHENTICATE, then %q", seen, want)
		}
	})
	t.Run("behind LIST", func(t *testing.T) {
		// The script answers LIST only once COMPRESS has come: List must
		// send COMPRESS without waiting for LIST's answer.
		s := &compressScript{}
		c := dialCompressScript(t, s, Options{Compress: true, Timeout: 2 * time.Second})
		boxes, err := c.List(ctx, []string{"INBOX"})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(boxes) != 1 || boxes[0].Status == nil || !c.Compressed() {
			t.Fatalf("List gave %+v, compressed %v; want INBOX with its status, compressed", boxes, c.Compressed())
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatalf("NOOP over the compressed stream: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		s := &compressScript{answer: "NO [COMPRESSIONACTIVE] already"}
		c := dialCompressScript(t, s, Options{Compress: true})
		if _, err := c.Select(ctx, "INBOX", false); err != nil {
			t.Fatal(err)
		}
		if c.Compressed() {
			t.Fatal("Compressed() = true after a NO")
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatalf("NOOP after the refusal: %v", err)
		}
		if _, err := c.Select(ctx, "INBOX", false); err != nil {
			t.Fatal(err)
		}
		seen := commandsSeen(s.got)
		want := []string{"SELECT INBOX", "COMPRESS DEFLATE", "NOOP", "SELECT INBOX"}
		if len(seen) < 2 || !slices.Equal(seen[1:], want) {
			t.Errorf("the server read %q; want AUTHENTICATE, then %q (COMPRESS asked once)", seen, want)
		}
	})
	t.Run("not asked", func(t *testing.T) {
		s := &compressScript{}
		c := dialCompressScript(t, s, Options{})
		if _, err := c.Select(ctx, "INBOX", false); err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		if seen := commandsSeen(s.got); slices.Contains(seen, "COMPRESS DEFLATE") {
			t.Errorf("COMPRESS sent without Options.Compress: %q", seen)
		}
	})
	t.Run("broken stream", func(t *testing.T) {
		s := &compressScript{corrupt: true}
		c := dialCompressScript(t, s, Options{Compress: true})
		if _, err := c.Select(ctx, "INBOX", false); err != nil {
			t.Fatal(err)
		}
		err := c.Noop(ctx)
		if err == nil || !strings.Contains(err.Error(), "compressed stream is broken") {
			t.Fatalf("plain bytes where DEFLATE belongs: err = %v, want the broken stream named", err)
		}
	})
}

// countingProxy forwards one address and counts the bytes each way.
type countingProxy struct {
	ln       net.Listener
	up, down atomic.Int64
	wg       gosync.WaitGroup
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	go func() {
		for {
			cl, err := ln.Accept()
			if err != nil {
				return
			}
			sv, err := net.Dial("tcp", target)
			if err != nil {
				cl.Close()
				continue
			}
			p.wg.Add(2)
			pipe := func(dst, src net.Conn, n *atomic.Int64) {
				defer p.wg.Done()
				k, _ := io.Copy(dst, src)
				n.Add(k)
				dst.Close()
				src.Close()
			}
			go pipe(sv, cl, &p.up)
			go pipe(cl, sv, &p.down)
		}
	}()
	return p
}

func (p *countingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// textMessage is a message of about size bytes of prose: mail-like text,
// which DEFLATE shrinks several times.
func textMessage(id string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <%s@test>\r\nSubject: %s\r\n\r\n", id, id)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "Line %d of %s: the quick brown fox jumps over the lazy dog, again and again.\r\n", i, id)
	}
	return []byte(b.String())
}

// TestCompressDovecot pulls and pushes through COMPRESS=DEFLATE with a
// real Dovecot (imap_zlib): the bodies arrive whole and the wire carries
// far fewer bytes than they hold; uploads (MULTIAPPEND, written past
// go-imap) are compressed too; the trace shows the commands in clear; an
// extra connection asks behind its first SELECT.
func TestCompressDovecot(t *testing.T) {
	user := "zipped"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, Compress: true})
	const n = 40
	var total int64
	for i := range n {
		m := textMessage(fmt.Sprintf("z%02d", i), 20000)
		total += int64(len(m))
		srv.Append(t, user, "INBOX", m)
	}
	proxy := startCountingProxy(t, srv.Addr())
	var trace traceLog
	ctx := context.Background()
	dial := func(compress bool) *Conn {
		c, err := Dial(ctx, Options{Host: srv.Host, Port: proxy.port(), TLS: TLSNone, User: user,
			Password: func(context.Context) (string, error) { return srv.Password(user), nil },
			Timeout:  10 * time.Second, Compress: compress,
			Trace: trace.trace})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := dial(true)
	if !c.Has(CapCompressDeflate) {
		t.Fatal("Dovecot with imap_zlib does not offer COMPRESS=DEFLATE")
	}
	if _, err := c.List(ctx, []string{"INBOX"}); err != nil {
		t.Fatal(err)
	}
	if !c.Compressed() {
		t.Fatal("not compressed after List")
	}
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDs(ctx, time.Time{})
	if err != nil || len(uids) != n {
		t.Fatalf("UIDs: %v, %v; want %d", uids, err, n)
	}
	downBefore := proxy.down.Load()
	sink := &collectSink{bodies: map[uint32]string{}}
	if err := c.FetchBodies(ctx, uids, sink); err != nil {
		t.Fatal(err)
	}
	for _, m := range srv.MessagesWithBodies(t, user, "INBOX") {
		if sink.bodies[m.UID] != string(m.Body) {
			t.Errorf("UID %d: %d bytes through COMPRESS, want the server's %d", m.UID, len(sink.bodies[m.UID]), len(m.Body))
		}
	}

	// An upload of the same text, past go-imap.
	var msgs []AppendMessage
	var upTotal int64
	for i := range 10 {
		m := textMessage(fmt.Sprintf("up%02d", i), 20000)
		upTotal += int64(len(m))
		msgs = append(msgs, AppendMessage{Size: int64(len(m)), Body: bytes.NewReader(m)})
	}
	if !c.CanMultiAppend() {
		t.Fatal("Dovecot does not offer MULTIAPPEND")
	}
	upBefore := proxy.up.Load()
	got, err := c.MultiAppend(ctx, "INBOX", msgs)
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("MultiAppend through COMPRESS: %v, %v", got, err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	// The proxy counts a direction when it closes.
	c.Close()
	waitFor(t, func() bool { return proxy.down.Load() > downBefore && proxy.up.Load() > upBefore })
	if down := proxy.down.Load(); down > total/3 {
		t.Errorf("%d bytes came down for %d bytes of mail; want under a third with COMPRESS", down, total)
	}
	if up := proxy.up.Load(); up > upTotal/3 {
		t.Errorf("%d bytes went up for %d bytes of uploads; want under a third with COMPRESS", up, upTotal)
	}
	tr := trace.String()
	for _, want := range []string{"C: M1 COMPRESS DEFLATE", "S: M1 OK", "UID FETCH", "APPEND INBOX"} {
		if !strings.Contains(tr, want) {
			t.Errorf("the trace has no %q (it must show the compressed session in clear):\n%.3000s", want, tr)
		}
	}

	// An extra connection: COMPRESS behind its first SELECT.
	c2 := dial(true)
	defer c2.Close()
	if _, err := c2.Select(ctx, "INBOX", true); err != nil {
		t.Fatal(err)
	}
	if !c2.Compressed() {
		t.Error("not compressed after the first Select")
	}
	if uids, err := c2.UIDs(ctx, time.Time{}); err != nil || len(uids) != n+len(msgs) {
		t.Errorf("UIDs on the second connection: %d, %v; want %d", len(uids), err, n+len(msgs))
	}

	// A connection that only uploads compresses before a large upload,
	// and not for a small one.
	for _, tc := range []struct {
		n    int
		want bool
	}{{10, true}, {1, false}} {
		cu := dial(true)
		var msgs []AppendMessage
		for i := range tc.n {
			m := textMessage(fmt.Sprintf("only%d-%02d", tc.n, i), 20000)
			msgs = append(msgs, AppendMessage{Size: int64(len(m)), Body: bytes.NewReader(m)})
		}
		if _, err := cu.MultiAppend(ctx, "INBOX", msgs); err != nil {
			t.Fatal(err)
		}
		if cu.Compressed() != tc.want {
			t.Errorf("after uploading %d messages of 20 kB: compressed %v, want %v", tc.n, cu.Compressed(), tc.want)
		}
		cu.Close()
	}

	// Compress off: nothing asked.
	c3 := dial(false)
	defer c3.Close()
	if _, err := c3.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if c3.Compressed() {
		t.Error("compressed without Options.Compress")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
