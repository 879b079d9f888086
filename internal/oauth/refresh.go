package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

const (
	// EarlyRefresh is how long before its expiry a refreshed token is
	// replaced (at most half its lifetime): a daemon's login must never
	// present a token that lapses while the server checks it, and clocks
	// differ.
	EarlyRefresh = 5 * time.Minute
	// defaultLifetime is assumed for a token whose endpoint did not say
	// (expires_in is only RECOMMENDED by RFC 6749); short, since a refused
	// token costs a failed sync.
	defaultLifetime = 10 * time.Minute
	// defaultTimeout bounds each request to the token endpoint.
	defaultTimeout = 30 * time.Second
)

// RefreshConfig is how to refresh an account's access token: RFC 6749's
// refresh_token grant at TokenURL.
type RefreshConfig struct {
	TokenURL string
	ClientID string
	// ClientSecret returns the client secret; nil or "" is a public
	// client (one that has none, like a desktop app's).
	ClientSecret func(ctx context.Context) (string, error)
	// RefreshToken returns the refresh token. It is asked once; a
	// rotated one the endpoint returns is kept in memory instead.
	RefreshToken func(ctx context.Context) (string, error)
	// Timeout bounds each request to the endpoint (0: 30 s).
	Timeout time.Duration
	// Client makes the requests (nil: a default client).
	Client *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// refresher holds what a refresh needs between refreshes.
type refresher struct {
	c      RefreshConfig
	client *http.Client
	now    func() time.Time

	mu           sync.Mutex // Source runs one fetch at a time already; this keeps fetch safe on its own
	refreshToken string     // "" until read from its source
	secret       *string    // nil until read from its source
}

// NewRefresh is a Source that refreshes tokens at c.TokenURL.
func NewRefresh(c RefreshConfig) *Source {
	r := &refresher{c: c, client: c.Client, now: c.Now}
	if r.client == nil {
		r.client = &http.Client{}
	}
	if r.now == nil {
		r.now = time.Now
	}
	return newSource(r.now, r.fetch)
}

func (r *refresher) fetch(ctx context.Context) (string, time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refreshToken == "" {
		rt, err := r.c.RefreshToken(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		r.refreshToken = rt
	}
	if r.secret == nil {
		var s string
		if r.c.ClientSecret != nil {
			var err error
			if s, err = r.c.ClientSecret(ctx); err != nil {
				return "", time.Time{}, err
			}
		}
		r.secret = &s
	}
	conf := &oauth2.Config{
		ClientID:     r.c.ClientID,
		ClientSecret: *r.secret,
		// In the form, not in a Basic header: Google accepts nothing else,
		// Microsoft either, and auto-detection would send a refused
		// refresh twice.
		Endpoint: oauth2.Endpoint{TokenURL: r.c.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	timeout := r.c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	// x/oauth2's TokenSource makes its requests with the context it was
	// made with, for as long as it lives; so a fresh one per refresh, made
	// with this call's context, bounded by the timeout.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, r.client)
	start := r.now()
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: r.refreshToken}).Token()
	if err != nil {
		described := r.describe(err)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			// The refresh token was revoked or expired: read it (and the
			// secret) from their sources again next time, in case the user
			// has put new ones there.
			r.refreshToken, r.secret = "", nil
		}
		return "", time.Time{}, described
	}
	if tok.RefreshToken != "" {
		// Rotation: the endpoint may hand out a new refresh token with
		// each access token and retire the old one.
		r.refreshToken = tok.RefreshToken
	}
	lifetime := defaultLifetime
	if !tok.Expiry.IsZero() {
		// x/oauth2 computed Expiry from expires_in with its own clock;
		// ExpiresIn is the endpoint's word, measured from our request.
		lifetime = time.Until(tok.Expiry)
		if tok.ExpiresIn > 0 {
			lifetime = time.Duration(tok.ExpiresIn) * time.Second
		}
	}
	return tok.AccessToken, start.Add(lifetime - min(EarlyRefresh, lifetime/2)), nil
}

// describe makes err say what the endpoint said (RFC 6749 5.2's error and
// error_description), never what was sent: x/oauth2's own message for an
// answer without an error code quotes the whole body, which an odd
// endpoint might fill with the request.
func (r *refresher) describe(err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		msg := fmt.Sprintf("the OAuth2 token endpoint %s refused to refresh the token", r.c.TokenURL)
		if re.Response != nil {
			msg += " (HTTP " + re.Response.Status + ")"
		}
		if re.ErrorCode != "" {
			msg += ": " + clean(re.ErrorCode)
			if re.ErrorDescription != "" {
				msg += ": " + clean(re.ErrorDescription)
			}
		}
		if re.ErrorCode == "invalid_grant" {
			msg += "; the refresh token is no longer valid: authorize mailsync again to get a new one"
		}
		return errors.New(r.redact(msg))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("refreshing the OAuth2 token at %s: no answer in time: %w", r.c.TokenURL, err)
	}
	return fmt.Errorf("refreshing the OAuth2 token at %s: %s", r.c.TokenURL, r.redact(err.Error()))
}

// redact removes the secrets from a message, should an endpoint have
// echoed one back in its error description.
func (r *refresher) redact(s string) string {
	for _, secret := range []string{r.refreshToken, deref(r.secret)} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clean keeps the endpoint's words to one short line.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}
