package benchlib

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// State is a mail store seen as folder -> Message-ID -> flags, one entry per
// copy (so duplicates show up as two entries). Flags are canonical Maildir
// letters: a sorted subset of "DFRST" ("" for none). Keywords and \Recent
// are not compared.
type State map[string]map[string][]string

// Add records one copy of mid in folder with flags (canonicalised).
func (s State) Add(folder, mid, flags string) {
	m := s[folder]
	if m == nil {
		m = map[string][]string{}
		s[folder] = m
	}
	m[mid] = append(m[mid], CanonFlags(flags))
}

// Set makes mid in folder exactly one copy with flags.
func (s State) Set(folder, mid, flags string) {
	m := s[folder]
	if m == nil {
		m = map[string][]string{}
		s[folder] = m
	}
	m[mid] = []string{CanonFlags(flags)}
}

// Delete removes mid from folder.
func (s State) Delete(folder, mid string) {
	delete(s[folder], mid)
}

// Flags returns the flags of the (first copy of) mid in folder.
func (s State) Flags(folder, mid string) (string, bool) {
	f, ok := s[folder][mid]
	if !ok || len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// FolderNames returns the folder names, sorted.
func (s State) FolderNames() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MIDs returns the Message-IDs in folder, sorted.
func (s State) MIDs(folder string) []string {
	mids := make([]string, 0, len(s[folder]))
	for mid := range s[folder] {
		mids = append(mids, mid)
	}
	sort.Strings(mids)
	return mids
}

// Count returns the number of message copies in all folders.
func (s State) Count() int {
	n := 0
	for _, m := range s {
		for _, c := range m {
			n += len(c)
		}
	}
	return n
}

// CanonFlags keeps the letters D F R S T of a Maildir info string, each
// once, sorted.
func CanonFlags(f string) string {
	var have [5]bool
	for i := 0; i < len(f); i++ {
		if k := strings.IndexByte("DFRST", f[i]); k >= 0 {
			have[k] = true
		}
	}
	var b strings.Builder
	for k, h := range have {
		if h {
			b.WriteByte("DFRST"[k])
		}
	}
	return b.String()
}

// IMAPFlagsToLetters maps IMAP system flags to Maildir letters, ignoring
// keywords and \Recent.
func IMAPFlagsToLetters(flags []string) string {
	var b strings.Builder
	for _, f := range flags {
		switch strings.ToLower(f) {
		case `\seen`:
			b.WriteByte('S')
		case `\answered`:
			b.WriteByte('R')
		case `\flagged`:
			b.WriteByte('F')
		case `\deleted`:
			b.WriteByte('T')
		case `\draft`:
			b.WriteByte('D')
		}
	}
	return CanonFlags(b.String())
}

// WriteState writes s as sorted TSV lines "folder<TAB>message-id<TAB>flags"
// ("-" for no flags), atomically.
func WriteState(path string, s State) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, folder := range s.FolderNames() {
		for _, mid := range s.MIDs(folder) {
			for _, fl := range s[folder][mid] {
				if fl == "" {
					fl = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", folder, mid, fl)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadState reads a file written by WriteState.
func ReadState(path string) (State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := State{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 tab-separated fields", filepath.Base(path), line)
		}
		fl := parts[2]
		if fl == "-" {
			fl = ""
		}
		s.Add(parts[0], parts[1], fl)
	}
	return s, sc.Err()
}

// Diff describes one difference between two states.
type Diff struct {
	Folder, MID string
	A, B        []string // flags of each copy on side A and side B (nil: absent)
}

func (d Diff) String() string {
	show := func(c []string) string {
		if c == nil {
			return "absent"
		}
		parts := make([]string, len(c))
		for i, f := range c {
			if f == "" {
				f = "-"
			}
			parts[i] = "[" + f + "]"
		}
		return strings.Join(parts, "")
	}
	return fmt.Sprintf("%s %s: %s vs %s", d.Folder, d.MID, show(d.A), show(d.B))
}

// Compare returns every (folder, Message-ID) whose copies and flags differ
// between a and b, sorted.
func Compare(a, b State) []Diff {
	var diffs []Diff
	folders := map[string]bool{}
	for f := range a {
		folders[f] = true
	}
	for f := range b {
		folders[f] = true
	}
	names := make([]string, 0, len(folders))
	for f := range folders {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		mids := map[string]bool{}
		for m := range a[f] {
			mids[m] = true
		}
		for m := range b[f] {
			mids[m] = true
		}
		ms := make([]string, 0, len(mids))
		for m := range mids {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		for _, m := range ms {
			ca, cb := sorted(a[f][m]), sorted(b[f][m])
			if !equal(ca, cb) {
				diffs = append(diffs, Diff{Folder: f, MID: m, A: ca, B: cb})
			}
		}
	}
	return diffs
}

func sorted(c []string) []string {
	if c == nil {
		return nil
	}
	out := append([]string(nil), c...)
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
