package sync

import (
	"bytes"
	"io"
	"math"
	"os"

	"mailsync/internal/crlf"
	"mailsync/internal/remote"
)

// fileIdentity reads what identifies a local message file without its
// body: the Message-ID, the size on the wire (CRLF line endings) and the
// header. mbsync adds an "X-TUID:" header to the files it writes (to find
// them again), which the server's copy lacks; it is left out of the size
// and the header, so that mbsync's Maildir pairs with the server. mailsync
// leaves it out of what it uploads too (uploadBody), so that the server's
// copy of such a file pairs with it again if the state is ever lost.
func fileIdentity(f *os.File) (msgID string, size int64, header []byte) {
	size, err := crlf.Size(f)
	if err != nil {
		return "", 0, nil
	}
	header, size = withoutTUID(readHeader(f), size)
	return remote.ParseMessageID(header), size, header
}

// headerIdentity is a server message's identity from its header section
// and size: like fileIdentity's, without an X-TUID line (mbsync adds one
// to the copies it uploads).
func headerIdentity(hdr []byte, size int64) serverIdentity {
	hdr, size = withoutTUID(hdr, size)
	return serverIdentity{hash: remote.HeaderHash(hdr), size: size}
}

// withoutTUID is a message's header and wire size without mbsync's X-TUID
// line, if the header has one; hdr is not modified.
func withoutTUID(hdr []byte, size int64) ([]byte, int64) {
	t, ok := tuidIn(hdr)
	if !ok {
		return hdr, size
	}
	return append(append([]byte{}, hdr[:t.start]...), hdr[t.end:]...), size - t.wire
}

// readHeader reads the header of a message file, up to maxHeaderCapture
// bytes. It reads 8 KiB first, which holds nearly every header, so that
// pairing a large Maildir does not allocate 64 KiB per file.
func readHeader(f *os.File) []byte {
	buf := make([]byte, 8<<10)
	for {
		n, _ := f.ReadAt(buf, 0)
		if end := headerEnd(buf[:n]); end >= 0 {
			return buf[:end]
		}
		if n < len(buf) || len(buf) >= maxHeaderCapture {
			return buf[:min(n, maxHeaderCapture)]
		}
		buf = make([]byte, min(4*len(buf), maxHeaderCapture))
	}
}

// headerEnd is the length of the header section at the start of b, its
// blank line included; -1 if b holds no end.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// tuid is where mbsync's X-TUID header line lies in a file: its bytes
// [start, end), and its size on the wire, where its LF is CRLF.
type tuid struct{ start, end, wire int64 }

// tuidIn finds the X-TUID line in header, the start of a file.
func tuidIn(header []byte) (tuid, bool) {
	i := tuidLine(header)
	if i < 0 {
		return tuid{}, false
	}
	end := i + bytes.IndexByte(header[i:], '\n') + 1
	t := tuid{start: int64(i), end: int64(end), wire: int64(end - i)}
	if !bytes.HasSuffix(header[i:end], []byte("\r\n")) {
		t.wire++
	}
	return t, true
}

// uploadBody is the file's message as mailsync uploads it, from its first
// byte whatever f's offset: without mbsync's X-TUID line, if t says where
// it is.
func uploadBody(f *os.File, t *tuid) io.Reader {
	if t == nil {
		return io.NewSectionReader(f, 0, math.MaxInt64)
	}
	return io.MultiReader(io.NewSectionReader(f, 0, t.start), io.NewSectionReader(f, t.end, math.MaxInt64-t.end))
}

// tuidLine returns the offset of an "X-TUID:" header line in header, or -1.
func tuidLine(header []byte) int {
	for i := 0; i < len(header); {
		if len(header)-i >= 7 && bytes.EqualFold(header[i:i+7], []byte("X-TUID:")) {
			if bytes.IndexByte(header[i:], '\n') >= 0 {
				return i
			}
			return -1
		}
		j := bytes.IndexByte(header[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return -1
}
