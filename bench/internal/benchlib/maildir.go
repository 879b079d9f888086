package benchlib

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LocalMsg is one message file of a local Maildir.
type LocalMsg struct {
	Folder string // decoded folder name ("/"-separated, UTF-8)
	MID    string
	Flags  string // canonical letters
	Path   string
}

// LocalTree is a scanned local Maildir tree in the nested ("fs") layout all
// three tools are configured for: ROOT/INBOX, ROOT/A/B.
type LocalTree struct {
	Root    string
	Dirs    map[string]string // decoded folder name -> directory
	Msgs    []LocalMsg
	Encoded []string // folders whose directory name was modified UTF-7 (decoded for comparison)
}

// State returns the tree as a State.
func (t *LocalTree) State() State {
	s := State{}
	for f := range t.Dirs {
		if s[f] == nil {
			s[f] = map[string][]string{}
		}
	}
	for _, m := range t.Msgs {
		s.Add(m.Folder, m.MID, m.Flags)
	}
	return s
}

// Find returns the messages with Message-ID mid in folder.
func (t *LocalTree) Find(folder, mid string) []LocalMsg {
	var out []LocalMsg
	for _, m := range t.Msgs {
		if m.Folder == folder && m.MID == mid {
			out = append(out, m)
		}
	}
	return out
}

// Index returns folder -> Message-ID -> messages.
func (t *LocalTree) Index() map[string]map[string][]LocalMsg {
	idx := map[string]map[string][]LocalMsg{}
	for _, m := range t.Msgs {
		if idx[m.Folder] == nil {
			idx[m.Folder] = map[string][]LocalMsg{}
		}
		idx[m.Folder][m.MID] = append(idx[m.Folder][m.MID], m)
	}
	return idx
}

// ScanLocal walks root. Every directory with cur/ and new/ is a folder,
// named by its path below root; hidden entries and cur/new/tmp are not
// descended into as folders. A directory level that is valid modified
// UTF-7 and differs from its decoding (mbsync 1.4 and offlineimap without
// utf8foldernames keep the server's encoding) is decoded, so folder names
// compare equal to the server's.
func ScanLocal(root string) (*LocalTree, error) {
	t := &LocalTree{Root: root, Dirs: map[string]string{}}
	var walk func(dir string, levels []string) error
	walk = func(dir string, levels []string) error {
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, de := range des {
			n := de.Name()
			if !de.IsDir() || strings.HasPrefix(n, ".") || n == "cur" || n == "new" || n == "tmp" {
				continue
			}
			p := filepath.Join(dir, n)
			lv := append(append([]string(nil), levels...), n)
			if isMaildir(p) {
				raw := strings.Join(lv, "/")
				name, enc := decodeLevels(lv)
				if prev, dup := t.Dirs[name]; dup {
					return fmt.Errorf("%s and %s both map to folder %q", prev, p, name)
				}
				t.Dirs[name] = p
				if enc {
					t.Encoded = append(t.Encoded, raw)
				}
				if err := t.scanFolder(name, p); err != nil {
					return err
				}
			}
			if err := walk(p, lv); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, nil); err != nil {
		return nil, err
	}
	sort.Strings(t.Encoded)
	return t, nil
}

func decodeLevels(lv []string) (string, bool) {
	out := make([]string, len(lv))
	changed := false
	for i, l := range lv {
		out[i] = l
		if strings.Contains(l, "&") {
			if d, ok := DecodeMUTF7(l); ok && d != l {
				out[i] = d
				changed = true
			}
		}
	}
	return strings.Join(out, "/"), changed
}

func isMaildir(p string) bool {
	for _, sub := range []string{"cur", "new"} {
		st, err := os.Stat(filepath.Join(p, sub))
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

func (t *LocalTree) scanFolder(name, dir string) error {
	for _, sub := range []string{"cur", "new"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return err
		}
		for _, de := range des {
			if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, sub, de.Name())
			mid, err := ReadMessageID(p)
			if err != nil {
				return err
			}
			t.Msgs = append(t.Msgs, LocalMsg{Folder: name, MID: mid, Flags: FileFlags(de.Name()), Path: p})
		}
	}
	return nil
}

// FileFlags returns the canonical flags in a Maildir file name's ":2,"
// info ("" if there is none).
func FileFlags(name string) string {
	if i := strings.LastIndex(name, ":2,"); i >= 0 {
		return CanonFlags(name[i+3:])
	}
	return ""
}

// WithFlags returns the file name base (without info) plus ":2," and the
// flags: letters in ASCII order, as the Maildir spec wants. Non-standard
// letters already in the info (keywords) are kept.
func WithFlags(name, flags string) string {
	base, info := name, ""
	if i := strings.LastIndex(name, ":2,"); i >= 0 {
		base, info = name[:i], name[i+3:]
	}
	set := map[byte]bool{}
	for i := 0; i < len(info); i++ {
		set[info[i]] = true
	}
	for i := 0; i < len(flags); i++ {
		set[flags[i]] = true
	}
	letters := make([]byte, 0, len(set))
	for c := range set {
		letters = append(letters, c)
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return base + ":2," + string(letters)
}

// ReadMessageID returns the unfolded Message-ID header of the message in
// file p, "<none>" if it has none.
func ReadMessageID(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return HeaderMessageID(bufio.NewReaderSize(f, 8192))
}

// HeaderMessageID reads a message header from r and returns its unfolded,
// trimmed Message-ID, "<none>" if absent.
func HeaderMessageID(r *bufio.Reader) (string, error) {
	var cur []byte
	inMID := false
	for n := 0; n < 2000; n++ {
		line, err := r.ReadSlice('\n')
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return "", err
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 && (err == io.EOF || len(line) > 0) {
			break // end of header (or of file)
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if inMID {
				cur = append(cur, trimmed...)
			}
		} else {
			if inMID {
				break
			}
			if len(trimmed) >= 11 && bytes.EqualFold(trimmed[:11], []byte("message-id:")) {
				inMID = true
				cur = append(cur, trimmed[11:]...)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if !inMID {
		return "<none>", nil
	}
	return strings.TrimSpace(string(cur)), nil
}
