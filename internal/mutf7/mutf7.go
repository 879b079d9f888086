// Package mutf7 encodes and decodes IMAP's modified UTF-7 (RFC 3501 5.1.3).
// Folder names are in that form on disk where Dovecot, mbsync and
// offlineimap keep them so (local.folder_names = "imap-utf7", the
// importers, the test and benchmark tools), and on the wire in the
// commands mailsync writes itself (MULTIAPPEND); go-imap converts the
// names of the commands it writes.
package mutf7

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The modified base64 alphabet: ',' instead of '/', no padding.
func encoding() *base64.Encoding {
	return base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)
}

// Encode encodes s.
func Encode(s string) string {
	enc := encoding()
	var b strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		u := utf16.Encode(pending)
		buf := make([]byte, 0, 2*len(u))
		for _, x := range u {
			buf = append(buf, byte(x>>8), byte(x))
		}
		b.WriteByte('&')
		b.WriteString(enc.EncodeToString(buf))
		b.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			pending = append(pending, r)
		}
	}
	flush()
	return b.String()
}

// Decode decodes s; ok is false if s is not valid modified UTF-7 (then it is
// probably a plain UTF-8 name).
func Decode(s string) (string, bool) {
	enc := encoding()
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 || c < 0x20 {
			return "", false
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", false
		}
		part := s[i+1 : i+1+j]
		i += j + 2
		if part == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := enc.DecodeString(part)
		if err != nil || len(raw)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError {
				return "", false
			}
			b.WriteRune(r)
		}
	}
	return b.String(), true
}
