// Command linkemu is the benchmark's network emulator: a TCP relay that
// delays every byte by half a round-trip time in each direction and, with
// -mbit, sends each direction over one line of that rate shared by all
// connections, as a home connection is shared.
//
//	linkemu -target 127.0.0.1:PORT -rtt-ms 30 [-mbit 50] [-listen 127.0.0.1:0] [-addr-file F] [-log F]
//
// It listens on -listen (a free loopback port by default), writes the
// address it got to -addr-file, and relays every connection to -target.
// Each direction of each connection has a reader and a writer goroutine.
// The reader reads what the source sent (up to 16 KiB at a time), books
// the chunk onto the direction's line, which is busy len*8/rate seconds
// per chunk after the chunks booked before it, from any connection; waits
// until the chunk has left the line (so a busy line holds the sender back,
// as a full send buffer would, rather than queueing without limit); and
// queues it with a delivery time of its departure plus rtt/2. The writer
// sleeps until each chunk's delivery time and writes it, in order. Without
// -mbit the line has no rate: a chunk departs when it is read.
//
// When a source shuts down (EOF), the other side's write half is shut
// down once the data before it has been delivered; when both directions
// are done, or a write fails, the connection is closed.
//
// It logs "conn N: open" when it accepts a connection and, at close, one
// line with the bytes delivered each way, the duration, and
// whether the client asked for COMPRESS DEFLATE (a look at the first 64 KiB
// the client sent), so a run's log shows which tool compressed.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	chunkSize  = 16 << 10 // read size: the granularity of the delay and of the line
	queueLen   = 4096     // chunks in flight per direction and connection (the delay's "pipe")
	sniffBytes = 64 << 10 // how much of the client's stream is searched for COMPRESS
)

// line is one direction's shared link: chunks leave it one after another
// at its rate.
type line struct {
	bitsPerSec float64 // 0: no rate limit
	mu         sync.Mutex
	free       time.Time // when the line has sent everything booked so far
}

// book reserves the line for n bytes arriving now and returns when they
// have left it.
func (l *line) book(n int, now time.Time) time.Time {
	if l.bitsPerSec <= 0 {
		return now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	start := now
	if l.free.After(start) {
		start = l.free
	}
	l.free = start.Add(time.Duration(float64(n) * 8 / l.bitsPerSec * float64(time.Second)))
	return l.free
}

// emu is a configured emulator.
type emu struct {
	target   string
	oneWay   time.Duration
	up, down *line // client to server, server to client
	logf     func(format string, args ...any)
	nconn    atomic.Int64
}

func newEmu(target string, rtt time.Duration, mbit float64, logf func(string, ...any)) *emu {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &emu{
		target: target,
		oneWay: rtt / 2,
		up:     &line{bitsPerSec: mbit * 1e6},
		down:   &line{bitsPerSec: mbit * 1e6},
		logf:   logf,
	}
}

// serve accepts connections on ln until it is closed.
func (e *emu) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go e.handle(c)
	}
}

type chunk struct {
	at   time.Time
	data []byte
}

func (e *emu) handle(client net.Conn) {
	id := e.nconn.Add(1)
	start := time.Now()
	e.logf("conn %d: open", id)
	server, err := net.Dial("tcp", e.target)
	if err != nil {
		e.logf("conn %d: dial %s: %v", id, e.target, err)
		client.Close()
		return
	}
	var sniff bytes.Buffer
	var upN, downN int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); upN = e.pump(client, server, e.up, &sniff) }()
	go func() { defer wg.Done(); downN = e.pump(server, client, e.down, nil) }()
	wg.Wait()
	client.Close()
	server.Close()
	compress := bytes.Contains(bytes.ToUpper(sniff.Bytes()), []byte(" COMPRESS DEFLATE"))
	e.logf("conn %d: up %d B, down %d B, %.3f s, compress=%v", id, upN, downN, time.Since(start).Seconds(), compress)
}

// pump relays src to dst over l and the delay; it returns the bytes
// delivered. sniff, if not nil, gets the first sniffBytes of the stream.
func (e *emu) pump(src, dst net.Conn, l *line, sniff *bytes.Buffer) int64 {
	q := make(chan chunk, queueLen)
	var delivered int64
	done := make(chan struct{})
	go func() { // writer
		defer close(done)
		failed := false
		for c := range q {
			if failed {
				continue // drain so the reader is not blocked
			}
			if d := time.Until(c.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				failed = true
				// Abort the connection: the reader's next Read fails.
				src.Close()
				dst.Close()
				continue
			}
			delivered += int64(len(c.data))
		}
		if !failed {
			closeWrite(dst)
		}
	}()
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			now := time.Now()
			left := l.book(n, now)
			if sniff != nil && sniff.Len() < sniffBytes {
				sniff.Write(buf[:min(n, sniffBytes-sniff.Len())])
			}
			if d := left.Sub(now); d > 0 {
				time.Sleep(d)
			}
			q <- chunk{at: left.Add(e.oneWay), data: buf[:n]}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A reset or our own abort: nothing more will come.
				closeRead(src)
			}
			break
		}
	}
	close(q)
	<-done
	return delivered
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	c.Close()
}

func closeRead(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseRead()
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "address to relay to (host:port)")
	rttMS := flag.Float64("rtt-ms", 0, "round-trip time to add, in milliseconds (half each way)")
	mbit := flag.Float64("mbit", 0, "rate of each direction's line in Mbit/s, shared by all connections (0: unlimited)")
	addrFile := flag.String("addr-file", "", "write the listening address here once listening")
	logPath := flag.String("log", "", "log connections here (default stderr)")
	flag.Parse()
	if *target == "" || *rttMS < 0 || *mbit < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: linkemu -target HOST:PORT [-rtt-ms N] [-mbit N] [-listen ADDR] [-addr-file F] [-log F]")
		os.Exit(2)
	}
	lg := log.New(os.Stderr, "linkemu: ", log.LstdFlags|log.Lmicroseconds)
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			lg.Fatal(err)
		}
		lg.SetOutput(f)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		lg.Fatal(err)
	}
	e := newEmu(*target, time.Duration(*rttMS*float64(time.Millisecond)), *mbit, lg.Printf)
	lg.Printf("listening on %s, relaying to %s, rtt %g ms, %g Mbit/s per direction (0: unlimited)", ln.Addr(), *target, *rttMS, *mbit)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile+".tmp", []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			lg.Fatal(err)
		}
		if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
			lg.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; ln.Close() }()
	if err := e.serve(ln); err != nil {
		lg.Fatal(err)
	}
}
