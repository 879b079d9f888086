package main

import "mailsync/accounts"

// Exit codes, documented in the README and in `mailsync sync --help`.
const (
	exitOK     = 0
	exitFailed = 1  // some account or folder failed; the others still ran
	exitUsage  = 2  // usage or configuration error
	exitLocked = 75 // another mailsync holds an account's lock (EX_TEMPFAIL)
)

// exitCode folds the accounts' results into the process exit code: a
// failure beats a lock conflict, which beats success.
func exitCode(rs []accounts.Result) int {
	code := exitOK
	for _, r := range rs {
		if r.Failed() {
			return exitFailed
		}
		if r.Locked {
			code = exitLocked
		}
	}
	return code
}
