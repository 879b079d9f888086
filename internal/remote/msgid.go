package remote

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
)

// ParseMessageID returns the Message-ID header of a message header block
// (unfolded, trimmed), or "" when there is none or the header is unreadable.
func ParseMessageID(header []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(header)))
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return strings.TrimSpace(h.Get("Message-Id"))
}
