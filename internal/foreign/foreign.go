// Package foreign reads the sync state that offlineimap and mbsync keep of a
// Maildir folder, so that mailsync can take over a Maildir they synced
// without downloading it again and without losing the flag changes made
// while the user switched tools.
//
// What another tool recorded is a hint, never a fact: the sync engine
// checks every pairing it suggests against the server (Message-ID and
// size) before it uses it. The package only reads: the other tool's files
// stay as they are, so that switching back stays possible.
package foreign

import "strings"

// Hint is what the other tool recorded of one message, found by the U= in
// the message's file name.
type Hint struct {
	// ServerUID is the server UID the tool paired the file with.
	ServerUID uint32
	// Flags are the Maildir flag letters the tool last saw on both sides,
	// sorted: the base against which both sides' changes since are merged.
	Flags string
}

// Hints are a folder's hints, by the U= of its file names. Offlineimap
// writes the server's UID as U=; mbsync writes a UID of its own, which
// its state maps to the server's.
type Hints struct {
	Tool string // "offlineimap" or "mbsync"
	byU  map[uint32]Hint
}

// Lookup returns the hint for a file whose name has U=u.
func (h *Hints) Lookup(u uint32) (Hint, bool) {
	if h == nil || u == 0 {
		return Hint{}, false
	}
	x, ok := h.byU[u]
	return x, ok
}

// Len is the number of hints.
func (h *Hints) Len() int {
	if h == nil {
		return 0
	}
	return len(h.byU)
}

// maildirFlags keeps the Maildir flag letters of s, sorted; other
// characters (mbsync's status marks, offlineimap's keywords) go.
func maildirFlags(s string) string {
	var b []byte
	for _, c := range "DFPRST" {
		if strings.ContainsRune(s, c) {
			b = append(b, byte(c))
		}
	}
	return string(b)
}
