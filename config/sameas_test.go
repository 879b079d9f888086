package config

import (
	"strings"
	"testing"
)

// TestAccountSameAs: a reload restarts an account only when its
// configuration changed, not when its lines moved in the file.
func TestAccountSameAs(t *testing.T) {
	const base = `[general]
state_dir = "/state"
autorefresh = "10m"

[accounts.a]
autorefresh = "2m"
max_age = "90d"
postsync_hook = "notmuch new"

[accounts.a.remote]
host = "imap.example.org"
user = "me"
password_command = "pass mail"
folders = ["*", "!Spam"]
folder_map = { "Sent Mail" = "Sent" }

[accounts.a.local]
path = "/mail/a"

[accounts.b]
[accounts.b.remote]
host = "imap.example.org"
user = "b"
password = "pw"
[accounts.b.local]
path = "/mail/b"
`
	parse := func(t *testing.T, text string) *Account {
		t.Helper()
		cfg, err := Parse("/c/config.toml", []byte(text), testEnv())
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return cfg.Accounts["a"]
	}
	// replace changes one line of base, and fails if it is not there, so
	// that a case cannot silently test nothing.
	replace := func(t *testing.T, old, new string) string {
		t.Helper()
		if strings.Count(base, old) != 1 {
			t.Fatalf("%q is not once in the base config", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	a := parse(t, base)

	t.Run("moved lines", func(t *testing.T) {
		// A comment block above the account and blank lines inside it
		// move every line, the password source's included.
		moved := replace(t, "[accounts.a]\n", "# personal mail\n#\n# (moved down)\n\n[accounts.a]\n\n")
		moved = strings.Replace(moved, `password_command`, "\n\n"+`password_command`, 1)
		b := parse(t, moved)
		if a.Remote.origin.line == b.Remote.origin.line {
			t.Fatalf("the password line did not move (%d): the case tests nothing", a.Remote.origin.line)
		}
		if !a.SameAs(b) || !b.SameAs(a) {
			t.Error("the same account at other lines is not SameAs")
		}
	})

	for _, tc := range []struct{ name, old, new string }{
		{"autorefresh", `autorefresh = "2m"`, `autorefresh = "3m"`},
		{"general default", `autorefresh = "10m"`, `quick = 3`},
		{"hook", `postsync_hook = "notmuch new"`, `postsync_hook = "true"`},
		{"max_age", `max_age = "90d"`, `max_age = "30d"`},
		{"remote host", `host = "imap.example.org"
user = "me"`, `host = "mail.example.org"
user = "me"`},
		{"remote password source", `password_command = "pass mail"`, `password_command = "pass mail2"`},
		{"remote folders", `folders = ["*", "!Spam"]`, `folders = ["*", "!Junk"]`},
		{"remote folder_map", `"Sent Mail" = "Sent"`, `"Sent Mail" = "Sent2"`},
		{"local path", `path = "/mail/a"`, `path = "/mail/a2"`},
		{"local key", `path = "/mail/a"`, "path = \"/mail/a\"\nfsync = false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := parse(t, replace(t, tc.old, tc.new))
			if a.SameAs(b) || b.SameAs(a) {
				t.Errorf("changing %s keeps the account SameAs", tc.name)
			}
		})
	}

	t.Run("other account", func(t *testing.T) {
		cfg, err := Parse("/c/config.toml", []byte(base), testEnv())
		if err != nil {
			t.Fatal(err)
		}
		if a.SameAs(cfg.Accounts["b"]) {
			t.Error("accounts a and b are SameAs")
		}
	})

	t.Run("nil", func(t *testing.T) {
		var none *Account
		if !none.SameAs(nil) {
			t.Error("nil is not SameAs nil")
		}
		if none.SameAs(a) || a.SameAs(nil) {
			t.Error("nil is SameAs an account")
		}
	})
}
