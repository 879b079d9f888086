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

// NetworkUnitNames are the units of contrib/systemd/network: the two
// targets and the two watchers that start them.
func NetworkUnitNames() []string {
	return []string{"internet-init.service", "internet-offline.target", "internet-online.target", "internet-watch.service"}
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
	if o.Doc != "" {
		text = strings.ReplaceAll(text, "Documentation="+contribDoc, "Documentation=file:"+o.Doc)
	}
	return File{Name: name, Content: withHeader(strings.TrimPrefix(src, "systemd/"), []byte(text))}, nil
}

// CheckBinary refuses a binary path that a unit cannot run: systemd takes
// the executable of ExecStart= without variables, and refuses quotes and
// backslashes in it.
func CheckBinary(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("the mailsync binary's path %q is not absolute", p)
	}
	if strings.ContainsAny(p, "\"'\\\n") {
		return fmt.Errorf("systemd cannot run a binary whose path holds quotes, backslashes or newlines (%q); install mailsync elsewhere", p)
	}
	return nil
}

// execArgs is the start of ExecStart=: the binary and -c, quoted for a
// systemd command line.
func execArgs(o Options) string {
	s := quoteWord(o.Binary, false)
	if o.Config != "" {
		s += " -c " + quoteWord(o.Config, true)
	}
	return s
}

// quoteWord quotes s as one word of a systemd command line: specifiers
// (%) are doubled, and so are variables ($) in an argument (the
// executable is taken as it is), and a word with spaces, quotes or
// backslashes is put in double quotes.
func quoteWord(s string, arg bool) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if arg {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	if !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// OnlineDropIn is the drop-in that makes a daemon unit (mailsync.service,
// or an instance mailsync@ACCOUNT.service) follow internet-online.target:
// it starts only while that target is active (Requisite=, not BindsTo=,
// which would start the target, and so mark an offline machine online,
// whenever the daemon starts) and stops with it (PartOf=). The target's
// wants link, which starts the daemon when the machine comes online, is
// OnlineLink.
func OnlineDropIn(unit string) File {
	content := "[Unit]\nRequisite=internet-online.target\nPartOf=internet-online.target\nAfter=internet-online.target\n"
	return File{Name: unit + ".d/online.conf", Content: withHeader("(--online-target)", []byte(content))}
}

// OnlineLink is the path, relative to the unit directory, of the link
// that makes internet-online.target want unit.
func OnlineLink(unit string) string { return "internet-online.target.wants/" + unit }

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
