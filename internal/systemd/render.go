// Package systemd renders mailsync's systemd units (contrib/systemd) for
// an installation and talks to the user's service manager over D-Bus:
// what `mailsync systemd install`, `uninstall` and `print` need.
package systemd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"mailsync/contrib"
)

// The contrib files name the binary and the documentation where a package
// puts them; an installation replaces both.
const (
	contribBinary = "/usr/bin/mailsync"
	contribDoc    = "file:/usr/share/doc/mailsync/systemd.md"
)

// Options shape the rendered units.
type Options struct {
	// Binary is the absolute path of the mailsync to run.
	Binary string
	// Config is the config file to pass with -c; "" for the default.
	Config string
	// Doc is the absolute path of the installed README (Documentation=).
	Doc string
	// Online makes the daemon units follow internet-online.target:
	// BindsTo= and After= it, and WantedBy= it instead of mail.target.
	Online bool
}

// File is one file to install, relative to the user unit directory.
type File struct {
	Name    string
	Content []byte
}

// header starts every file install writes. Its hash line records what was
// written, so that a later install can tell a file it may replace from
// one the user has edited.
const (
	headerFirst = "# Installed by `mailsync systemd install` from contrib/systemd/%s.\n" +
		"# Change it with a drop-in (systemctl --user edit UNIT): install replaces\n" +
		"# this file unless it was edited, and uninstall removes it.\n"
	hashPrefix = "# mailsync-sha256: "
)

// UnitNames are the units of contrib/systemd (not network/), sorted.
func UnitNames() []string {
	es, _ := fs.ReadDir(contrib.Systemd, "systemd")
	var out []string
	for _, e := range es {
		if !e.IsDir() && isUnit(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// NetworkUnitNames are the targets of contrib/systemd/network.
func NetworkUnitNames() []string {
	return []string{"internet-offline.target", "internet-online.target"}
}

func isUnit(name string) bool {
	switch path.Ext(name) {
	case ".service", ".timer", ".target", ".path", ".socket":
		return true
	}
	return false
}

// Unit renders the contrib unit name (a file of contrib/systemd or, for
// the internet targets, of its network/) for o.
func Unit(name string, o Options) (File, error) {
	src := "systemd/" + name
	data, err := fs.ReadFile(contrib.Systemd, src)
	if err != nil {
		data, err = fs.ReadFile(contrib.Systemd, "systemd/network/"+name)
		src = "systemd/network/" + name
	}
	if err != nil {
		return File{}, fmt.Errorf("no unit %s in contrib/systemd", name)
	}
	text := string(data)
	text = strings.ReplaceAll(text, "ExecStart="+contribBinary, "ExecStart="+execArgs(o))
	text = strings.ReplaceAll(text, "Documentation="+contribDoc, "Documentation=file:"+o.Doc)
	if o.Online && (name == "mailsync.service" || name == "mailsync@.service") {
		text = online(text)
	}
	return File{Name: name, Content: withHeader(strings.TrimPrefix(src, "systemd/"), []byte(text))}, nil
}

// execArgs is the start of ExecStart=: the binary and -c, quoted for a
// systemd command line.
func execArgs(o Options) string {
	s := quoteArg(o.Binary)
	if o.Config != "" {
		s += " -c " + quoteArg(o.Config)
	}
	return s
}

// quoteArg quotes s as one word of a systemd command line: specifiers
// (%) and variables ($) are doubled, and a word with spaces, quotes or
// backslashes is put in double quotes.
func quoteArg(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// online makes a daemon unit follow internet-online.target: it is bound
// to it and ordered after it, and enabled by it. It is not wanted by
// mail.target any more: starting it while offline would start
// internet-online.target too (BindsTo= implies Requires=).
func online(text string) string {
	text = strings.Replace(text, "PartOf=mail.target\n",
		"PartOf=mail.target\nBindsTo=internet-online.target\nAfter=internet-online.target\n", 1)
	return strings.Replace(text, "WantedBy=mail.target\n", "WantedBy=internet-online.target\n", 1)
}

// PushPaths is the drop-in that gives mailsync-push@ACCOUNT.path the
// directories to watch: cur/ and new/ of each folder.
func PushPaths(account string, dirs []string) File {
	var b strings.Builder
	b.WriteString("[Path]\n")
	for _, d := range dirs {
		for _, sub := range []string{"cur", "new"} {
			fmt.Fprintf(&b, "PathChanged=%s\n", strings.ReplaceAll(path.Join(d, sub), "%", "%%"))
		}
	}
	name := "mailsync-push@" + account + ".path.d/paths.conf"
	return File{Name: name, Content: withHeader("mailsync-push@.path (its paths)", []byte(b.String()))}
}

// withHeader puts the install header and the hash of content before it.
func withHeader(src string, content []byte) []byte {
	sum := sha256.Sum256(content)
	var b bytes.Buffer
	fmt.Fprintf(&b, headerFirst, src)
	b.WriteString(hashPrefix + hex.EncodeToString(sum[:]) + "\n")
	b.Write(content)
	return b.Bytes()
}

// Ours reports whether data is a file install wrote (it has the header),
// and pristine whether it is as written (its content matches the hash).
func Ours(data []byte) (ours, pristine bool) {
	if !bytes.HasPrefix(data, []byte("# Installed by `mailsync systemd install`")) {
		return false, false
	}
	i := bytes.Index(data, []byte("\n"+hashPrefix))
	if i < 0 {
		return true, false
	}
	rest := data[i+1+len(hashPrefix):]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return true, false
	}
	sum := sha256.Sum256(rest[nl+1:])
	return true, string(rest[:nl]) == hex.EncodeToString(sum[:])
}

// README is contrib/systemd/README.md, installed as Options.Doc.
func README() []byte {
	data, _ := fs.ReadFile(contrib.Systemd, "systemd/README.md")
	return data
}
