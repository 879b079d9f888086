package sync

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// flagSet holds the flags mailsync synchronises, one bit each. Keywords other
// than $Forwarded are not synchronised: Maildir has no portable place for them.
type flagSet uint8

const (
	flagDraft     flagSet = 1 << iota // D  \Draft
	flagFlagged                       // F  \Flagged
	flagForwarded                     // P  $Forwarded
	flagAnswered                      // R  \Answered
	flagSeen                          // S  \Seen
	flagTrashed                       // T  \Deleted
)

// flagTable is in Maildir letter order, so rendering yields sorted letters.
var flagTable = [...]struct {
	bit    flagSet
	letter byte
	imap   imap.Flag
}{
	{flagDraft, 'D', imap.FlagDraft},
	{flagFlagged, 'F', imap.FlagFlagged},
	{flagForwarded, 'P', imap.FlagForwarded},
	{flagAnswered, 'R', imap.FlagAnswered},
	{flagSeen, 'S', imap.FlagSeen},
	{flagTrashed, 'T', imap.FlagDeleted},
}

func parseMaildirFlags(s string) flagSet {
	var f flagSet
	for i := 0; i < len(s); i++ {
		for _, t := range flagTable {
			if s[i] == t.letter {
				f |= t.bit
			}
		}
	}
	return f
}

func (f flagSet) maildir() string {
	var b []byte
	for _, t := range flagTable {
		if f&t.bit != 0 {
			b = append(b, t.letter)
		}
	}
	return string(b)
}

func parseIMAPFlags(flags []imap.Flag) flagSet {
	var f flagSet
	for _, fl := range flags {
		for _, t := range flagTable {
			if strings.EqualFold(string(fl), string(t.imap)) {
				f |= t.bit
			}
		}
	}
	return f
}

func (f flagSet) imap() []imap.Flag {
	var out []imap.Flag
	for _, t := range flagTable {
		if f&t.bit != 0 {
			out = append(out, t.imap)
		}
	}
	return out
}

// merge3 is the per-flag three-way merge: a flag that changed on either side
// since base takes that side's value. A single bit can't conflict: if both
// sides changed it, they both flipped it the same way.
func merge3(base, local, remote flagSet) flagSet {
	return base ^ ((local ^ base) | (remote ^ base))
}

// withMaildirFlags keeps the letters mailsync doesn't manage (e.g. a
// client's own upper-case flags) and replaces the ones it does.
func withMaildirFlags(old string, f flagSet) string {
	var keep []byte
	for i := 0; i < len(old); i++ {
		if parseMaildirFlags(old[i:i+1]) == 0 {
			keep = append(keep, old[i])
		}
	}
	return sortLetters(string(keep) + f.maildir())
}

func sortLetters(s string) string {
	b := []byte(s)
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j] < b[j-1]; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
	return string(b)
}
