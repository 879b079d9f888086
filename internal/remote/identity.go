package remote

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// HeaderHash is the SHA-256 of a message's header section with its line
// endings made CRLF: with the size, what identifies a message that has no
// Message-ID, without reading its body.
func HeaderHash(header []byte) [32]byte {
	h := sha256.New()
	// Normalise: every LF not preceded by CR gets one.
	start := 0
	for i := 0; i < len(header); i++ {
		if header[i] == '\n' && (i == 0 || header[i-1] != '\r') {
			h.Write(header[start:i])
			h.Write([]byte("\r\n"))
			start = i + 1
		}
	}
	h.Write(header[start:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// maxHeaderSection bounds a header section read for hashing: a hostile
// server must not make us buffer without bound, and real headers are far
// smaller.
const maxHeaderSection = 256 << 10

// FetchHeaders returns the header section of each message in uids, from
// BODY.PEEK[HEADER]: the header only, never the body, and no \Seen. A
// header longer than maxHeaderSection is left out: it pairs with nothing.
func (m *Folder) FetchHeaders(ctx context.Context, uids []uint32) (map[uint32][]byte, error) {
	out := make(map[uint32][]byte, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	defer m.busy()()
	l, unlock, err := m.unit(ctx, false)
	if err != nil {
		return nil, err
	}
	cmd := m.c.Fetch(UIDSet(uids), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{
		Specifier: imap.PartSpecifierHeader, Peek: true,
	}}})
	unlock()
	defer cmd.Close()
	if err := l.check(m.Conn); err != nil {
		return nil, err
	}
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var uid uint32
		var hdr []byte
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(it.UID)
			case imapclient.FetchItemDataBodySection:
				b, err := io.ReadAll(io.LimitReader(it.Literal, maxHeaderSection+1))
				if err != nil {
					return nil, fmt.Errorf("FETCH: %w", err)
				}
				if len(b) > maxHeaderSection {
					b = nil // unhashable: pairs with nothing
				}
				hdr = b
			}
		}
		if uid != 0 && hdr != nil {
			out[uid] = hdr
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("UID FETCH BODY.PEEK[HEADER]: %w", err)
	}
	return out, nil
}
