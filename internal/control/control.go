// Package control is the daemon's control socket: a unix socket, mode
// 0600, over which `mailsync sync` asks a running daemon to sync now and
// `mailsync status` reads its live view.
//
// The protocol is one JSON line each way per connection: the client sends
// a Request, the daemon answers with a Reply once it has the answer (for a
// sync, when the sync has ended).
package control

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Ops of a Request.
const (
	OpStatus = "status" // the daemon's accounts and their live state
	OpSync   = "sync"   // sync accounts now and report as `mailsync sync` would
)

// Request is what a client asks.
type Request struct {
	Op string `json:"op"`
	// Accounts to sync; empty means every account the daemon serves.
	Accounts        []string `json:"accounts,omitempty"`
	Folders         []string `json:"folders,omitempty"`
	Quick           bool     `json:"quick,omitempty"`
	AllowMassDelete bool     `json:"allow_mass_delete,omitempty"`
}

// Reply is the daemon's answer.
type Reply struct {
	// Error is set when the request could not be carried out at all.
	Error string `json:"error,omitempty"`
	PID   int    `json:"pid"`
	// StateDir is the daemon's state_dir: what tells the daemon of one
	// configuration from that of another with an account of the same name.
	StateDir string `json:"state_dir"`
	// Accounts is the live view (status) or the accounts served (sync).
	Accounts []Account `json:"accounts,omitempty"`
	// Results of a sync, one per account asked.
	Results []Result `json:"results,omitempty"`
}

// Account is the daemon's live view of one account.
type Account struct {
	Name       string     `json:"name"`
	State      string     `json:"state"`
	Idle       []string   `json:"idle,omitempty"`
	LastSync   *time.Time `json:"last_sync,omitempty"`
	LastResult string     `json:"last_result,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	NextSync   *time.Time `json:"next_sync,omitempty"`
	Done       int        `json:"done,omitempty"`
	Total      int        `json:"total,omitempty"`
}

// Result is one account's outcome of a sync.
type Result struct {
	Account string `json:"account"`
	// Summary is the account's summary line, as `mailsync sync` prints it.
	Summary string `json:"summary,omitempty"`
	// Error is the account's failure (its lock, its connection), with the
	// account as prefix; FolderErrors are its folders' failures.
	Error        string   `json:"error,omitempty"`
	FolderErrors []string `json:"folder_errors,omitempty"`
	Failed       bool     `json:"failed"`
	// Kind tells a failure that the client treats apart: KindStopping (the
	// daemon did not sync; the client syncs the account itself),
	// KindConfig (a configuration error, exit 2) or KindUsage (a request
	// naming no folder, exit 2).
	Kind string `json:"kind,omitempty"`
}

// Kinds of Result.
const (
	KindStopping = "stopping"
	KindConfig   = "config"
	KindUsage    = "usage"
)

// SocketName is the control socket's file name for a daemon serving the
// given accounts: control.sock for one that serves every account,
// control@NAME,NAME.sock for one started with -a.
func SocketName(accounts []string) string {
	if len(accounts) == 0 {
		return "control.sock"
	}
	return "control@" + strings.Join(slices.Sorted(slices.Values(accounts)), ",") + ".sock"
}

// socketNameFor is SocketName made unique to stateDir, for a daemon whose
// usual name is taken by the daemon of another configuration.
func socketNameFor(accounts []string, stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return strings.TrimSuffix(SocketName(accounts), ".sock") + "-" + hex.EncodeToString(sum[:4]) + ".sock"
}

// Dirs are the directories where a daemon's socket may be, in the order
// clients look: $XDG_RUNTIME_DIR/mailsync, then the state directory. A
// daemon listens in the first that exists in its environment.
func Dirs(runtimeDir, stateDir string) []string {
	var out []string
	if filepath.IsAbs(runtimeDir) {
		out = append(out, filepath.Join(runtimeDir, "mailsync"))
	}
	return append(out, stateDir)
}

// Sockets lists the control sockets in dirs.
func Sockets(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "control*.sock"))
		for _, p := range m {
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
				out = append(out, p)
			}
		}
	}
	return out
}
