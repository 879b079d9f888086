package remote

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

// ErrAuth marks a login the server refused: a wrong password, a locked
// account, a revoked token, or no mechanism both sides can use. errors.Is
// finds it in Dial's error; retrying at once would only be refused again.
var ErrAuth = errors.New("authentication failed")

// authError is a refused login: its message is the server's answer, and
// errors.Is matches it to ErrAuth.
type authError struct{ err error }

func (e *authError) Error() string        { return e.err.Error() }
func (e *authError) Unwrap() error        { return e.err }
func (e *authError) Is(target error) bool { return target == ErrAuth }

// The mechanisms auth_mechanisms names. LOGIN is the IMAP LOGIN command,
// as in mbsync's AuthMechs, not the SASL mechanism of that name: every
// server has the command, few offer AUTH=LOGIN, and the two carry the same
// password in the clear.
const (
	MechPlain       = "PLAIN"
	MechLogin       = "LOGIN"
	MechXOAuth2     = "XOAUTH2"
	MechOAuthBearer = "OAUTHBEARER"
)

// The mechanisms tried when none are configured, best first, for each
// kind of credential. OAUTHBEARER (RFC 7628) comes before XOAUTH2, Google's
// older, unstandardised form of the same thing: servers that offer both
// (Gmail, Dovecot) implement the standard one properly, and those that
// offer only XOAUTH2 (Outlook) still get it. PLAIN comes before the LOGIN
// command because SASL-IR makes it one round trip and it has no quoting
// rules to trip over.
var (
	tokenMechanisms    = []string{MechOAuthBearer, MechXOAuth2}
	passwordMechanisms = []string{MechPlain, MechLogin}
)

// pickMechanism chooses how to log in: the first of the configured
// mechanisms (or of the defaults for the credentials) that the server
// offers. Only one is tried: a server that refused a credential with one
// mechanism refuses it with the next as well, and each refusal counts
// towards a lock-out.
func pickMechanism(caps imap.CapSet, o Options) (string, error) {
	fits := passwordMechanisms
	if o.Token != nil {
		fits = tokenMechanisms
	}
	want := o.Mechanisms
	if len(want) == 0 {
		want = fits
	}
	for _, m := range want {
		if !slices.Contains(fits, m) {
			if o.Token != nil {
				return "", fmt.Errorf("auth mechanism %s needs a password; this account logs in with an OAuth2 token", m)
			}
			return "", fmt.Errorf("auth mechanism %s needs an OAuth2 token; this account logs in with a password", m)
		}
		if offers(caps, m) {
			return m, nil
		}
	}
	return "", &authError{fmt.Errorf("%s offers none of the mechanisms %s; it offers %s",
		o.Host, strings.Join(want, ", "), offered(caps))}
}

// offers reports whether the server lets a client log in with m.
func offers(caps imap.CapSet, m string) bool {
	if m == MechLogin {
		return !caps.Has(imap.CapLoginDisabled)
	}
	return caps.Has(imap.Cap("AUTH=" + m))
}

// offered lists what the server offers in the words auth_mechanisms uses.
func offered(caps imap.CapSet) string {
	var mechs []string
	for c := range caps {
		if m, ok := strings.CutPrefix(strings.ToUpper(string(c)), "AUTH="); ok && m != MechLogin {
			mechs = append(mechs, m)
		}
	}
	slices.Sort(mechs)
	if !caps.Has(imap.CapLoginDisabled) {
		mechs = append(mechs, MechLogin+" (the LOGIN command)")
	}
	if len(mechs) == 0 {
		return "no way to log in (LOGINDISABLED, perhaps until TLS is used)"
	}
	return strings.Join(mechs, ", ")
}

