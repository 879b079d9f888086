package accounts

import (
	"sync/atomic"

	"github.com/rs/zerolog"

	"mailsync/internal/remote"
)

// connCounter numbers an account's traced connections.
type connCounter = atomic.Int64

// traced is o with a protocol trace when the log shows trace events
// (--log-level trace), and o untouched otherwise, so that an untraced
// connection pays nothing for the feature. Every connection of the account
// (the engine's, and the daemon's IDLE ones) is dialed through here.
func (a *Account) traced(o remote.Options) remote.Options {
	if a.log.GetLevel() > zerolog.TraceLevel || zerolog.GlobalLevel() > zerolog.TraceLevel {
		return o
	}
	// The number tells apart the lines of connections open at once; it
	// counts the account's connections since it was opened.
	log := a.log.With().Int64("conn", a.traceConns.Add(1)).Logger()
	o.Trace = func(fromServer bool, line string) {
		dir := "C"
		if fromServer {
			dir = "S"
		}
		log.Trace().Str("dir", dir).Msg(dir + ": " + line)
	}
	return o
}
