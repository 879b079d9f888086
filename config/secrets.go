package config

import (
	"fmt"
	"os"
)

// SecretWarnings names the files that hold a secret and that the group or
// others may read: the config itself when an account keeps a password or
// an OAuth2 secret in it, and each password_file. They are warnings, not
// errors: the run goes on, as ssh's would not, since refusing would stop
// the mail of a user who shares a group with nobody.
func (c *Config) SecretWarnings() []string {
	var out []string
	loose := func(p string) (os.FileMode, bool) {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, false
		}
		return fi.Mode().Perm(), fi.Mode().Perm()&0o077 != 0
	}
	if c.Path != "" {
		for _, name := range c.AccountNames() {
			r := &c.Accounts[name].Remote
			key := ""
			switch {
			case r.Password != "":
				key = "password"
			case r.OAuth2 != nil && r.OAuth2.ClientSecret != "":
				key = "oauth2_client_secret"
			case r.OAuth2 != nil && r.OAuth2.RefreshToken != "":
				key = "oauth2_refresh_token"
			default:
				continue
			}
			if mode, bad := loose(c.Path); bad {
				out = append(out, fmt.Sprintf("%s holds a secret (accounts.%s.remote.%s) and is readable by group or others (mode %04o); chmod 600 %s, or move the secret to password_command",
					c.Path, name, key, mode, c.Path))
			}
			break
		}
	}
	seen := map[string]bool{}
	for _, name := range c.AccountNames() {
		p := c.Accounts[name].Remote.PasswordFile
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if mode, bad := loose(p); bad {
			out = append(out, fmt.Sprintf("%s (accounts.%s.remote.password_file) is readable by group or others (mode %04o); chmod 600 %s",
				p, name, mode, p))
		}
	}
	return out
}
