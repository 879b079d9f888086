package test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"mailsync/internal/dovetest"
)

// newOAuth2Env is newEnv for an account that logs in with OAuth2: a
// Dovecot whose oauth2 passdb asks check (nil: dovetest's own tokens),
// and a config whose remote table has remote's lines (given the server
// and user) instead of a password. INBOX holds one message.
func newOAuth2Env(t *testing.T, remote func(srv *dovetest.Server, user string) string, check func(token string) (string, bool)) *env {
	t.Helper()
	user := "u" + strconv.Itoa(rand.Intn(1e6))
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, OAuth2: &dovetest.OAuth2Options{Check: check}})
	dir := t.TempDir()
	e := &env{
		t: t, srv: srv, user: user, dir: dir,
		cfg:   filepath.Join(dir, "config.toml"),
		mail:  filepath.Join(dir, "Mail"),
		state: filepath.Join(dir, "state"),
	}
	cfg := fmt.Sprintf(`[general]
state_dir = %q

[accounts.%s.remote]
host = "127.0.0.1"
port = %d
tls = "none"
allow_plaintext = true
user = %q
%s

[accounts.%s.local]
path = %q
`, e.state, acct, srv.Port, user, remote(srv, user), acct, e.mail)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Append(t, user, "INBOX", makeMsg("oauth", 300))
	return e
}

// noSecrets fails the test if any of secrets shows in the run's output.
func noSecrets(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("the secret %q is in the output:\n%s", s, r)
		}
	}
}

// verbose are the log levels at which no secret may show either.
var verbose = []string{"debug", "trace"}

// TestOAuth2TokenCommand: `mailsync sync` logs in with the token that
// oauth2_token_command prints (as oama or pizauth would), with each
// mechanism and the default, and the token shows in no output.
func TestOAuth2TokenCommand(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"", "XOAUTH2", "OAUTHBEARER"} {
		t.Run("mech="+mech, func(t *testing.T) {
			t.Parallel()
			e := newOAuth2Env(t, func(srv *dovetest.Server, user string) string {
				remote := fmt.Sprintf("oauth2_token_command = \"echo %s\"", srv.OAuth2Token(user))
				if mech != "" {
					remote += fmt.Sprintf("\nauth_mechanisms = [%q]", mech)
				}
				return remote
			}, nil)
			token := e.srv.OAuth2Token(e.user)
			for _, level := range verbose {
				r := e.mustSync("sync", "--log-level", level)
				noSecrets(t, r, token)
			}
			if n := len(e.local("INBOX")); n != 1 {
				t.Errorf("%d messages in the local INBOX, want 1", n)
			}
		})
	}
}

// TestOAuth2RefusedToken: a token the server refuses ends `mailsync sync`
// with exit 1 and a message that names the mechanism tried and the
// server's answer, without the token.
func TestOAuth2RefusedToken(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			token := "ya29.refused-token-" + mech
			e := newOAuth2Env(t, func(*dovetest.Server, string) string {
				return fmt.Sprintf("oauth2_token_command = \"echo %s\"\nauth_mechanisms = [%q]", token, mech)
			}, nil)
			for _, level := range verbose {
				r := e.run("sync", "--log-level", level)
				if r.code != 1 {
					t.Fatalf("exit %d, want 1: %s", r.code, r)
				}
				want := "as " + e.user + " with " + mech + ": "
				if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "AUTHENTICATIONFAILED") {
					t.Errorf("stderr does not say %q and the server's answer:\n%s", want, r)
				}
				noSecrets(t, r, token)
			}
		})
	}
}

// tokenEndpoint is a fake OAuth2 token endpoint: it trades refresh token
// rt (from client id/secret) for fresh access tokens, which the Dovecot
// check then accepts, and can be told to refuse.
type tokenEndpoint struct {
	srv           *httptest.Server
	rt, secret    string
	mu            sync.Mutex
	issued        map[string]bool
	grants        int
	badForm       []string
	refuse        bool
	user          string
	lastPresented string
}

func newTokenEndpoint(t *testing.T, rt, secret string) *tokenEndpoint {
	te := &tokenEndpoint{rt: rt, secret: secret, issued: map[string]bool{}}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		te.mu.Lock()
		defer te.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		f := r.PostForm
		if f.Get("grant_type") != "refresh_token" || f.Get("client_id") != "e2e-client" || f.Get("client_secret") != te.secret {
			te.badForm = append(te.badForm, fmt.Sprint(f))
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		if te.refuse || f.Get("refresh_token") != te.rt {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
			return
		}
		te.grants++
		at := fmt.Sprintf("ya29.access-%d-%d", te.grants, rand.Int63())
		te.issued[at] = true
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3599})
	}))
	t.Cleanup(te.srv.Close)
	return te
}

// check is the Dovecot side: only tokens the endpoint issued are good.
func (te *tokenEndpoint) check(token string) (string, bool) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.lastPresented = token
	return te.user, te.issued[token]
}

// TestOAuth2Refresh: with the client id, secret and refresh token,
// mailsync refreshes an access token at the token endpoint and logs in
// with it; none of the secrets shows in any output. A refresh token the
// endpoint refuses ends the run with exit 1 and the endpoint's error.
func TestOAuth2Refresh(t *testing.T) {
	t.Parallel()
	const rt, secret = "1//e2e-refresh-token", "GOCSPX-e2e-client-secret"
	te := newTokenEndpoint(t, rt, secret)
	e := newOAuth2Env(t, func(_ *dovetest.Server, user string) string {
		te.mu.Lock()
		te.user = user
		te.mu.Unlock()
		return fmt.Sprintf(`oauth2_client_id = "e2e-client"
oauth2_client_secret_command = "echo %s"
oauth2_refresh_token = %q
oauth2_token_url = %q`, secret, rt, te.srv.URL+"/token")
	}, te.check)
	for _, level := range verbose {
		r := e.mustSync("sync", "--log-level", level)
		te.mu.Lock()
		presented := te.lastPresented
		te.mu.Unlock()
		noSecrets(t, r, rt, secret, presented)
	}
	te.mu.Lock()
	if te.grants != len(verbose) || len(te.badForm) > 0 {
		t.Errorf("%d grants (want one per run), bad requests %v", te.grants, te.badForm)
	}
	te.refuse = true
	te.mu.Unlock()
	if n := len(e.local("INBOX")); n != 1 {
		t.Errorf("%d messages in the local INBOX, want 1", n)
	}

	r := e.run("sync", "--log-level", "debug")
	if r.code != 1 || !strings.Contains(r.stderr, "invalid_grant: Token has been expired or revoked.") {
		t.Errorf("refused refresh: want exit 1 and the endpoint's error; got %s", r)
	}
	noSecrets(t, r, rt, secret)
}
