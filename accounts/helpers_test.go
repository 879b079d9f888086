package accounts

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/memserver"
)

// world is an account "t" on an in-memory server, with its Maildir and
// state under dir.
type world struct {
	srv  *memserver.Server
	user string
	dir  string
	cfg  *config.Config
	// password is the remote table's password line.
	password string
}

// newWorld starts a memory server whose user has INBOX and Work, and
// writes the config of account t for it, with extra lines in the
// account's table.
func newWorld(t *testing.T, user, extra string) *world {
	t.Helper()
	srv, err := memserver.Start([]string{user}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, f := range []string{"INBOX", "Work"} {
		if err := srv.Create(user, f); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{srv: srv, user: user, dir: t.TempDir(), password: `password = "pw"`}
	w.cfg = w.config(t, extra)
	return w
}

func (w *world) config(t *testing.T, extra string) *config.Config {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(w.srv.Addr)
	port, _ := strconv.Atoi(portStr)
	return testConfig(t, w.dir, extra, host, port, w.user, w.password)
}

// testConfig is the config of the tests' account t under dir, on a plain
// connection to host:port, with extra in the account's table and cred
// (the credential's key and value) in its remote table.
func testConfig(t *testing.T, dir, extra, host string, port int, user, cred string) *config.Config {
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
%s
[accounts.t.local]
path = %q
fsync = false
`, filepath.Join(dir, "state"), extra, host, port, user, cred, filepath.Join(dir, "Mail"))
	cfg, err := config.Parse(filepath.Join(dir, "config.toml"), []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, text)
	}
	return cfg
}

// add puts n messages into the server's folder.
func (w *world) add(t *testing.T, folder string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("<%s-%d-%d@accounts.test>", folder, i, time.Now().UnixNano())
		msg := fmt.Sprintf("Message-ID: %s\r\nSubject: %d\r\n\r\nbody\r\n", id, i)
		if err := w.srv.Append(w.user, folder, []byte(msg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// local counts the files in the local folder.
func (w *world) local(t *testing.T, folder string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"cur", "new"} {
		es, err := os.ReadDir(filepath.Join(w.dir, "Mail", folder, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

func (w *world) open(t *testing.T) *Account {
	t.Helper()
	a, err := Open(w.cfg, "t", OpenOptions{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
