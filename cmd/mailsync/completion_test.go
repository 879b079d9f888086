package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCompletionScripts checks that cobra's completion command is there
// and prints a script for each shell.
func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "__start_mailsync",
		"zsh":  "#compdef mailsync",
		"fish": "complete -c mailsync",
	} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"completion", shell}, &stdout, &stderr); code != exitOK {
			t.Errorf("completion %s: exit %d: %s", shell, code, stderr.String())
			continue
		}
		if !strings.Contains(stdout.String(), marker) {
			t.Errorf("completion %s: no %q in the script:\n%.300s", shell, marker, stdout.String())
		}
	}
}

const completionConfig = `
[general]
state_dir = "STATE"

[accounts.work.remote]
host = "imap.work.example"
user = "jdoe"
password = "x"

[accounts.work.local]
path = "MAIL/work"

[accounts.personal.remote]
host = "imap.example.org"
user = "me"
password = "x"

[accounts.personal.local]
path = "MAIL/personal"

[accounts.pers2.remote]
host = "imap.example.org"
user = "me2"
password = "x"

[accounts.pers2.local]
path = "MAIL/pers2"
`

// complete runs the shell's completion request for args (the word being
// completed last) and returns the candidates, without the directive line.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{cobra.ShellCompRequestCmd}, args...), &stdout, &stderr); code != exitOK {
		t.Fatalf("__complete %q: exit %d: %s", args, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != ":4" {
		t.Errorf("__complete %q: directive %s, want :4 (no file names)", args, last)
	}
	return lines[:len(lines)-1]
}

func TestAccountCompletion(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "config.toml")
	src := strings.NewReplacer("STATE", state, "MAIL", filepath.Join(dir, "mail")).Replace(completionConfig)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every command with an --account flag completes it, whoever added
	// the command.
	var withFlag []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalFlags().Lookup("account") != nil {
			withFlag = append(withFlag, c.CommandPath())
			if _, ok := c.GetFlagCompletionFunc("account"); !ok {
				t.Errorf("%s: --account has no completion", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(io.Discard, io.Discard).cmd)
	for _, want := range []string{"mailsync sync", "mailsync daemon", "mailsync status", "mailsync systemd install", "mailsync systemd uninstall"} {
		found := false
		for _, c := range withFlag {
			found = found || c == want
		}
		if !found {
			t.Errorf("%s has no --account flag (commands with one: %q)", want, withFlag)
		}
	}

	all := []string{"pers2\timap.example.org", "personal\timap.example.org", "work\timap.work.example"}
	for _, path := range withFlag {
		words := strings.Fields(strings.TrimPrefix(path, "mailsync"))
		got := complete(t, append(append([]string{"-c", cfg}, words...), "-a", "")...)
		if strings.Join(got, "|") != strings.Join(all, "|") {
			t.Errorf("%s -a <TAB>: got %q, want %q", path, got, all)
		}
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"prefix", []string{"sync", "-c", cfg, "-a", "pe"}, []string{"pers2\timap.example.org", "personal\timap.example.org"}},
		{"long flag", []string{"-c", cfg, "daemon", "--account", "w"}, []string{"work\timap.work.example"}},
		{"after a comma, without those listed", []string{"-c", cfg, "sync", "-a", "work,pers2,"}, []string{"work,pers2,personal\timap.example.org"}},
		{"after a comma, with a prefix", []string{"-c", cfg, "sync", "-a", "work,p"}, []string{"work,pers2\timap.example.org", "work,personal\timap.example.org"}},
		{"without those given to an earlier -a", []string{"-c", cfg, "status", "-a", "personal", "-a", ""}, []string{"pers2\timap.example.org", "work\timap.work.example"}},
		{"no match", []string{"-c", cfg, "sync", "-a", "x"}, nil},
		{"missing config", []string{"-c", filepath.Join(dir, "none.toml"), "sync", "-a", ""}, nil},
	}
	for _, tt := range tests {
		got := complete(t, tt.args...)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: %q: got %q, want %q", tt.name, tt.args, got, tt.want)
		}
	}

	broken := filepath.Join(dir, "broken.toml")
	if err := os.WriteFile(broken, []byte(src+"\n[accounts.work.remote]\nhots = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := complete(t, "-c", broken, "sync", "-a", ""); len(got) != 0 {
		t.Errorf("broken config: got %q, want nothing", got)
	}

	// Completing only reads the config: no state directory appears.
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("completion touched the state directory: %v", err)
	}
}
