package sync

import (
	"time"

	"mailsync/internal/state"
)

// The shortcuts of a full sync (a folder whose directory times and
// HIGHESTMODSEQ are the recorded ones is skipped; otherwise only what
// changed since is compared) trust that the two sides agreed when they
// were recorded. A difference made outside their sight (another tool run
// on the Maildir while the user switched, a server that lost a flag
// change, a bug) would then last for ever. So now and then a full sync
// compares the two sides in full instead: every file against every
// server flag. That costs a local listing and one UID FETCH FLAGS of the
// folder, at most once a day, or once an hour in a folder's first day,
// when another tool is most likely still at work on it.
const (
	verifyEvery      = 24 * time.Hour
	verifyEveryYoung = time.Hour
)

// verifyDue reports whether folder f is due for a full comparison.
func verifyDue(now time.Time, f *state.Folder) bool {
	if f == nil || f.UIDValidity == 0 {
		return false // a first sync compares in full anyway
	}
	if f.Verified == 0 {
		return true
	}
	since := now.Sub(time.Unix(f.Verified, 0))
	if f.Created != 0 && now.Sub(time.Unix(f.Created, 0)) < verifyEvery {
		return since >= verifyEveryYoung
	}
	return since >= verifyEvery
}
