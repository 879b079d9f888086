// Package crlf converts message text between the IMAP wire form (CRLF line
// endings, RFC 3501) and the native Maildir form (LF), as streams.
//
// mailsync stores LF locally because that is what mutt, notmuch and Dovecot's
// own Maildir expect, and it must upload CRLF with an exact literal size, so
// both directions are needed and neither may hold a whole message in memory.
//
// The LF form can't hold every wire byte sequence: CRs right before a line
// end ("\r\r\n") come back as a plain line end. The conversion is stable
// after that one normalisation, which is what a sync needs.
package crlf

import (
	"bytes"
	"io"
)

// ToLF returns a writer that forwards to w with every run of CRs directly
// before an LF removed, so "\r\n" (and "\r\r\n") become "\n". A CR not
// followed by LF is kept. Close (or Flush) must be called to emit trailing
// CRs that were held back to see what follows them.
func ToLF(w io.Writer) *LFWriter { return &LFWriter{w: w} }

// Reset makes l write to w, with its buffer kept: one LFWriter can serve
// every message of a download.
func (l *LFWriter) Reset(w io.Writer) { l.w, l.crs = w, 0 }

// LFWriter is the writer returned by ToLF.
type LFWriter struct {
	w   io.Writer
	crs int // CRs seen and not yet emitted
	buf []byte
}

func (l *LFWriter) Write(p []byte) (int, error) {
	out := l.buf[:0]
	for i := 0; i < len(p); {
		if l.crs > 0 {
			// Held CRs: dropped before an LF, kept before anything else.
			switch p[i] {
			case '\r':
				l.crs++
				i++
				continue
			case '\n':
			default:
				for ; l.crs > 0; l.crs-- {
					out = append(out, '\r')
				}
			}
			l.crs = 0
		}
		// Everything up to the next CR passes through unchanged.
		j := bytes.IndexByte(p[i:], '\r')
		if j < 0 {
			out = append(out, p[i:]...)
			break
		}
		out = append(out, p[i:i+j]...)
		l.crs = 1
		i += j + 1
	}
	l.buf = out
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush emits held-back trailing CRs.
func (l *LFWriter) Flush() error {
	if l.crs == 0 {
		return nil
	}
	b := bytes.Repeat([]byte{'\r'}, l.crs)
	l.crs = 0
	_, err := l.w.Write(b)
	return err
}

// Close flushes; it does not close the underlying writer.
func (l *LFWriter) Close() error { return l.Flush() }

// ToCRLF returns a reader over r with every bare LF turned into CRLF. Existing
// CRLF pairs are left alone.
func ToCRLF(r io.Reader) io.Reader {
	return &crlfReader{r: r, buf: make([]byte, 32<<10)}
}

type crlfReader struct {
	r       io.Reader
	buf     []byte
	pending []byte // read from r, not yet returned
	prevCR  bool   // the last byte returned was CR
	owed    bool   // an LF is owed after an inserted CR
	err     error
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.owed {
			p[n] = '\n'
			n++
			c.owed, c.prevCR = false, false
			continue
		}
		if len(c.pending) == 0 {
			if c.err != nil {
				break
			}
			if n > 0 {
				return n, nil // don't block for more while holding data
			}
			m, err := c.r.Read(c.buf)
			c.pending, c.err = c.buf[:m], err
			continue
		}
		// Copy up to the next LF in one go.
		chunk := c.pending
		if room := len(p) - n; len(chunk) > room {
			chunk = chunk[:room]
		}
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			copy(p[n:], chunk)
			n += len(chunk)
			c.prevCR = chunk[len(chunk)-1] == '\r'
			c.pending = c.pending[len(chunk):]
			continue
		}
		copy(p[n:], chunk[:i])
		n += i
		bareLF := !(i > 0 && chunk[i-1] == '\r') && !(i == 0 && c.prevCR)
		c.pending = c.pending[i+1:]
		// i < len(chunk) <= room, so p[n] is in range here.
		if bareLF {
			p[n] = '\r'
			n++
		}
		c.owed = true // the LF itself, emitted next
		c.prevCR = false
	}
	if n == 0 && c.err != nil {
		return 0, c.err
	}
	return n, nil
}

// Size returns the length that r would have after ToCRLF, reading r to the
// end. It is the exact literal size to announce for an APPEND.
func Size(r io.Reader) (int64, error) {
	// Every LF without a CR before it gains one: count the LFs, less those
	// that follow a CR, in blocks (bytes.Count is vectorised).
	buf := make([]byte, 16<<10)
	var n int64
	prevCR := false
	for {
		k, err := r.Read(buf)
		if k > 0 {
			b := buf[:k]
			n += int64(k) + int64(bytes.Count(b, []byte{'\n'})) - int64(bytes.Count(b, []byte("\r\n")))
			if prevCR && b[0] == '\n' {
				n--
			}
			prevCR = b[k-1] == '\r'
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
