package accounts

import (
	"errors"
	"io"
	"slices"

	msync "mailsync/sync"
)

// SyncDocument is `mailsync sync --json`'s output: one document for the
// whole run (docs/json.md).
type SyncDocument struct {
	Accounts []SyncAccount `json:"accounts"`
	ExitCode int           `json:"exit_code"`
}

// SyncAccount is one account's part of a SyncDocument.
type SyncAccount struct {
	Name string `json:"name"`
	// OK: the account and all its folders synced.
	OK bool `json:"ok"`
	// Locked: another mailsync held the account's lock; nothing was done.
	Locked bool `json:"locked"`
	// Forwarded: a running daemon did the sync; only Summary and the
	// errors are known then.
	Forwarded   bool            `json:"forwarded"`
	DryRun      bool            `json:"dry_run"`
	Interrupted bool            `json:"interrupted"`
	Stopped     bool            `json:"stopped"`
	Counts      *SyncCounts     `json:"counts"`
	Seconds     float64         `json:"seconds"`
	Summary     string          `json:"summary"`
	Error       string          `json:"error,omitempty"`
	Folders     []SyncFolderDoc `json:"folders"`
}

// SyncCounts are msync.Counts as the document names them.
type SyncCounts struct {
	Pulled      int `json:"pulled"`
	Pushed      int `json:"pushed"`
	FlagsDown   int `json:"flags_down"`
	FlagsUp     int `json:"flags_up"`
	DeletedDown int `json:"deleted_down"`
	DeletedUp   int `json:"deleted_up"`
	Skipped     int `json:"skipped"`
}

// SyncFolderDoc is one folder's result.
type SyncFolderDoc struct {
	Name        string     `json:"name"`
	Counts      SyncCounts `json:"counts"`
	Unchanged   bool       `json:"unchanged"`
	Interrupted bool       `json:"interrupted"`
	Error       string     `json:"error,omitempty"`
	// Stop names the safety stop that held the folder ("mass-delete",
	// "uidvalidity", …; see `mailsync status`), if one did.
	Stop string `json:"stop,omitempty"`
}

func countsOf(c msync.Counts) SyncCounts {
	return SyncCounts{Pulled: c.Pulled, Pushed: c.Pushed, FlagsDown: c.FlagsDown, FlagsUp: c.FlagsUp,
		DeletedDown: c.DeletedDown, DeletedUp: c.DeletedUp, Skipped: c.Skipped}
}

// WriteSyncJSON writes the document of a run's results and exit code, for
// `mailsync sync --json`.
func WriteSyncJSON(w io.Writer, rs []Result, exitCode int) error {
	return writeJSON(w, NewSyncDocument(rs, exitCode))
}

// NewSyncDocument is the document of a run's results and exit code.
func NewSyncDocument(rs []Result, exitCode int) SyncDocument {
	doc := SyncDocument{Accounts: make([]SyncAccount, 0, len(rs)), ExitCode: exitCode}
	for _, r := range rs {
		a := SyncAccount{Name: r.Account, OK: !r.Failed() && !r.Locked, Locked: r.Locked, Folders: []SyncFolderDoc{}}
		if r.Forwarded != nil {
			a.Forwarded, a.Summary, a.Error = true, r.Forwarded.Summary, r.Forwarded.Error
			for _, fe := range r.Forwarded.FolderErrors {
				a.Folders = append(a.Folders, SyncFolderDoc{Error: fe})
			}
			doc.Accounts = append(doc.Accounts, a)
			continue
		}
		if r.Err != nil {
			a.Error = r.Err.Error()
		}
		if s := r.Summary; s != nil {
			c := countsOf(s.Counts)
			a.Counts, a.Seconds, a.Summary = &c, s.Duration.Seconds(), s.Line()
			a.DryRun, a.Interrupted, a.Stopped = s.DryRun, s.Interrupted, s.Stopped
			for _, f := range s.Folders {
				fd := SyncFolderDoc{Name: f.Folder, Counts: countsOf(f.Counts), Unchanged: f.Unchanged, Interrupted: f.Interrupted}
				if f.Err != nil {
					fd.Error = f.Err.Error()
					fd.Stop = StopKind(f.Err)
				}
				a.Folders = append(a.Folders, fd)
			}
			// Problems found before any folder ran (a name that cannot
			// be stored, say) have no folder result of their own.
			for _, err := range s.Errors {
				var fe *msync.FolderError
				if errors.As(err, &fe) && !slices.ContainsFunc(a.Folders, func(f SyncFolderDoc) bool { return f.Name == fe.Folder }) {
					a.Folders = append(a.Folders, SyncFolderDoc{Name: fe.Folder, Error: err.Error(), Stop: StopKind(err)})
				}
			}
		}
		doc.Accounts = append(doc.Accounts, a)
	}
	return doc
}
