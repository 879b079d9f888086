package remote

import (
	"io"
	"net"
	"testing"
	"time"
)

// pipePair returns a progressConn with timeout over one end of a TCP pair.
func pipePair(t *testing.T, timeout time.Duration) (*progressConn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-ch
	t.Cleanup(func() { c.Close(); srv.Close() })
	return newProgressConn(c, timeout), srv
}

func TestProgressConnStalledReadFails(t *testing.T) {
	pc, _ := pipePair(t, 200*time.Millisecond)
	// go-imap arms a long deadline; the stall must still end after timeout.
	pc.SetReadDeadline(time.Now().Add(5 * time.Minute))
	_, err := pc.Read(make([]byte, 10))
	var ne net.Error
	if err == nil || !asNetErr(err, &ne) || !ne.Timeout() {
		t.Fatalf("stalled read: got %v, want a timeout", err)
	}
}

// After a read timed out, the connection stays failed: data that arrives
// later is not read, and no read waits again.
func TestProgressConnStalledReadStaysFailed(t *testing.T) {
	pc, srv := pipePair(t, 100*time.Millisecond)
	pc.SetReadDeadline(time.Now().Add(time.Minute))
	_, first := pc.Read(make([]byte, 10))
	var ne net.Error
	if !asNetErr(first, &ne) || !ne.Timeout() {
		t.Fatalf("stalled read: got %v, want a timeout", first)
	}
	if _, err := srv.Write([]byte("late answer\r\n")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		n, err := pc.Read(make([]byte, 10))
		if n != 0 || err != first {
			t.Fatalf("read %d after the timeout: %d bytes, %v; want the timeout again", i+2, n, err)
		}
	}
}

func TestProgressConnSlowTransferSurvives(t *testing.T) {
	pc, srv := pipePair(t, 300*time.Millisecond)
	go func() {
		// 1.2 s in total, four times the timeout, but never silent for long.
		for i := 0; i < 12; i++ {
			srv.Write([]byte("0123456789"))
			time.Sleep(100 * time.Millisecond)
		}
		srv.Close()
	}()
	pc.SetReadDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(pc)
	if err != nil || len(b) != 120 {
		t.Fatalf("slow transfer: read %d bytes, err %v", len(b), err)
	}
}

func TestProgressConnDisarmedWaitsForever(t *testing.T) {
	pc, srv := pipePair(t, 100*time.Millisecond)
	pc.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(400 * time.Millisecond)
		srv.Write([]byte("x"))
	}()
	if _, err := pc.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read without a deadline failed: %v", err)
	}
}

func asNetErr(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

// go-imap waits for the start of a response with no deadline at all; a
// command of ours in flight must bound that wait too.
func TestProgressConnInflightBoundsUnarmedRead(t *testing.T) {
	pc, _ := pipePair(t, 200*time.Millisecond)
	pc.SetReadDeadline(time.Time{}) // go-imap between responses
	errc := make(chan error, 1)
	go func() {
		_, err := pc.Read(make([]byte, 1)) // already blocked, as go-imap's reader is
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	end := pc.begin()
	defer end()
	select {
	case err := <-errc:
		var ne net.Error
		if !asNetErr(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read blocked before the command began was not bound by the timeout")
	}
}
