package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownFolder: a folder asked for by name (sync -f) is on neither
// side. It is a usage error: nothing is synced, and the message names the
// nearest folders there are.
var ErrUnknownFolder = errors.New("no such folder")

// UnknownFolderError names the requested folders that exist nowhere, with
// the nearest names that do.
type UnknownFolderError struct {
	Names   []string
	Nearest []string
}

func (e *UnknownFolderError) Error() string {
	quoted := make([]string, len(e.Names))
	for i, n := range e.Names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	msg := fmt.Sprintf("no folder %s on the server or locally; nothing was synced", strings.Join(quoted, ", "))
	if len(e.Nearest) > 0 {
		near := make([]string, len(e.Nearest))
		for i, n := range e.Nearest {
			near[i] = fmt.Sprintf("%q", n)
		}
		msg += "; the nearest: " + strings.Join(near, ", ")
	}
	return msg
}

func (e *UnknownFolderError) Is(target error) bool { return target == ErrUnknownFolder }

// folderArg is a folder name as given on the command line, with INBOX in
// any case spelt INBOX: IMAP defines that name, and only that one, as
// case-insensitive (RFC 3501 5.1).
func folderArg(f string) string {
	if strings.EqualFold(f, "INBOX") {
		return "INBOX"
	}
	if len(f) > 6 && strings.EqualFold(f[:6], "INBOX/") {
		return "INBOX/" + f[6:]
	}
	return f
}

// unknownFolders returns the error for the requested folders that are not
// among known, or nil.
func unknownFolders(requested, known []string) error {
	var missing []string
	for _, f := range requested {
		if !slices.Contains(known, folderArg(f)) && !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &UnknownFolderError{Names: missing, Nearest: nearest(missing, known, 3)}
}

// nearest returns up to n names of known closest to any of names, by edit
// distance without regard to case, leaving out those too far to be a typo
// (more than half the name).
func nearest(names, known []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, k := range known {
		best := -1
		for _, f := range names {
			d := editDistance(strings.ToLower(f), strings.ToLower(k))
			if d <= max(len([]rune(f)), len([]rune(k)))/2 && (best < 0 || d < best) {
				best = d
			}
		}
		if best >= 0 && !slices.ContainsFunc(cs, func(c cand) bool { return c.name == k }) {
			cs = append(cs, cand{k, best})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, 0, n)
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
