// Package crlf converts message text between the IMAP wire form (CRLF line
// endings, RFC 3501) and the native Maildir form (LF), as streams.
//
// mailsync stores LF locally because that is what mutt, notmuch and Dovecot's
// own Maildir expect, and it must upload CRLF with an exact literal size, so
// both directions are needed and neither may hold a whole message in memory.
package crlf

import (
	"bufio"
	"io"
)

// ToLF returns a writer that forwards to w with every CRLF pair replaced by
// LF. A lone CR is kept. Close (or Flush) must be called to emit a trailing CR
// that was held back to see whether an LF follows.
func ToLF(w io.Writer) *LFWriter { return &LFWriter{w: w} }

// LFWriter is the writer returned by ToLF.
type LFWriter struct {
	w       io.Writer
	pending bool // a CR was seen at the end of the previous Write
	buf     []byte
}

func (l *LFWriter) Write(p []byte) (int, error) {
	out := l.buf[:0]
	if cap(out) < len(p)+1 {
		out = make([]byte, 0, len(p)+1)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if l.pending {
			l.pending = false
			if c != '\n' {
				out = append(out, '\r')
			}
		}
		if c == '\r' {
			l.pending = true
			continue
		}
		out = append(out, c)
	}
	l.buf = out
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush emits a held-back trailing CR.
func (l *LFWriter) Flush() error {
	if l.pending {
		l.pending = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// Close flushes; it does not close the underlying writer.
func (l *LFWriter) Close() error { return l.Flush() }

// ToCRLF returns a reader over r with every bare LF turned into CRLF. Existing
// CRLF pairs are left alone.
func ToCRLF(r io.Reader) io.Reader {
	return &crlfReader{r: bufio.NewReaderSize(r, 32<<10)}
}

type crlfReader struct {
	r      *bufio.Reader
	prevCR bool
	owed   bool // an LF is owed after an inserted CR
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.owed {
			p[n] = '\n'
			n++
			c.owed = false
			c.prevCR = false
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		if b == '\n' && !c.prevCR {
			p[n] = '\r'
			n++
			c.owed = true
			continue
		}
		c.prevCR = b == '\r'
		p[n] = b
		n++
	}
	return n, nil
}

// Size returns the length that r would have after ToCRLF, reading r to the
// end. It is the exact literal size to announce for an APPEND.
func Size(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var n int64
	prevCR := false
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if b == '\n' && !prevCR {
			n++
		}
		prevCR = b == '\r'
		n++
	}
}
