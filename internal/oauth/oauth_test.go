package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// endpoint is a fake token endpoint: it records each request's form and
// answers with what answer returns.
type endpoint struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	forms  []url.Values
	auth   []string // Authorization headers
	answer func(n int, form url.Values) (status int, body any)
}

func newEndpoint(t *testing.T, answer func(n int, form url.Values) (int, any)) *endpoint {
	e := &endpoint{t: t, answer: answer}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("token request: %s with Content-Type %q, want a form POST", r.Method, r.Header.Get("Content-Type"))
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request: %v", err)
		}
		e.mu.Lock()
		e.forms = append(e.forms, r.PostForm)
		e.auth = append(e.auth, r.Header.Get("Authorization"))
		n := len(e.forms)
		e.mu.Unlock()
		status, body := e.answer(n, r.PostForm)
		if s, ok := body.(string); ok {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprint(w, s)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) requests() []url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]url.Values(nil), e.forms...)
}

// grant answers a refresh with access token "at-N" valid for expiresIn
// seconds.
func grant(expiresIn int) func(int, url.Values) (int, any) {
	return func(n int, _ url.Values) (int, any) {
		return 200, map[string]any{"access_token": fmt.Sprintf("at-%d", n), "token_type": "Bearer", "expires_in": expiresIn}
	}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func static(s string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return s, nil }
}

func refreshSource(e *endpoint, c *clock, secret string) *Source {
	cfg := RefreshConfig{TokenURL: e.srv.URL + "/token", ClientID: "client-id",
		RefreshToken: static("refresh-secret-1")}
	if secret != "" {
		cfg.ClientSecret = static(secret)
	}
	if c != nil {
		cfg.Now = c.now
	}
	return NewRefresh(cfg)
}

// TestRefreshGrant: a refresh is RFC 6749's refresh_token grant with the
// client's id and secret in the form, and its token is kept: a second
// call asks nobody.
func TestRefreshGrant(t *testing.T) {
	e := newEndpoint(t, grant(3600))
	s := refreshSource(e, nil, "client-secret-1")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		tok, err := s.Token(ctx)
		if err != nil || tok != "at-1" {
			t.Fatalf("Token #%d = %q, %v; want at-1", i+1, tok, err)
		}
	}
	reqs := e.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the endpoint, want 1", len(reqs))
	}
	want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"refresh-secret-1"},
		"client_id": {"client-id"}, "client_secret": {"client-secret-1"}}
	if fmt.Sprint(reqs[0]) != fmt.Sprint(want) {
		t.Errorf("form %v, want %v", reqs[0], want)
	}
	if e.auth[0] != "" {
		t.Errorf("Authorization header %q: the secret belongs in the form", e.auth[0])
	}
}

// TestRefreshPublicClient: without a secret the form has the client id
// and no client_secret at all.
func TestRefreshPublicClient(t *testing.T) {
	e := newEndpoint(t, grant(3600))
	if _, err := refreshSource(e, nil, "").Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := e.requests()[0]
	if f.Get("client_id") != "client-id" || f.Has("client_secret") {
		t.Errorf("form %v, want client_id and no client_secret", f)
	}
}

// TestRefreshEarly: a token is replaced EarlyRefresh before it expires,
// or halfway through its life when that is shorter.
func TestRefreshEarly(t *testing.T) {
	for _, tc := range []struct {
		expiresIn    int
		keep, expire time.Duration // still kept after keep, replaced after expire
	}{
		{3600, 54*time.Minute + 50*time.Second, 55*time.Minute + 10*time.Second},
		{120, 50 * time.Second, 70 * time.Second},
	} {
		t.Run(fmt.Sprint(tc.expiresIn), func(t *testing.T) {
			e := newEndpoint(t, grant(tc.expiresIn))
			c := &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
			s := refreshSource(e, c, "sec")
			ctx := context.Background()
			get := func() string {
				tok, err := s.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			get()
			c.add(tc.keep)
			if tok := get(); tok != "at-1" {
				t.Fatalf("after %v: %s, want at-1 still", tc.keep, tok)
			}
			c.add(tc.expire - tc.keep)
			if tok := get(); tok != "at-2" {
				t.Fatalf("after %v: %s, want a fresh at-2", tc.expire, tok)
			}
		})
	}
}

// TestRefreshRotation: a refresh token the endpoint returns replaces the
// old one for the next refresh, and the configured source is not asked
// again.
func TestRefreshRotation(t *testing.T) {
	e := newEndpoint(t, func(n int, _ url.Values) (int, any) {
		return 200, map[string]any{"access_token": fmt.Sprintf("at-%d", n), "expires_in": 3600,
			"refresh_token": fmt.Sprintf("rotated-%d", n)}
	})
	asked := 0
	s := NewRefresh(RefreshConfig{TokenURL: e.srv.URL, ClientID: "id",
		RefreshToken: func(context.Context) (string, error) { asked++; return "refresh-secret-1", nil }})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Forget(tok)
	}
	var sent []string
	for _, f := range e.requests() {
		sent = append(sent, f.Get("refresh_token"))
	}
	if want := []string{"refresh-secret-1", "rotated-1", "rotated-2"}; fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("refresh tokens sent %v, want %v", sent, want)
	}
	if asked != 1 {
		t.Errorf("refresh token source asked %d times, want 1", asked)
	}
}

