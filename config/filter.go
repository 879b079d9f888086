package config

import (
	"fmt"
	"strings"
)

// Delimiter is the hierarchy delimiter of mailsync's canonical folder
// names, whatever the server uses.
const Delimiter = '/'

// FolderFilter decides which folders are synced, from an ordered list of
// IMAP LIST-style patterns: "*" matches anything including the delimiter,
// "%" anything but the delimiter, a leading "!" excludes, and the last
// pattern that matches a name decides. A name no pattern matches is
// excluded, so ["!Spam"] alone selects nothing.
//
// A nil *FolderFilter matches every folder, like the default ["*"], so that
// a Remote built by hand need not compile a filter.
type FolderFilter struct {
	rules []folderRule
}

type folderRule struct {
	exclude bool
	pattern string // without the "!", consecutive "*" collapsed
	// inboxFolded is pattern with a leading case-insensitive "inbox"
	// upper-cased, or "" when the pattern does not start with one.
	inboxFolded string
}

// NewFolderFilter compiles patterns. Only an empty pattern and a bare "!"
// are errors: every other string is a valid pattern, with no escaping and
// no metacharacters beyond "*" and "%".
func NewFolderFilter(patterns []string) (*FolderFilter, error) {
	f := &FolderFilter{rules: make([]folderRule, 0, len(patterns))}
	for i, p := range patterns {
		var r folderRule
		body := p
		if strings.HasPrefix(body, "!") {
			r.exclude = true
			body = body[1:]
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("pattern %d is empty", i+1)
		case body == "":
			return nil, fmt.Errorf(`pattern %d is a bare "!"; write "!NAME" to exclude a folder`, i+1)
		}
		r.pattern = collapseStars(body)
		if len(r.pattern) >= 5 && strings.EqualFold(r.pattern[:5], "INBOX") && r.pattern[:5] != "INBOX" {
			r.inboxFolded = "INBOX" + r.pattern[5:]
		}
		f.rules = append(f.rules, r)
	}
	return f, nil
}

func collapseStars(p string) string {
	if !strings.Contains(p, "**") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '*' && i > 0 && p[i-1] == '*' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// Match reports whether the folder with the given canonical name is
// selected.
//
// INBOX is case-insensitive in IMAP, so when name's first component is some
// spelling of INBOX, it is compared as "INBOX" and a pattern may spell that
// first component in any case too ("inbox", "Inbox/*"). All other names are
// case-sensitive, as IMAP servers treat them.
func (f *FolderFilter) Match(name string) bool {
	if f == nil {
		return true
	}
	name, isInbox := canonicalInbox(name)
	for i := len(f.rules) - 1; i >= 0; i-- {
		r := &f.rules[i]
		if globMatch(r.pattern, name) || isInbox && r.inboxFolded != "" && globMatch(r.inboxFolded, name) {
			return !r.exclude
		}
	}
	return false
}

// canonicalInbox rewrites a leading INBOX component to upper case.
func canonicalInbox(name string) (string, bool) {
	if len(name) < 5 || !strings.EqualFold(name[:5], "INBOX") {
		return name, false
	}
	if len(name) > 5 && name[5] != Delimiter {
		return name, false
	}
	return "INBOX" + name[5:], true
}

// globMatch matches name against an IMAP-style pattern. It runs in
// O(len(pattern)*len(name)) time whatever the pattern, since a naive
// backtracking matcher is exponential on patterns like "*a*a*a*b" and the
// patterns come from user input.
func globMatch(pattern, name string) bool {
	n := len(name)
	// cur[j]: the pattern prefix consumed so far matches name[:j].
	cur := make([]bool, n+1)
	next := make([]bool, n+1)
	cur[0] = true
	for pi := 0; pi < len(pattern); pi++ {
		c := pattern[pi]
		switch c {
		case '*':
			seen := false
			for j := 0; j <= n; j++ {
				seen = seen || cur[j]
				next[j] = seen
			}
		case '%':
			next[0] = cur[0]
			for j := 1; j <= n; j++ {
				next[j] = cur[j] || next[j-1] && name[j-1] != Delimiter
			}
		default:
			next[0] = false
			for j := 1; j <= n; j++ {
				next[j] = cur[j-1] && name[j-1] == c
			}
		}
		cur, next = next, cur
	}
	return cur[n]
}
