// Package maildir is mailsync's local side: it reads and writes Maildir
// folders (https://cr.yp.to/proto/maildir.html) the way mail clients expect,
// with crash-safe delivery, and maps folder names onto the two supported
// directory layouts.
//
// It knows nothing about IMAP or the sync state; it only promises that a file
// is either wholly in cur/ or new/ or not there at all.
package maildir

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Name is a parsed Maildir file name in the offlineimap form
// "KEY[,FIELD=VALUE...][:2,FLAGS]", e.g. "1700000000_3.4242.host,U=17,FMD5=ab…:2,FS".
type Name struct {
	// Key is the unique part before the first ',' or ':'. It stays the same
	// when flags change or mailsync adds U= and FMD5=, so it identifies the
	// message across renames by mail clients and by mailsync itself.
	Key string
	// UID is the IMAP UID recorded in the name (U=), 0 if none.
	UID uint32
	// FMD5 is the hex MD5 of the local folder name recorded in the name.
	FMD5 string
	// Fields are the other ",X=Y" base fields, such as Dovecot's S= and W=,
	// kept in order so a rename preserves them.
	Fields []string
	// Flags are the standard Maildir flag letters (upper case), sorted.
	Flags string
	// Keywords are the lower-case info letters (Dovecot keywords), kept
	// untouched on rename.
	Keywords string
	// HasInfo reports whether the name had a ":2," suffix.
	HasInfo bool
}

// ErrBadName is wrapped by ParseName errors.
var ErrBadName = errors.New("malformed maildir file name")

// ParseName parses a Maildir file name. It rejects names that no compliant
// writer produces (empty key, ":2," twice, path separators, bad U=) so that a
// hostile or corrupt name is skipped rather than misread as a message.
func ParseName(s string) (Name, error) {
	var n Name
	if s == "" || strings.ContainsAny(s, "/\x00") {
		return n, fmt.Errorf("%w: %q", ErrBadName, s)
	}
	base := s
	if i := strings.Index(s, ":2,"); i >= 0 {
		info := s[i+3:]
		if strings.Contains(info, ":") {
			return n, fmt.Errorf("%w: %q has more than one info part", ErrBadName, s)
		}
		base = s[:i]
		n.HasInfo = true
		var flags, kw []byte
		for j := 0; j < len(info); j++ {
			c := info[j]
			switch {
			case c >= 'A' && c <= 'Z':
				flags = append(flags, c)
			case c >= 'a' && c <= 'z':
				kw = append(kw, c)
			default:
				return n, fmt.Errorf("%w: %q has flag character %q", ErrBadName, s, c)
			}
		}
		n.Flags = SortFlags(string(flags))
		n.Keywords = string(kw)
	}
	if strings.Contains(base, ":") {
		// The spec keeps ':' out of the unique part; accepting it would let
		// a name like "a,b:2:2," re-render into one that no longer parses,
		// and ":1," (experimental info) is not a form we read or write.
		return n, fmt.Errorf("%w: %q has ':' outside its info part", ErrBadName, s)
	}
	key, rest, hasFields := strings.Cut(base, ",")
	n.Key = key
	if n.Key == "" || n.Key == "." || n.Key == ".." {
		return n, fmt.Errorf("%w: %q has an empty unique part", ErrBadName, s)
	}
	for hasFields {
		var f string
		f, rest, hasFields = strings.Cut(rest, ",")
		switch {
		case strings.HasPrefix(f, "U="):
			u, err := strconv.ParseUint(f[2:], 10, 32)
			if err != nil || u == 0 || n.UID != 0 {
				return n, fmt.Errorf("%w: %q has a bad U= field", ErrBadName, s)
			}
			n.UID = uint32(u)
		case strings.HasPrefix(f, "FMD5="):
			n.FMD5 = f[5:]
		case f == "":
			// "a,,b" is sloppy but harmless; drop the empty field.
		default:
			n.Fields = append(n.Fields, f)
		}
	}
	return n, nil
}

// String renders the name. U= and FMD5= come last in the base, after any
// fields that were already there.
func (n Name) String() string {
	var b strings.Builder
	b.WriteString(n.Key)
	for _, f := range n.Fields {
		b.WriteByte(',')
		b.WriteString(f)
	}
	if n.UID != 0 {
		b.WriteString(",U=")
		b.WriteString(strconv.FormatUint(uint64(n.UID), 10))
	}
	if n.FMD5 != "" {
		b.WriteString(",FMD5=")
		b.WriteString(n.FMD5)
	}
	if n.HasInfo || n.Flags != "" || n.Keywords != "" {
		b.WriteString(":2,")
		b.WriteString(n.Flags)
		b.WriteString(n.Keywords)
	}
	return b.String()
}

// SortFlags returns the distinct flag letters of s in ASCII order, the order
// the Maildir spec requires in file names.
func SortFlags(s string) string {
	sorted := true
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			sorted = false
			break
		}
	}
	if sorted {
		return s // the usual case: written by a compliant client
	}
	b := []byte(s)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	out := b[:1]
	for _, c := range b[1:] {
		if c != out[len(out)-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

// FolderMD5 is the FMD5= value for a local folder name: offlineimap's way of
// telling that a file was moved in from another folder.
func FolderMD5(localName string) string {
	sum := md5.Sum([]byte(localName))
	return hex.EncodeToString(sum[:])
}
