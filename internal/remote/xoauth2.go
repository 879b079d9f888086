package remote

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
)

// saslFailure is a SASL client that may have been sent an error
// challenge: failure describes it, "" if none came.
type saslFailure interface {
	sasl.Client
	failure() string
}

// oauthError is the JSON error both OAuth2 mechanisms send as a
// challenge when they refuse a token (RFC 7628 3.2.2; Google's XOAUTH2
// documentation describes the same object).
type oauthError struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

// describeOAuthError renders what the server said about the token, cut
// short and stripped of control characters, since it ends up in a log
// line. (login redacts the token, should a server echo it.)
func describeOAuthError(challenge []byte) string {
	var e oauthError
	if err := json.Unmarshal(challenge, &e); err != nil || (e.Status == "" && e.Scope == "") {
		return "server's error challenge: " + clean(string(challenge))
	}
	parts := []string{"status " + clean(e.Status)}
	if e.Scope != "" {
		parts = append(parts, "scope "+clean(e.Scope))
	}
	return strings.Join(parts, ", ")
}

func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

// xoauth2Client speaks Google's XOAUTH2: one initial response,
//
//	"user=" user ^A "auth=Bearer " token ^A ^A
//
// and, when the token is refused, a base64 JSON error as a continuation
// that the client must answer with an empty response before the server
// sends its tagged NO. go-sasl has no XOAUTH2.
type xoauth2Client struct {
	user, token string
	refusal     string // the server's error challenge, described
	// sendEmpty, if set, makes the empty response go out as an empty
	// line rather than go-imap's "=" (see guardConn.Write).
	sendEmpty func()
}

func newXOAuth2Client(user, token string) *xoauth2Client {
	return &xoauth2Client{user: user, token: token}
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return MechXOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if c.refusal != "" {
		// The exchange has nothing after the error; giving up makes
		// go-imap wait for the server's tagged answer anyway.
		return nil, errors.New("XOAUTH2: unexpected second challenge")
	}
	c.refusal = describeOAuthError(challenge)
	if c.sendEmpty != nil {
		c.sendEmpty()
	}
	return []byte{}, nil
}

func (c *xoauth2Client) failure() string { return c.refusal }

// oauthBearerClient is go-sasl's OAUTHBEARER, made to finish the exchange
// on a refusal. go-sasl's client returns the error challenge as an error,
// and go-imap then abandons the command without answering it, leaving the
// server waiting for the dummy response RFC 7628 3.2.3 requires (a single
// ^A) and us without the server's tagged NO and its text.
type oauthBearerClient struct {
	sasl.Client
	refusal string
}

func newOAuthBearerClient(user, token, host string, port int) *oauthBearerClient {
	return &oauthBearerClient{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{
		Username: user, Token: token, Host: host, Port: port,
	})}
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	if c.refusal != "" {
		return nil, errors.New("OAUTHBEARER: unexpected second challenge")
	}
	// The only challenge OAUTHBEARER has is the error.
	c.refusal = describeOAuthError(challenge)
	return []byte{0x01}, nil
}

func (c *oauthBearerClient) failure() string { return c.refusal }

// Write sends p, except that after emptyResponse was set, go-imap's
// encoding of an empty SASL response, "=", goes out as the empty line
// RFC 3501 6.2.2 means. "=" stands for an empty response only in an
// initial response (RFC 4959); as a continuation Dovecot answers it with
// "BAD Invalid base64 data", where a refused XOAUTH2 token should get its
// NO, and go-imap has no other way to send one.
//
// A UID FETCH armed by askEarlier goes out with VANISHED (vanished.go).
func (g *guardConn) Write(p []byte) (int, error) {
	if ea := g.vanishNext.Load(); ea != nil {
		if q, tag, ok := withVanished(p); ok && g.vanishNext.CompareAndSwap(ea, nil) {
			return g.writeVanished(ea, tag, p, q)
		}
	}
	if g.emptyResponse.CompareAndSwap(true, false) && string(p) == "=\r\n" {
		if _, err := g.Conn.Write(p[1:]); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return g.Conn.Write(p)
}
