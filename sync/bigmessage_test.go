package sync_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	msync "mailsync/sync"
)

// bigMessage is a message of exactly size bytes with LF line endings: a
// header and base64-like lines of 76 characters, as an attachment is sent.
func bigMessage(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Message-ID: %s\nSubject: attachment\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n", id)
	line := strings.Repeat("QUJD", 19) + "\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	for b.Len() < size-1 {
		b.WriteByte('A')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// allocated runs f and returns the bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBigMessageStreams: a 5,000,000-byte message is never held in memory
// whole, neither downloaded nor uploaded. The check is on what the process
// allocates during the sync that moves one each way: against the same sync
// of 5,000-byte messages, it must grow by less than a fifth of a message
// (bodies go through fixed-size buffers between the socket and the file),
// which bounds what was ever held at once. The uploads go as MULTIAPPEND;
// internal/remote's TestBigLiteralsStream covers go-imap's APPEND too.
func TestBigMessageStreams(t *testing.T) {
	const big, small = 5_000_000, 5_000
	// move syncs, on a fresh account, a server message and a local message
	// of size bytes, and returns what the sync allocated.
	move := func(t *testing.T, user string, size int) uint64 {
		srv, cfg, dir := dovecotAccount(t, user, "")
		syncWith(t, cfg, nil)
		down := fmt.Sprintf("<down-%d@test>", size)
		up := fmt.Sprintf("<up-%d@test>", size)
		srv.Append(t, user, "INBOX", bigMessage(down, size))
		mf := &maildir.Folder{Dir: filepath.Join(dir, "Mail", "INBOX")}
		name := fmt.Sprintf("%d.M1P1Q%d.client:2,S", time.Now().Unix(), size)
		upBody := bigMessage(up, size)
		if err := os.WriteFile(filepath.Join(mf.Dir, "cur", name), upBody, 0o600); err != nil {
			t.Fatal(err)
		}
		// Every line ends in one LF, which goes to the server as CRLF.
		upSize := int64(size + bytes.Count(upBody, []byte("\n")))
		upBody = nil

		var got msync.Counts
		n := allocated(func() { got = syncWith(t, cfg, nil) })
		if got.Pulled != 1 || got.Pushed != 1 {
			t.Fatalf("%d-byte messages: %+v; want 1 pulled, 1 pushed", size, got)
		}
		// Both arrived whole.
		var pulled int64
		entries, _, _, err := mf.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(e.Path(mf.Dir))
			if err != nil {
				t.Fatal(err)
			}
			if remote.ParseMessageID(b) == down {
				pulled = int64(len(b))
			}
		}
		if pulled != int64(size) {
			t.Errorf("the pulled %d-byte message is %d bytes locally", size, pulled)
		}
		pushed := int64(-1)
		for _, m := range srv.Messages(t, user, "INBOX") {
			if m.MessageID == up {
				pushed = m.Size
			}
		}
		if pushed != upSize {
			t.Errorf("the pushed %d-byte message is %d bytes on the server, want %d", size, pushed, upSize)
		}
		return n
	}
	base := move(t, "bs", small)
	n := move(t, "bb", big)
	t.Logf("allocated: %d bytes moving two %d-byte messages, %d for two of %d bytes", n, big, base, small)
	if n > base && n-base > big/5 {
		t.Errorf("moving two %d-byte messages allocated %d bytes more than moving two of %d bytes: a body is buffered whole",
			big, n-base, small)
	}
}
