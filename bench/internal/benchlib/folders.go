// Package benchlib is the shared code of mailsync's benchmark harness
// (bench/run): the corpus layout, the deterministic message generator, the
// expected-state file, Maildir scanning and doveadm access. Besides the
// standard library it uses only mailsync's modified UTF-7 codec and the
// Dovecot test harness's rule for Dovecot's folder directory names.
package benchlib

import (
	"mailsync/internal/dovetest"
	"mailsync/internal/mutf7"
)

// Folder is one folder of the benchmark corpus. Names use "/" as the
// hierarchy separator, which is also the Dovecot separator the harness
// configures.
type Folder struct {
	Name   string
	Weight float64 // share of the corpus (normalised over the folders in use)
	From   int     // first year of message dates
	To     int     // last year of message dates (inclusive)
	List   string  // List-Id for mailing-list folders, "" otherwise
}

// Folders is the full corpus layout: 20 folders, nested (with existing
// parents) and non-ASCII names included. INBOX is first so that
// "--folders 1" means a single INBOX.
var Folders = []Folder{
	{Name: "INBOX", Weight: 20, From: 2024, To: 2025},
	{Name: "Archive/2024", Weight: 14, From: 2024, To: 2024},
	{Name: "Archive/2023", Weight: 12, From: 2023, To: 2023},
	{Name: "Lists/golang-nuts", Weight: 9, From: 2022, To: 2025, List: "golang-nuts.googlegroups.com"},
	{Name: "Lists/debian-devel", Weight: 8, From: 2022, To: 2025, List: "debian-devel.lists.debian.org"},
	{Name: "Sent", Weight: 7, From: 2022, To: 2025},
	{Name: "Work", Weight: 5, From: 2023, To: 2025},
	{Name: "Work/Projects", Weight: 4, From: 2023, To: 2025},
	{Name: "Work/Projects/Alpha", Weight: 3, From: 2024, To: 2025},
	{Name: "Listen/Entwürfe", Weight: 2, From: 2023, To: 2025, List: "entwuerfe.lists.example.de"},
	{Name: "日本語", Weight: 3, From: 2023, To: 2025},
	{Name: "Archive", Weight: 3, From: 2022, To: 2022},
	{Name: "Lists", Weight: 1, From: 2022, To: 2025},
	{Name: "Listen", Weight: 1, From: 2023, To: 2025},
	{Name: "Receipts & Bills", Weight: 2, From: 2022, To: 2025},
	{Name: "Reçus", Weight: 1, From: 2023, To: 2025},
	{Name: "Notifications", Weight: 3, From: 2024, To: 2025},
	{Name: "Junk", Weight: 1, From: 2025, To: 2025},
	{Name: "Trash", Weight: 1, From: 2025, To: 2025},
	{Name: "Drafts", Weight: 0.5, From: 2025, To: 2025},
}

// SelectFolders returns the first n folders of Folders (all of them if n is
// out of range).
func SelectFolders(n int) []Folder {
	if n <= 0 || n > len(Folders) {
		n = len(Folders)
	}
	return Folders[:n]
}

// PreferFolders returns those of want that exist in have, in want's order;
// if none do, it returns have's names sorted by descending message count
// (at most len(want)), so changes always land somewhere.
func PreferFolders(st State, want []string) []string {
	var out []string
	for _, w := range want {
		if len(st[w]) > 0 {
			out = append(out, w)
		}
	}
	if len(out) > 0 {
		return out
	}
	names := st.FolderNames()
	// largest first
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && len(st[names[j]]) > len(st[names[j-1]]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	if len(names) > len(want) {
		names = names[:len(want)]
	}
	return names
}

// DovecotDir returns the Maildir++ directory name (relative to the user's
// Maildir root, "" for INBOX) of mailbox name under Dovecot with separator
// "/" and the listescape plugin; see dovetest.MaildirName.
func DovecotDir(name string) string { return dovetest.MaildirName(name, "/") }

// EncodeMUTF7 encodes s in IMAP's modified UTF-7.
func EncodeMUTF7(s string) string { return mutf7.Encode(s) }

// DecodeMUTF7 decodes modified UTF-7; ok is false if s is not valid
// modified UTF-7 (then s is probably a plain UTF-8 name).
func DecodeMUTF7(s string) (string, bool) { return mutf7.Decode(s) }
