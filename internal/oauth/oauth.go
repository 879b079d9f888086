// Package oauth supplies OAuth2 access tokens for IMAP logins (XOAUTH2,
// OAUTHBEARER): printed by a helper command (oama, pizauth, gcloud-style
// tools), or refreshed by mailsync itself at the provider's token endpoint
// with a refresh token. Either way a Source keeps the token in memory and
// hands it out until shortly before it expires.
package oauth

import (
	"context"
	"sync"
	"time"
)

// Source hands out one account's access token, fetching a new one when the
// kept one is about to expire or the server refused it. It is safe for
// concurrent use; concurrent callers share one fetch.
type Source struct {
	// fetch gets a new token and the time until which to hand it out.
	fetch func(ctx context.Context) (token string, until time.Time, err error)
	now   func() time.Time
	// sem admits one fetch at a time, and lets a waiting caller give up
	// when its context ends, which a mutex would not.
	sem chan struct{}

	mu    sync.Mutex
	token string
	until time.Time
}

func newSource(now func() time.Time, fetch func(context.Context) (string, time.Time, error)) *Source {
	if now == nil {
		now = time.Now
	}
	return &Source{fetch: fetch, now: now, sem: make(chan struct{}, 1)}
}

// Token returns a token that is good for a while yet.
func (s *Source) Token(ctx context.Context) (string, error) {
	if t, ok := s.kept(); ok {
		return t, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	// Another caller may have fetched one while this one waited.
	if t, ok := s.kept(); ok {
		return t, nil
	}
	t, until, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.token, s.until = t, until
	s.mu.Unlock()
	return t, nil
}

func (s *Source) kept() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Before(s.until) {
		return s.token, true
	}
	return "", false
}

// Forget drops token after the server refused it, so that the next login
// gets a fresh one. A token fetched since is kept: it was not refused.
func (s *Source) Forget(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token, s.until = "", time.Time{}
	}
}
