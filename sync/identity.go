package sync

import (
	"bytes"
	"os"

	"mailsync/internal/crlf"
	"mailsync/internal/remote"
)

// fileIdentity reads what identifies a local message file without its
// body: the Message-ID, the size on the wire (CRLF line endings) and the
// header. mbsync adds an "X-TUID:" header to the files it writes (to find
// them again), which the server's copy lacks; it is left out of the size
// and the header, so that mbsync's Maildir pairs with the server.
func fileIdentity(f *os.File) (msgID string, size int64, header []byte) {
	size, err := crlf.Size(f)
	if err != nil {
		return "", 0, nil
	}
	buf := make([]byte, maxHeaderCapture)
	n, _ := f.ReadAt(buf, 0)
	var hc headerCapture
	hc.Write(buf[:n])
	header = hc.bytes()
	if i := tuidLine(header); i >= 0 {
		end := i + bytes.IndexByte(header[i:], '\n') + 1
		line := header[i:end]
		wire := int64(len(line))
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			wire++ // its LF is CRLF on the wire
		}
		size -= wire
		header = append(append([]byte{}, header[:i]...), header[end:]...)
	}
	return remote.ParseMessageID(header), size, header
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
