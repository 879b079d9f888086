package sync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/dovetest"
	msync "mailsync/sync"
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

// runAccount runs account t of cfg once with the engine options opts, each
// connection wrapped by wrap (if set), and returns its result.
func runAccount(cfg *config.Config, opts msync.Options, wrap func(msync.Remote) msync.Remote) accounts.Result {
	rs := accounts.Run(context.Background(), accounts.Options{
		Config: cfg, Log: zerolog.Nop(), Engine: opts,
		Dial: func(ctx context.Context, a *config.Account) (msync.Remote, error) {
			conn, err := accounts.Dial(ctx, a)
			if err != nil || wrap == nil {
				return conn, err
			}
			return wrap(conn), nil
		},
	})
	return rs[0]
}

// syncWith is runAccount with the default engine options, failing the
// test on any error.
func syncWith(t *testing.T, cfg *config.Config, wrap func(msync.Remote) msync.Remote) msync.Counts {
	t.Helper()
	r := runAccount(cfg, msync.Options{}, wrap)
	if r.Err != nil || len(r.Summary.Errors) > 0 {
		t.Fatalf("sync: %v %v", r.Err, r.Summary.Errors)
	}
	return r.Summary.Counts
}