func (c *Conn) login(ctx context.Context, o Options) error {
	end := c.busy()
	if err := c.c.WaitGreeting(); err != nil {
		end()
		return fmt.Errorf("reading server greeting: %w", err)
	}
	caps := c.c.Caps()
	end()
	mech, err := pickMechanism(caps, o)
	if err != nil {
		return err
	}
	// Not inside a busy span: a token helper or password command may take
	// its time (a refresh over HTTP, a pinentry prompt), and the silence of
	// a server waiting for our command is not a stall.
	var secret string
	if o.Token != nil {
		secret, err = o.Token(ctx)
	} else if o.Password != nil {
		secret, err = o.Password(ctx)
	} else {
		err = errors.New("no password or token to log in with")
	}
	if err != nil {
		return err
	}
	// The first round behind the login (ahead.go), asked for once the
	// login is written: the caller may still be reading its state, and
	// the login need not wait for that.
	var ahead func(context.Context) (Ahead, bool)
	if o.Ahead != nil && c.canLoginAhead(caps, mech) {
		ahead = o.Ahead
	}
	defer c.busy()()
	c.wantQResync = o.QResync && (caps.Has(imap.CapEnable) || caps.Has(imap.CapIMAP4rev2))
	preAuth := maps.Clone(caps)
	var sc saslFailure
	// okCaps are the capabilities of a login written past go-imap.
	var okCaps imap.CapSet
	switch {
	case mech == MechLogin:
		cmd := c.c.Login(o.User, secret)
		if ahead != nil {
			c.sendAheadOf(ctx, ahead)
		}
		err = cmd.Wait()
	case mech == MechPlain && ahead != nil:
		if okCaps, err = c.authenticatePlainAhead(ctx, o.User, secret, ahead); err == nil && okCaps == nil {
			// Asked behind the first round, which is already on its way.
			okCaps, err = c.c.Capability().Wait()
		}
	case mech == MechPlain:
		err = c.c.Authenticate(sasl.NewPlainClient("", o.User, secret))
	case mech == MechXOAuth2:
		x := newXOAuth2Client(o.User, secret)
		if c.g != nil {
			x.sendEmpty = func() { c.g.emptyResponse.Store(true) }
		}
		sc = x
		err = c.c.Authenticate(x)
	case mech == MechOAuthBearer:
		b := newOAuthBearerClient(o.User, secret, o.Host, o.Port)
		sc = b
		err = c.c.Authenticate(b)
	}
	if err != nil {
		// Refused, as opposed to cut off.
		refused := errors.As(err, new(*imap.Error))
		var detail string
		if sc != nil {
			detail = sc.failure()
		}
		if detail != "" {
			err = fmt.Errorf("%w (%s)", err, detail)
		}
		err = fmt.Errorf("logging in to %s as %s with %s: %w", o.Host, o.User, mech, err)
		if len(secret) >= 4 && strings.Contains(err.Error(), secret) {
			// The server's text, never the secret, even if it echoed it.
			err = errors.New(strings.ReplaceAll(err.Error(), secret, "<redacted>"))
		}
		if refused {
			err = &authError{err}
		}
		return err
	}
	// Capabilities may change after login: go-imap drops the pre-auth list
	// and asks again by itself (unless the OK carried them), and Caps waits
	// for that answer. But go-imap completes the login before it drops the
	// list, so Caps can still return the pre-auth one here: when it looks
	// unchanged, ask once more, or CONDSTORE and UIDPLUS could go unseen.
	if okCaps != nil {
		c.caps = okCaps
	} else {
		c.caps = c.c.Caps()
		if maps.Equal(c.caps, preAuth) {
			if c.caps, err = c.c.Capability().Wait(); err != nil {
				return fmt.Errorf("CAPABILITY after login: %w", err)
			}
		}
		if c.caps == nil {
			return errors.New("no CAPABILITY answer after login")
		}
	}
	if o.QResync && c.qresyncAnswer == nil && c.caps.Has(imap.CapQResync) {
		// Not sent behind the login: sent now, and answered before
		// anything asked after it.
		return c.enableQResync()
	}
	return nil
}
