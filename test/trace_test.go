package test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mailsync/internal/faultproxy"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// secretForms are the ways secret can appear in a log: as it is, and
// base64-encoded at each of the three offsets it can have in a SASL blob
// (AUTHENTICATE PLAIN sends "\0user\0password"), keeping only the
// characters that depend on the secret alone.
func secretForms(secret string) []string {
	forms := []string{secret}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{0}, k), secret...))
		skip := []int{0, 2, 3}[k]
		if end := (k + len(secret)) / 3 * 4; end > skip {
			forms = append(forms, enc[skip:end])
		}
	}
	return forms
}

// checkNoSecret fails the test if out shows secret in any of its forms.
func checkNoSecret(t *testing.T, what, out, secret string) {
	t.Helper()
	for _, f := range secretForms(secret) {
		if strings.Contains(out, f) {
			t.Errorf("%s shows the password (as %q):\n%s", what, f, out)
			return
		}
	}
}

// checkTrace fails the test unless out has a line matching each of want.
func checkTrace(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !regexp.MustCompile(`(?m)` + w).MatchString(out) {
			t.Errorf("no line matching %q in the trace:\n%s", w, out)
		}
	}
}

// TestTraceSync: `--log-level trace sync` shows the IMAP conversation of a
// pull and a push, each line with its direction, account and connection,
// literals as their size; it never shows the password (as it is or
// base64-encoded in AUTHENTICATE PLAIN) nor a byte of a message.
// `--log-level debug` shows no protocol and no password either, and
// `--log-format json` gives the trace fields to a log collector. The first
// round goes out behind the login (remote.Ahead): the proxy holds the
// login's answer until the round's LIST has gone by, and a sync that
// waited for the answer would time out.
func TestTraceSync(t *testing.T) {
	t.Parallel()
	e, p := faultEnv(t, envOptions{remoteExtra: netTimeout})
	holdLogin := faultproxy.First(faultproxy.Fault{HoldUntil: `LIST "" "*"`})
	e.seedServer("INBOX", seeds("traced", 3, 20000))
	e.seedServer("Archive", seeds("archived", 2, 1000))
	pass := e.srv.Password(e.user)

	// With no state yet, the round is the LIST alone.
	p.SetPlan(holdLogin)
	r := e.mustSync("--log-level", "trace", "sync")
	checkTrace(t, r.stderr,
		`TRC S: \* OK .* account=acct conn=1 dir=S$`,
		`TRC C: M1 AUTHENTICATE PLAIN <redacted> account=acct conn=1 dir=C$`,
		`TRC C: T\d+ SELECT "?INBOX"?`,
		`TRC C: T\d+ (UID )?FETCH `,
		`TRC S: \* \d+ FETCH \(.*BODY\[\] \{\d+\} account=acct`,
		`TRC S: <literal \d{5} bytes>\) account=acct`,
		`TRC C: T\d+ LOGOUT`,
		// The second folder, light like the first, shares its connection.
		`TRC C: T\d+ SELECT "?Archive"? .* account=acct conn=1 dir=C$`)
	checkNoSecret(t, "the trace of a sync", r.stderr, pass)
	if strings.Contains(r.stderr, "end of traced-0000") {
		t.Errorf("the trace shows a message's text:\n%s", r.stderr)
	}

	// A push: the message goes out as a literal, shown as its size.
	msg := makeMsg("pushed", 3000)
	name := filepath.Join(e.localDir("INBOX"), "new", "1700000000.traced.e2ehost")
	if err := os.WriteFile(name, toLF(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Now the state knows the folders: their STATUS goes with the login.
	p.SetPlan(holdLogin)
	r = e.mustSync("--log-level", "trace", "sync")
	checkTrace(t, r.stderr, `TRC C: T\d+ STATUS "?INBOX"? \(.*HIGHESTMODSEQ.*\) account=acct conn=1 dir=C$`)
	checkTrace(t, r.stderr, `TRC C: [TM]\d+ APPEND "?INBOX"? .*\{\d+\+?\} account=acct`, `TRC C: <literal \d+ bytes> account=acct`)
	checkNoSecret(t, "the trace of a push", r.stderr, pass)
	if strings.Contains(r.stderr, "end of pushed") {
		t.Errorf("the trace shows a message's text:\n%s", r.stderr)
	}

	r = e.mustSync("--log-level", "debug", "sync")
	if strings.Contains(r.stderr, "dir=") || strings.Contains(r.stderr, "TRC") {
		t.Errorf("--log-level debug shows the protocol:\n%s", r.stderr)
	}
	checkNoSecret(t, "--log-level debug", r.stderr, pass)

	r = e.mustSync("--log-level", "trace", "--log-format", "json", "sync")
	checkNoSecret(t, "the JSON trace", r.stderr, pass)
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var ev struct {
			Level, Message, Account, Dir string
			Conn                         int
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if ev.Level == "trace" && ev.Account == acct && ev.Dir == "C" && ev.Conn > 0 && strings.HasPrefix(ev.Message, "C: ") {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no trace event with the fields level, account, dir and conn:\n%s", r.stderr)
	}
}

// TestTraceFailedLogin: the trace of a login the server refuses, with
// AUTHENTICATE PLAIN and with the LOGIN command (to which go-imap sends a
// non-ASCII password as a literal), shows the refusal and no form of the
// wrong password; neither does the error.
func TestTraceFailedLogin(t *testing.T) {
	t.Parallel()
	const wrong = "wrong-Pä55wörd"
	for _, tt := range []struct{ mech, login string }{
		{"PLAIN", `TRC C: M1 AUTHENTICATE PLAIN <redacted> `},
		{"LOGIN", `TRC C: T\d+ LOGIN <redacted> (.|\n)*TRC C: <redacted> `},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{remoteExtra: `auth_mechanisms = ["` + tt.mech + `"]`})
			cfg, err := os.ReadFile(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg = bytes.Replace(cfg, []byte(`password = "`+e.srv.Password(e.user)+`"`), []byte(`password = "`+wrong+`"`), 1)
			if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.run("--log-level", "trace", "sync")
			// A refused login is exit 1, and the message names the
			// mechanism the server refused.
			if r.code != 1 || !strings.Contains(r.stderr, "with "+tt.mech+": ") {
				t.Fatalf("a sync with a wrong password: want exit 1 and an authentication error naming %s; got %s", tt.mech, r)
			}
			checkTrace(t, r.stderr, tt.login, `TRC S: [TM]\d+ NO \[AUTHENTICATIONFAILED\]`)
			checkNoSecret(t, "the trace of a refused login", r.stdout+r.stderr, wrong)
		})
	}
}

// TestTraceDaemonIdle: the daemon's IDLE connection is traced too, with a
// number of its own.
func TestTraceDaemonIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{accountExtra: `autorefresh = "1h"` + "\n" + `idle_folders = ["INBOX"]`})
	e.seedServer("INBOX", seeds("idle", 1, 1000))
	p := startBin(t, e.binEnv(), "-c", e.cfg, "--log-level", "trace", "daemon")
	// The server's answer to IDLE, on the connection that sent it.
	idle := regexp.MustCompile(`TRC C: T\d+ IDLE account=acct conn=(\d+) dir=C\n(?:.*\n)*.*TRC S: \+ idling account=acct conn=(\d+) dir=S`)
	idling := func() bool {
		m := idle.FindStringSubmatch(p.stderr.String())
		return m != nil && m[1] == m[2]
	}
	if !until(20*time.Second, idling) {
		t.Fatalf("no IDLE in the daemon's trace: %s", p.stderr.String())
	}
	stopDaemon(t, p)
	checkNoSecret(t, "the daemon's trace", p.stderr.String(), e.srv.Password(e.user))
}
