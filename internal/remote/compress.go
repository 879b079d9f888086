package remote

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	gosync "sync"

	"github.com/emersion/go-imap/v2"
)

// COMPRESS=DEFLATE (RFC 4978). Mail is text: on a line of limited rate a
// download is bound by the bytes on the wire, and DEFLATE cuts those by
// half or more. go-imap v2.0.0-beta.8 has no COMPRESS, so mailsync writes
// the command itself, past go-imap, as it does MULTIAPPEND; the guard takes
// the answer out of the stream and, at the end of an OK, turns the
// deflateConn under go-imap from plain bytes to DEFLATE.
//
// The client may send nothing after COMPRESS until it has the answer, so
// the command costs a round trip of its own unless it goes last in a batch
// of commands whose answers are awaited anyway: mailsync sends it behind
// the LIST and the STATUS of known folders that open a sync (List), or
// behind an extra connection's first SELECT (Select) or first questions
// about a folder (AskChanges), and the no-op sync keeps its round trips.
// Only where nothing can follow it does it wait on its own: before a
// body FETCH, which must not travel uncompressed (Folder.unit), and before
// a large upload (compressForUpload).

// CapCompressDeflate is the capability of a server that takes COMPRESS DEFLATE.
const CapCompressDeflate imap.Cap = "COMPRESS=DEFLATE"

// deflateLevel trades CPU for the bytes the client sends, mostly commands
// and uploaded messages. BestSpeed keeps the compressor at about 400 KB and
// compresses text at over 100 MB/s, faster than any line it would help on.
const deflateLevel = flate.BestSpeed

// deflateConn is the connection under the trace: plain until COMPRESS is
// accepted, raw DEFLATE both ways after. The guard above finds the end of
// the OK and hands over the bytes it read past it (startInflate).
type deflateConn struct {
	net.Conn

	inflate io.ReadCloser // the reading goroutine's

	mu      gosync.Mutex // guards deflate: go-imap's writes and mailsync's own
	deflate *flate.Writer
}

func newDeflateConn(c net.Conn) *deflateConn { return &deflateConn{Conn: c} }

func (c *deflateConn) Read(p []byte) (int, error) {
	if c.inflate == nil {
		return c.Conn.Read(p)
	}
	n, err := c.inflate.Read(p)
	switch {
	case err == nil, err == io.EOF, err == io.ErrUnexpectedEOF, isNetErr(err):
		// io.EOF: the server ended the stream, which DEFLATE does only
		// at the end of the session. ErrUnexpectedEOF: the connection
		// ended inside the stream, as a cut connection does.
		return n, err
	default:
		return n, fmt.Errorf("the server's compressed stream is broken: %w", err)
	}
}

// isNetErr tells the connection's own failures (a timeout, a reset), which
// keep their type, from the decompressor's verdict on the bytes.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// startInflate decompresses what follows rest, the bytes already read past
// the OK (copied). The guard calls it on the reading goroutine, between two
// Reads.
func (c *deflateConn) startInflate(rest []byte) {
	r := io.Reader(c.Conn)
	if len(rest) > 0 {
		r = io.MultiReader(bytes.NewReader(bytes.Clone(rest)), c.Conn)
	}
	c.inflate = flate.NewReader(r)
}

// startDeflate compresses every later write.
func (c *deflateConn) startDeflate() {
	w, _ := flate.NewWriter(c.Conn, deflateLevel) // the level is valid
	c.mu.Lock()
	c.deflate = w
	c.mu.Unlock()
}

// Write compresses p when compression is on, and flushes it at once: the
// server must see every command whole to answer it (a sync flush, as RFC
// 4978 section 4 advises).
func (c *deflateConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deflate == nil {
		return c.Conn.Write(p)
	}
	if _, err := c.deflate.Write(p); err != nil {
		return 0, err
	}
	if err := c.deflate.Flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Compressed reports whether the connection is compressed.
func (c *Conn) Compressed() bool { return c.compressed }

// compressBehind sends COMPRESS DEFLATE if the connection asked for it, the
// server offers it and it is not on yet. Call it right after writing the
// commands whose answers come next, and call the function it returns after
// those answers, before anything else is sent (on a shared connection,
// with the write lock still held): that waits for COMPRESS's own answer
// and compresses what the client sends from then on. A refusal
// leaves the connection as it was; the function's error is the
// connection's failure.
func (c *Conn) compressBehind(ctx context.Context) func() error {
	if !c.wantCompress || c.compressed || c.dc == nil || c.g == nil || !c.caps.Has(CapCompressDeflate) {
		return func() error { return nil }
	}
	c.wantCompress = false // asked once per connection, whatever the answer
	tag := c.nextRawTag()
	dc := c.dc
	answer := c.g.divertThen(tag, func(line string, rest []byte) bool {
		// On the reading goroutine: what follows an OK is compressed.
		if !compressOK(line, tag) {
			return false
		}
		dc.startInflate(rest)
		return true
	})
	if err := c.writeRawLine(tag, "COMPRESS DEFLATE"); err != nil {
		c.c.Close()
		return func() error { return fmt.Errorf("COMPRESS: %w", err) }
	}
	return func() error {
		res, err := c.awaitRaw(ctx, tag, answer)
		if err != nil {
			return err
		}
		if res.err != nil {
			c.c.Close()
			return fmt.Errorf("COMPRESS: %w", res.err)
		}
		if compressOK(res.line, tag) {
			dc.startDeflate()
			c.compressed = true
		}
		return nil
	}
}

// compressUploadMin is the size of uploads from which a connection still
// uncompressed asks for COMPRESS before it sends them: below it, the round
// trip that COMPRESS costs on its own outweighs the bytes it saves on most
// lines (64 KiB take 10 ms at 50 Mbit/s).
const compressUploadMin = 64 << 10

// compressForUpload compresses the connection, if it is to be and is not
// yet, before size bytes of messages go up.
func (c *Conn) compressForUpload(ctx context.Context, size int64) error {
	if size < compressUploadMin {
		return nil
	}
	return c.compressBehind(ctx)()
}

// compressOK reports whether line is an OK to the COMPRESS tagged tag.
func compressOK(line, tag string) bool {
	t, ok := parseTagged(line, tag)
	return ok && t.status == "OK"
}