// TestRefreshErrors: the endpoint's error code and description reach the
// error, the secrets never do, even when the endpoint echoes them; after
// invalid_grant the refresh token is read from its source again.
func TestRefreshErrors(t *testing.T) {
	secrets := []string{"refresh-secret-1", "client-secret-1"}
	for _, tc := range []struct {
		name   string
		status int
		body   any
		want   []string
	}{
		{"invalid_grant", 400, map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
			[]string{"invalid_grant", "Token has been expired or revoked.", "HTTP 400", "authorize mailsync again"}},
		{"echo", 401, map[string]string{"error": "invalid_client", "error_description": "bad client_secret=client-secret-1 for refresh-secret-1"},
			[]string{"invalid_client", "<redacted>"}},
		{"not json", 500, "<html>oops: refresh_token=refresh-secret-1&client_secret=client-secret-1</html>",
			[]string{"HTTP 500"}},
		{"error with 200", 200, map[string]string{"error": "temporarily_unavailable"},
			[]string{"temporarily_unavailable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, func(int, url.Values) (int, any) { return tc.status, tc.body })
			asked := 0
			s := NewRefresh(RefreshConfig{TokenURL: e.srv.URL + "/token", ClientID: "id",
				ClientSecret: static("client-secret-1"),
				RefreshToken: func(context.Context) (string, error) { asked++; return "refresh-secret-1", nil }})
			_, err := s.Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(tc.want, e.srv.URL+"/token") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, sec := range secrets {
				if strings.Contains(msg, sec) {
					t.Errorf("error %q holds the secret %q", msg, sec)
				}
			}
			_, _ = s.Token(context.Background())
			wantAsked := 1
			if tc.name == "invalid_grant" {
				wantAsked = 2
			}
			if asked != wantAsked {
				t.Errorf("refresh token source asked %d times over two refreshes, want %d", asked, wantAsked)
			}
		})
	}
}

// hang is an endpoint that answers only when its client gives up.
func hang(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the form first: the server notices a client that hung up
		// only once the request body is consumed.
		_ = r.ParseForm()
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRefreshBounded: the call's context and the timeout each bound a
// refresh (x/oauth2 would otherwise use the context its token source was
// made with).
func TestRefreshBounded(t *testing.T) {
	srv := hang(t)
	t.Run("context", func(t *testing.T) {
		s := NewRefresh(RefreshConfig{TokenURL: srv.URL, ClientID: "id", RefreshToken: static("rt"), Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Token(ctx)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("Token = %v after %v; want an error soon after the context ends", err, time.Since(start))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := NewRefresh(RefreshConfig{TokenURL: srv.URL, ClientID: "id", RefreshToken: static("rt"), Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := s.Token(context.Background())
		if err == nil || time.Since(start) > 5*time.Second || !strings.Contains(err.Error(), "no answer in time") {
			t.Fatalf("Token = %v after %v; want a timeout soon", err, time.Since(start))
		}
	})
}

// TestForget: a refused token is dropped and the next call refreshes; a
// stale Forget leaves a newer token alone.
func TestForget(t *testing.T) {
	e := newEndpoint(t, grant(3600))
	s := refreshSource(e, nil, "sec")
	ctx := context.Background()
	t1, _ := s.Token(ctx)
	s.Forget(t1)
	t2, err := s.Token(ctx)
	if err != nil || t2 == t1 {
		t.Fatalf("after Forget: %q, %v; want a fresh token", t2, err)
	}
	s.Forget(t1) // a late report about the old one
	if t3, _ := s.Token(ctx); t3 != t2 {
		t.Errorf("a stale Forget dropped %q (now %q)", t2, t3)
	}
	if n := len(e.requests()); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}
}

// TestConcurrentCallers share one refresh.
func TestConcurrentCallers(t *testing.T) {
	release := make(chan struct{})
	e := newEndpoint(t, func(n int, f url.Values) (int, any) {
		<-release
		return grant(3600)(n, f)
	})
	s := refreshSource(e, nil, "")
	var wg sync.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], _ = s.Token(context.Background())
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, tok := range toks {
		if tok != "at-1" {
			t.Fatalf("tokens %v, want all at-1", toks)
		}
	}
	if n := len(e.requests()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// TestCommand: the command's token is kept for CommandTTL, then asked
// for again; a refused one is asked for again at once; its errors pass
// through.
func TestCommand(t *testing.T) {
	runs := 0
	fail := false
	c := &clock{t: time.Now()}
	s := NewCommand(func(context.Context) (string, error) {
		if fail {
			return "", errors.New("helper failed")
		}
		runs++
		return fmt.Sprintf("cmd-%d", runs), nil
	}, c.now)
	ctx := context.Background()
	get := func(want string) {
		t.Helper()
		if tok, err := s.Token(ctx); err != nil || tok != want {
			t.Fatalf("Token = %q, %v; want %q", tok, err, want)
		}
	}
	get("cmd-1")
	c.add(CommandTTL - time.Second)
	get("cmd-1")
	c.add(2 * time.Second)
	get("cmd-2")
	s.Forget("cmd-2")
	get("cmd-3")
	s.Forget("cmd-3")
	fail = true
	if _, err := s.Token(ctx); err == nil || err.Error() != "helper failed" {
		t.Errorf("failing helper: %v", err)
	}
}
