package sync_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"mailsync/config"
	"mailsync/internal/dovetest"
)

// extraKeys are TOML lines added to account "t"'s tables by accountConfig.
type extraKeys struct {
	account, remote, local string
}

// accountConfig is the configuration of account "t" for user on a test
// server without TLS: its state in DIR/state and its Maildir in DIR/Mail,
// without fsync, plus the extra keys.
func accountConfig(t testing.TB, dir, host string, port int, user, password string, extra extraKeys) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`[general]
state_dir = %q
[accounts.t]
%s
[accounts.t.remote]
host = %q
port = %d
tls = "none"
allow_plaintext = true
user = %q
password = %q
%s
[accounts.t.local]
path = %q
fsync = false
%s
`, filepath.Join(dir, "state"), extra.account, host, port, user, password, extra.remote, filepath.Join(dir, "Mail"), extra.local)
	cfg, err := config.Parse(user+".toml", []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, text)
	}
	return cfg
}

// dovecotAccount starts a Dovecot with one user whose INBOX holds three
// messages (<USER0@test> to <USER2@test>), and returns it with the
// configuration of account "t" for that user (see accountConfig), with
// remoteExtra in the remote table.
func dovecotAccount(t *testing.T, user, remoteExtra string) (srv *dovetest.Server, cfg *config.Config, dir string) {
	t.Helper()
	srv = dovetest.Start(t, dovetest.Options{Users: []string{user}})
	for i := 0; i < 3; i++ {
		srv.Append(t, user, "INBOX", []byte(fmt.Sprintf("Message-ID: <%s%d@test>\r\nSubject: %d\r\n\r\nbody %d\r\n", user, i, i, i)))
	}
	dir = t.TempDir()
	return srv, accountConfig(t, dir, srv.Host, srv.Port, user, srv.Password(user), extraKeys{remote: remoteExtra}), dir
}
