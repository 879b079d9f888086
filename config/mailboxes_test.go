package config

import (
	"strings"
	"testing"
)

func TestMailboxesKeys(t *testing.T) {
	const account = `
[accounts.a.remote]
host = "h"
user = "u"
password = "p"
[accounts.a.local]
path = "/m/a"
`
	env := func(k string) string {
		if k == "HOME" {
			return "/home/me"
		}
		return ""
	}
	for _, tc := range []struct{ general, want, err string }{
		{``, "{ }", ""},
		{`mailboxes_file = "~/.config/mutt/mailboxes"`, "{/home/me/.config/mutt/mailboxes mutt}", ""},
		{"mailboxes_file = \"/x\"\nmailboxes_format = \"lines\"", "{/x lines}", ""},
		{"mailboxes_file = \"/x\"\nmailboxes_format = \"notmuch\"", "", `general.mailboxes_format: must be "mutt" or "lines" (got "notmuch")`},
		{`mailboxes_format = "lines"`, "", "general.mailboxes_format: has no effect without mailboxes_file"},
	} {
		cfg, err := Parse("c.toml", []byte("[general]\nstate_dir = \"/s\"\n"+tc.general+account), env)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.general, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.general, err)
		default:
			if got := "{" + cfg.General.Mailboxes.File + " " + cfg.General.Mailboxes.Format + "}"; got != tc.want {
				t.Errorf("%q: %s, want %s", tc.general, got, tc.want)
			}
		}
	}
}
