package accounts

import (
	"fmt"
	"strings"
	"time"
)

// LoopState is what an account's loop is doing.
type LoopState string

const (
	StateIdle    LoopState = "idle"    // between syncs, holding IDLE on its idle_folders
	StateSyncing LoopState = "syncing" // a cycle runs
	StateWaiting LoopState = "waiting" // between syncs, or waiting for a slot (max_sync_accounts)
	StateBackoff LoopState = "backoff" // waiting to retry after a failure
	StateStopped LoopState = "stopped" // the loop has ended
)

// AccountStatus is the daemon's live view of one account.
type AccountStatus struct {
	Name  string
	State LoopState
	// Idle lists the folders held in IDLE (or polled) right now.
	Idle []string
	// LastSync is when the last cycle ended (zero before the first);
	// LastResult is "ok" or "error", LastError the first failure.
	LastSync   time.Time
	LastResult string
	LastError  string
	// NextSync is when the next scheduled cycle starts (zero while one
	// runs or after the loop stopped).
	NextSync time.Time
	// Done and Total count the messages moved and to move in the running
	// cycle, as far as it has planned.
	Done, Total int
	Failures    int // failed cycles in a row
}

// statusLine is one account's part of systemd's STATUS=, for example
// "personal: idle (INBOX), synced 12:03:11" or "work: syncing 340/1200".
func (s AccountStatus) statusLine() string {
	var b strings.Builder
	b.WriteString(s.Name + ": ")
	switch s.State {
	case StateSyncing:
		b.WriteString("syncing")
		if s.Total > 0 {
			fmt.Fprintf(&b, " %d/%d", s.Done, s.Total)
		}
		return b.String()
	case StateIdle:
		fmt.Fprintf(&b, "idle (%s)", strings.Join(s.Idle, ", "))
	case StateBackoff:
		fmt.Fprintf(&b, "error, retry at %s", s.NextSync.Format(time.TimeOnly))
		return b.String()
	default:
		b.WriteString(string(s.State))
	}
	switch {
	case s.LastSync.IsZero():
	case s.LastResult == "ok":
		fmt.Fprintf(&b, ", synced %s", s.LastSync.Format(time.TimeOnly))
	default:
		fmt.Fprintf(&b, ", failed %s", s.LastSync.Format(time.TimeOnly))
	}
	return b.String()
}

// StatusText is the daemon's one-line STATUS= for systemd.
func StatusText(ss []AccountStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.statusLine()
	}
	return strings.Join(parts, "; ")
}
