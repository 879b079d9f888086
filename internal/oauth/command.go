package oauth

import (
	"context"
	"time"
)

// CommandTTL is how long a token printed by oauth2_token_command is handed
// out before the command is asked again. The command says nothing of when
// the token expires, and the helpers it names (oama, pizauth) keep tokens
// themselves and renew them ahead of expiry, so asking them is cheap and
// always current; keeping the answer a minute only spares one sync's
// parallel connections a run each.
const CommandTTL = time.Minute

// NewCommand is a Source whose tokens come from run, which runs the
// account's oauth2_token_command and returns the first line it printed.
// now is the clock (nil: time.Now).
func NewCommand(run func(ctx context.Context) (string, error), now func() time.Time) *Source {
	s := newSource(now, nil)
	s.fetch = func(ctx context.Context) (string, time.Time, error) {
		t, err := run(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		return t, s.now().Add(CommandTTL), nil
	}
	return s
}
