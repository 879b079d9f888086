package main

import (
	"runtime"
	"strings"
	"testing"
)

// --version names mailsync, the go-imap it was built with and the Go
// toolchain (the commit too, when the build recorded it).
func TestVersion(t *testing.T) {
	v := version()
	for _, want := range []string{"mailsync ", "\ngo-imap v2.", "\n" + runtime.Version() + " "} {
		if !strings.Contains(v, want) {
			t.Errorf("version() = %q; want it to contain %q", v, want)
		}
	}
	var out, errOut strings.Builder
	r := newRootCmd(&out, &errOut)
	r.cmd.SetArgs([]string{"--version"})
	if code, err := r.execute(); code != 0 || err != nil || out.String() != v {
		t.Errorf("mailsync --version: exit %d, %v, printed %q; want %q", code, err, out.String(), v)
	}
}
