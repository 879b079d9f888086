package remote

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

// ErrAuth marks a login the server refused: a wrong password, a locked
// account. errors.Is finds it in Dial's error; retrying at once would only
// be refused again.
var ErrAuth = errors.New("authentication failed")

// authError is a refused login: its message is the server's answer, and
// errors.Is matches it to ErrAuth.
type authError struct{ err error }

func (e *authError) Error() string        { return e.err.Error() }
func (e *authError) Unwrap() error        { return e.err }
func (e *authError) Is(target error) bool { return target == ErrAuth }

func (c *Conn) login(ctx context.Context, o Options) error {
	defer c.busy()()
	if err := c.c.WaitGreeting(); err != nil {
		return fmt.Errorf("reading server greeting: %w", err)
	}
	pass, err := o.Password(ctx)
	if err != nil {
		return err
	}
	caps := c.c.Caps()
	preAuth := maps.Clone(caps)
	if caps.Has(imap.Cap("AUTH=PLAIN")) {
		err = c.c.Authenticate(sasl.NewPlainClient("", o.User, pass))
	} else if caps.Has(imap.CapLoginDisabled) {
		return &authError{errors.New("server refuses LOGIN and offers no AUTH=PLAIN")}
	} else {
		err = c.c.Login(o.User, pass).Wait()
	}
	if err != nil {
		// The server's text, never the password.
		err = fmt.Errorf("logging in as %s: %w", o.User, err)
		if errors.As(err, new(*imap.Error)) {
			// Refused, as opposed to cut off.
			err = &authError{err}
		}
		return err
	}
	// Capabilities may change after login: go-imap drops the pre-auth list
	// and asks again by itself (unless the OK carried them), and Caps waits
	// for that answer. But go-imap completes the login before it drops the
	// list, so Caps can still return the pre-auth one here: when it looks
	// unchanged, ask once more, or CONDSTORE and UIDPLUS could go unseen.
	c.caps = c.c.Caps()
	if maps.Equal(c.caps, preAuth) {
		if c.caps, err = c.c.Capability().Wait(); err != nil {
			return fmt.Errorf("CAPABILITY after login: %w", err)
		}
	}
	if c.caps == nil {
		return errors.New("no CAPABILITY answer after login")
	}
	return nil
}
