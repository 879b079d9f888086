package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/dovetest"
	"mailsync/internal/remote"
)

// tokenWorld is account "t" on a Dovecot that takes OAuth2 tokens, with
// an oauth2_token_command that prints a refused token while the file
// wrong exists, else a good one, and appends a line to calls each run.
type tokenWorld struct {
	srv          *dovetest.Server
	cfg          *config.Config
	calls, wrong string
}

func newTokenWorld(t *testing.T, user, extra string) *tokenWorld {
	t.Helper()
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, OAuth2: &dovetest.OAuth2Options{}})
	dir := t.TempDir()
	w := &tokenWorld{srv: srv, calls: filepath.Join(dir, "calls"), wrong: filepath.Join(dir, "wrong")}
	if err := os.WriteFile(w.wrong, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := fmt.Sprintf("echo >> %s; if [ -e %s ]; then echo refused-token; else echo %s; fi", w.calls, w.wrong, srv.OAuth2Token(user))
	w.cfg = testConfig(t, dir, extra, srv.Host, srv.Port, user, fmt.Sprintf("oauth2_token_command = %q", cmd))
	for _, f := range []string{"INBOX", "Work"} {
		if f != "INBOX" {
			srv.CreateMailbox(t, user, f)
		}
		srv.Append(t, user, f, []byte(fmt.Sprintf("Message-ID: <%s@token.test>\r\nSubject: x\r\n\r\nbody\r\n", f)))
	}
	return w
}

func (w *tokenWorld) runs() int {
	data, _ := os.ReadFile(w.calls)
	return strings.Count(string(data), "\n")
}

// TestTokenKept: an opened OAuth2 account runs its oauth2_token_command
// once for all the connections of its cycles; a token the server refused
// is forgotten, so the next cycle asks the command again. The refusal is
// ErrAuth and names the mechanism.
func TestTokenKept(t *testing.T) {
	ctx := context.Background()
	w := newTokenWorld(t, "tokener", "")
	w.cfg.Accounts["t"].Remote.MaxConnections = 2
	a, err := Open(w.cfg, "t", OpenOptions{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := a.Sync(ctx, Cycle{Mode: ModeFull})
	if !errors.Is(r.Err, remote.ErrAuth) || !strings.Contains(r.Err.Error(), "with OAUTHBEARER: ") {
		t.Fatalf("with a refused token: %v, want ErrAuth naming OAUTHBEARER", r.Err)
	}
	os.Remove(w.wrong)
	r = a.Sync(ctx, Cycle{Mode: ModeFull})
	if r.Failed() || r.Summary.Counts.Pulled != 2 {
		t.Fatalf("after the token was fixed: %v", r.Errors())
	}
	if r := a.Sync(ctx, Cycle{Mode: ModeFull}); r.Failed() {
		t.Fatal(r.Errors())
	}
	if n := w.runs(); n != 2 {
		t.Errorf("oauth2_token_command ran %d times; want 2: once refused, once for every later connection", n)
	}
}

// TestAuthFailureBacksOff: a daemon whose login is refused backs off
// (30 s and more) instead of trying again at its next 20 ms refresh, and
// says why.
func TestAuthFailureBacksOff(t *testing.T) {
	w := newTokenWorld(t, "backer", `autorefresh = "1s"`)
	w.cfg.Accounts["t"].Schedule.Autorefresh = 20 * time.Millisecond
	d, _ := startDaemon(t, w.cfg, nil)
	var st AccountStatus
	waitFor(t, "a failed cycle", func() bool {
		s := d.Status()
		if len(s) == 1 {
			st = s[0]
		}
		return st.Failures > 0
	})
	time.Sleep(500 * time.Millisecond) // 25 refresh intervals
	if n := w.runs(); n != 1 {
		t.Errorf("oauth2_token_command ran %d times in 0.5 s after a refused login; want 1", n)
	}
	st = d.Status()[0]
	if st.State != StateBackoff || st.Failures != 1 || time.Until(st.NextSync) < 25*time.Second {
		t.Errorf("status %+v; want backoff after 1 failure, next sync in 30 s or more", st)
	}
	if !strings.Contains(st.LastError, "with OAUTHBEARER: ") || !strings.Contains(st.LastError, "AUTHENTICATIONFAILED") {
		t.Errorf("last error %q does not say the mechanism and the server's answer", st.LastError)
	}
}
