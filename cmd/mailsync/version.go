package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is what `mailsync --version` prints: mailsync's version and
// commit, the go-imap it was built with, and the Go toolchain, all from
// the build info the Go linker embeds, so that a bug report says exactly
// what ran.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mailsync (no build info)\n"
	}
	var b strings.Builder
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(&b, "mailsync %s", v)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, ", commit %.12s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " of %s", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", with changes")
		}
	}
	b.WriteByte('\n')
	for _, d := range bi.Deps {
		if d.Path == "github.com/emersion/go-imap/v2" {
			fmt.Fprintf(&b, "go-imap %s\n", d.Version)
		}
	}
	fmt.Fprintf(&b, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
