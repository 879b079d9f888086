package remote

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// genMessage reads as a message of exactly size bytes, CRLF line ends, made
// up as it is read: the test itself holds none of it.
type genMessage struct {
	head string
	size int64
	off  int64
}

func newGenMessage(id string, size int64) *genMessage {
	return &genMessage{head: "Message-ID: " + id + "\r\nSubject: attachment\r\n\r\n", size: size}
}

func (g *genMessage) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.off < g.size {
		// Lines of 76 letters, and CRLF at the very end.
		var c byte
		col := (g.off - int64(len(g.head))) % 78
		switch {
		case g.off < int64(len(g.head)):
			c = g.head[g.off]
		case g.off == g.size-2:
			c = '\r'
		case g.off == g.size-1:
			c = '\n'
		case col == 76 && g.off+1 < g.size-2:
			c = '\r'
		case col == 77 && g.off < g.size-2:
			c = '\n'
		default:
			c = 'A' + byte(g.off%26)
		}
		p[n] = c
		n++
		g.off++
	}
	return n, nil
}

// sizeSink reads every body to the end and keeps its size.
type sizeSink struct{ sizes []int64 }

func (s *sizeSink) Body(r io.Reader, size int64) error {
	n, err := io.Copy(io.Discard, r)
	if err == nil && n != size {
		err = fmt.Errorf("body of %d bytes, announced %d", n, size)
	}
	s.sizes = append(s.sizes, n)
	return err
}

func (s *sizeSink) Done(Info) error { return nil }

// allocatedBy runs f and returns the bytes the process allocated meanwhile.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBigLiteralsStream: a 5,000,000-byte message goes through each of the
// three ways a body crosses the connection (go-imap's APPEND, MULTIAPPEND,
// and a FETCH of bodies) in memory that does not depend on its size: each
// allocates, against the same operation on a 5,000-byte message, less than
// a fifth of the message more, which bounds what was ever held at once.
func TestBigLiteralsStream(t *testing.T) {
	const user = "bl"
	const big, small = 5_000_000, 5_000
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	ctx := context.Background()
	c := dialDovecot(t, srv, user)
	if _, err := c.Select(ctx, "INBOX", false); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		run  func(t *testing.T, id string, size int64)
	}{
		{"APPEND", func(t *testing.T, id string, size int64) {
			p, err := c.StartAppend(ctx, "INBOX", nil, time.Time{}, size, newGenMessage(id, size))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
		}},
		{"MULTIAPPEND", func(t *testing.T, id string, size int64) {
			if _, err := c.MultiAppend(ctx, "INBOX", []AppendMessage{{Size: size, Body: newGenMessage(id, size)}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"FETCH", func(t *testing.T, id string, size int64) {
			uids, err := c.SearchHeader(ctx, "Message-ID", id, 0)
			if err != nil || len(uids) != 1 {
				t.Fatalf("the message to fetch, %s: UIDs %v, %v", id, uids, err)
			}
			var sink sizeSink
			if err := c.FetchBodies(ctx, uids, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.sizes) != 1 || sink.sizes[0] != size {
				t.Fatalf("fetched bodies of %v bytes, want one of %d", sink.sizes, size)
			}
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			var got [2]uint64
			for i, size := range []int64{small, big} {
				id := fmt.Sprintf("<%s-%d@test>", strings.ToLower(op.name), size)
				if op.name == "FETCH" {
					// Put there by the APPEND case.
					id = fmt.Sprintf("<append-%d@test>", size)
				}
				got[i] = allocatedBy(func() { op.run(t, id, size) })
			}
			t.Logf("%s allocated %d bytes for %d bytes, %d for %d", op.name, got[1], big, got[0], small)
			if got[1] > got[0] && got[1]-got[0] > big/5 {
				t.Errorf("%s of %d bytes allocated %d bytes more than of %d: the body is held whole",
					op.name, big, got[1]-got[0], small)
			}
		})
	}
	// Each arrived whole.
	for _, m := range srv.Messages(t, user, "INBOX") {
		if !strings.HasSuffix(m.MessageID, "-5000000@test>") && !strings.HasSuffix(m.MessageID, "-5000@test>") {
			t.Errorf("unexpected message %s", m.MessageID)
		} else if strings.HasSuffix(m.MessageID, "-5000000@test>") != (m.Size == big) {
			t.Errorf("%s is %d bytes on the server", m.MessageID, m.Size)
		}
	}
}
