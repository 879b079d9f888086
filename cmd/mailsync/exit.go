package main

import (
	"errors"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/control"
	msync "mailsync/sync"
)

// Exit codes, documented in the README and in `mailsync sync --help`.
const (
	exitOK     = 0
	exitFailed = 1  // some account or folder failed; the others still ran
	exitUsage  = 2  // usage or configuration error
	exitLocked = 75 // another mailsync holds an account's lock (EX_TEMPFAIL)

	// exitUntranslated: `mailsync import` printed (or wrote) the TOML, but
	// some of the other tool's configuration could not be translated.
	exitUntranslated = 3
)

// exitCode folds the accounts' results into the process exit code: a
// configuration error (a password source that fails names its key and
// line) or a usage error (sync -f naming no folder) beats any other failure, which beats a lock conflict, which beats
// success.
func exitCode(rs []accounts.Result) int {
	code := exitOK
	for _, r := range rs {
		switch {
		case r.Failed() && (errors.As(r.Err, new(*config.Error)) || errors.Is(r.Err, msync.ErrUnknownFolder)),
			r.Forwarded != nil && (r.Forwarded.Kind == control.KindConfig || r.Forwarded.Kind == control.KindUsage):
			return exitUsage
		case r.Failed():
			code = exitFailed
		case r.Locked && code == exitOK:
			code = exitLocked
		}
	}
	return code
}
