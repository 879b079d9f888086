package faultproxy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsync/internal/dovetest"
)

// TestWithDovecot runs go-imap's client against a real Dovecot through the
// proxy: untouched sessions work, and each fault has the effect a client
// would see from a real server.
func TestWithDovecot(t *testing.T) {
	srv := dovetest.Start(t, dovetest.Options{Users: []string{"fp"}})
	p := startProxy(t, srv.Addr(), nil)
	msg := func(i, size int) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: a@example.org\r\nMessage-ID: <fp-%d@example.org>\r\nSubject: %d\r\n\r\n", i, i)
		for b.Len() < size {
			b.WriteString("0123456789 abcdefghijklmnopqrstuvwxyz {12}\r\n")
		}
		return b.Bytes()
	}
	login := func(t *testing.T) *imapclient.Client {
		t.Helper()
		c, err := imapclient.DialInsecure(p.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Login("fp", srv.Password("fp")).Wait(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	appendMsg := func(c *imapclient.Client, b []byte) (*imap.AppendData, error) {
		cmd := c.Append("INBOX", int64(len(b)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		if _, err := cmd.Write(b); err != nil {
			cmd.Close()
			return nil, err
		}
		if err := cmd.Close(); err != nil {
			return nil, err
		}
		return cmd.Wait()
	}
	fetchAll := func(c *imapclient.Client) ([]*imapclient.FetchMessageBuffer, error) {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			return nil, err
		}
		return c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
	}

	// Pass-through: appends (a synchronising literal above 4 KB) and a
	// fetch of all bodies come back byte for byte.
	c := login(t)
	var want [][]byte
	for i := 0; i < 4; i++ {
		b := msg(i, 20000)
		want = append(want, b)
		d, err := appendMsg(c, b)
		if err != nil {
			t.Fatalf("APPEND through the proxy: %v", err)
		}
		if d.UID == 0 {
			t.Errorf("APPEND %d: no APPENDUID through an untouched proxy", i)
		}
	}
	msgs, err := fetchAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(want) {
		t.Fatalf("fetched %d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true}); !bytes.Equal(got, want[i]) {
			t.Errorf("message %d changed on the way: %d bytes, want %d", i+1, len(got), len(want[i]))
		}
	}
	c.Close()

	t.Run("StripUIDPLUS", func(t *testing.T) {
		p.Set(Fault{StripCaps: []string{"UIDPLUS"}})
		defer p.PassThrough()
		c := login(t)
		caps, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if caps.Has(imap.CapUIDPlus) {
			t.Errorf("UIDPLUS still announced: %v", caps)
		}
		if !caps.Has(imap.CapIdle) {
			t.Errorf("other capabilities lost: %v", caps)
		}
		d, err := appendMsg(c, msg(10, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if d.UID != 0 {
			t.Errorf("APPEND returned UID %d; the APPENDUID code should have been removed", d.UID)
		}
	})

	t.Run("RejectAppend", func(t *testing.T) {
		p.Set(Fault{Reject: []Reject{{Command: "APPEND", Status: "BAD", Text: "no appends today"}}})
		defer p.PassThrough()
		before := srv.Status(t, "fp", "INBOX").Messages
		for _, size := range []int{100, 20000} {
			_, err := appendMsg(login(t), msg(20+size, size))
			if err == nil || !strings.Contains(err.Error(), "no appends today") {
				t.Errorf("APPEND of %d bytes: want the proxy's BAD, got %v", size, err)
			}
		}
		// (go-imap closes the session after a refused synchronising
		// literal, so each APPEND gets a session of its own.)
		if after := srv.Status(t, "fp", "INBOX").Messages; after != before {
			t.Errorf("the server got a message: %d → %d", before, after)
		}
	})

	t.Run("StallMidLiteral", func(t *testing.T) {
		p.Set(Fault{Stall: &Trigger{Dir: ServerToClient, Literal: true, Nth: 2, Skip: 100}})
		defer p.PassThrough()
		c := login(t)
		done := make(chan error, 1)
		go func() { _, err := fetchAll(c); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("FETCH ended (%v) through a stalled connection", err)
		case <-time.After(300 * time.Millisecond):
		}
		c.Close()
		<-done
	})

	t.Run("Latency", func(t *testing.T) {
		p.Set(Fault{Latency: 25 * time.Millisecond})
		defer p.PassThrough()
		c := login(t)
		start := time.Now()
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 50*time.Millisecond {
			t.Errorf("NOOP took %v with 25 ms each way", rtt)
		}
		msgs, err := fetchAll(c)
		if err != nil || len(msgs) < len(want) {
			t.Fatalf("FETCH with latency: %d messages, %v", len(msgs), err)
		}
		got := msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true})
		if !bytes.Equal(got, want[0]) {
			t.Error("message changed with latency")
		}
	})
}
