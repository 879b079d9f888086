package sync_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"mailsync/config"
	"mailsync/internal/dovetest"
)

// dovecotAccount starts a Dovecot with one user whose INBOX holds three
// messages (<USER0@test> to <USER2@test>), and returns it with the
// configuration of account "t" for that user: its state in DIR/state and
// its Maildir in DIR/Mail, without fsync, plus remoteExtra in the remote
// table.
func dovecotAccount(t *testing.T, user, remoteExtra string) (srv *dovetest.Server, cfg *config.Config, dir string) {
	t.Helper()
	srv = dovetest.Start(t, dovetest.Options{Users: []string{user}})
	for i := 0; i < 3; i++ {
		srv.Append(t, user, "INBOX", []byte(fmt.Sprintf("Message-ID: <%s%d@test>\r\nSubject: %d\r\n\r\nbody %d\r\n", user, i, i, i)))
	}
	dir = t.TempDir()
	cfg, err := config.Parse(user+".toml", []byte(fmt.Sprintf(`[general]
state_dir = %q
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
`, filepath.Join(dir, "state"), srv.Host, srv.Port, user, srv.Password(user), remoteExtra, filepath.Join(dir, "Mail"))), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, dir
}
