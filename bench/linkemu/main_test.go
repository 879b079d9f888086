package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// start runs an emulator in front of target and returns its address.
func start(t *testing.T, target string, rtt time.Duration, mbit float64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go newEmu(target, rtt, mbit, nil).serve(ln) // no t.Logf: a connection may log after the test ends
	return ln.Addr().String()
}

// echoServer echoes every connection until EOF, then half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRoundTripTakesRTT(t *testing.T) {
	const rtt = 40 * time.Millisecond
	addr := start(t, echoServer(t), rtt, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		if string(buf) != "hello" {
			t.Fatalf("echo %q", buf)
		}
		if d < rtt {
			t.Errorf("round trip %v, want at least %v", d, rtt)
		}
		if d > rtt+2*time.Second { // generous: a sanity check, not a timing test
			t.Errorf("round trip %v, far above %v", d, rtt)
		}
	}
}

func TestRateLimit(t *testing.T) {
	const (
		size = 1 << 20
		mbit = 40.0
	)
	// A sink that counts what arrives and then reports it by closing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		got <- n
	}()
	addr := start(t, ln.Addr().String(), 0, mbit)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if n := <-got; n != size {
		t.Fatalf("sink got %d bytes, want %d", n, size)
	}
	d := time.Since(t0)
	min := time.Duration(size * 8 / (mbit * 1e6) * float64(time.Second))
	if d < min {
		t.Errorf("1 MiB at %g Mbit/s took %v, want at least %v", mbit, d, min)
	}
	c.Close()
}

// TestIntegrity sends a large random stream each way at once through the
// emulator (with a delay and a rate) to a server that checks it and sends
// its own; both sides must get exactly the other's bytes.
func TestIntegrity(t *testing.T) {
	const size = 3 << 20
	r := rand.New(rand.NewPCG(1, 2))
	up := make([]byte, size)
	down := make([]byte, size)
	for i := range up {
		up[i] = byte(r.Uint32())
		down[i] = byte(r.Uint32())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvGot := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvGot <- nil
			return
		}
		defer c.Close()
		go func() {
			// Odd write sizes, so chunks do not line up with the emulator's.
			for off := 0; off < len(down); off += 7777 {
				if _, err := c.Write(down[off:min(off+7777, len(down))]); err != nil {
					return
				}
			}
			c.(*net.TCPConn).CloseWrite()
		}()
		b, _ := io.ReadAll(c)
		srvGot <- b
	}()
	addr := start(t, ln.Addr().String(), 10*time.Millisecond, 200)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(up)
		c.(*net.TCPConn).CloseWrite()
	}()
	cliGot, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cliGot, down) {
		t.Errorf("client got %d bytes, not the server's %d", len(cliGot), len(down))
	}
	if b := <-srvGot; !bytes.Equal(b, up) {
		t.Errorf("server got %d bytes, not the client's %d", len(b), len(up))
	}
}
