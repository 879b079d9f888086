package dovetest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
)

// OAuth2Options configure OAuth2 logins (XOAUTH2 and OAUTHBEARER).
//
// Dovecot checks a token with its oauth2 passdb, which asks an RFC 7662
// style introspection endpoint; dovetest runs that endpoint itself on
// loopback, so a token is only as good as Check says. Password logins
// keep working beside it.
type OAuth2Options struct {
	// Check tells whether token is valid and whose it is. Nil accepts
	// OAuth2Token(user) for each user and nothing else.
	Check func(token string) (user string, ok bool)

	// url is the running introspection endpoint, set by startOAuth2 on
	// the server's own copy of the options.
	url  string
	conf string // the passdb's args file
	mu   *sync.Mutex
	seen *[]string
}

// OAuth2Token is a token the default Check accepts for user.
func (s *Server) OAuth2Token(user string) string { return "dovetest-token-" + user }

// OAuth2Introspected returns the tokens Dovecot asked the introspection
// endpoint about so far, in order: a test sees which token a login
// presented without reading Dovecot's log.
func (s *Server) OAuth2Introspected() []string {
	o := s.opts.OAuth2
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), (*o.seen)...)
}

// startOAuth2 starts the introspection endpoint and writes the passdb's
// settings file; the endpoint is closed after Dovecot has stopped (the
// cleanup is registered before Start registers the stop).
func (s *Server) startOAuth2(t TB) {
	t.Helper()
	if s.opts.OAuth2 == nil {
		return
	}
	// A copy: the caller's options may serve several servers.
	o := *s.opts.OAuth2
	s.opts.OAuth2 = &o
	o.mu, o.seen = &sync.Mutex{}, new([]string)
	check := o.Check
	if check == nil {
		check = func(token string) (string, bool) {
			for u := range s.users {
				if token == s.OAuth2Token(u) {
					return u, true
				}
			}
			return "", false
		}
	}
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// introspection_mode = post: the token is the form field "token".
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("token") == "" {
			http.Error(w, "want a POST with a token", http.StatusBadRequest)
			return
		}
		token := r.PostForm.Get("token")
		o.mu.Lock()
		*o.seen = append(*o.seen, token)
		o.mu.Unlock()
		// A refused token is an inactive one (RFC 7662 2.2), not an HTTP
		// error, which Dovecot would report as a temporary failure.
		resp := map[string]any{"active": false}
		if user, ok := check(token); ok {
			resp = map[string]any{"active": true, "username": user}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	o.url = srv.URL + "/introspect"
	o.conf = filepath.Join(s.Dir, "oauth2.conf.ext")
	conf := fmt.Sprintf(`# dovetest's introspection endpoint decides; no tokeninfo step.
introspection_url = %s
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
`, o.url)
	if err := os.WriteFile(o.conf, []byte(conf), 0o644); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
}

// oauth2Config is the Dovecot configuration for Options.OAuth2.
func (s *Server) oauth2Config() string {
	if s.opts.OAuth2 == nil {
		return ""
	}
	// The oauth2 passdb answers for the token mechanisms only; the
	// passwd-file passdb before it fails on a token and Dovecot moves on.
	return fmt.Sprintf(`
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %s
}
`, s.opts.OAuth2.conf)
}
