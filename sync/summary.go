package sync

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Counts are what a sync did (or, in a dry run, would do).
type Counts struct {
	Pulled, Pushed         int
	FlagsDown, FlagsUp     int
	DeletedDown, DeletedUp int
	Skipped                int // messages left alone by max_size or bad files
}

func (c *Counts) add(o Counts) {
	c.Pulled += o.Pulled
	c.Pushed += o.Pushed
	c.FlagsDown += o.FlagsDown
	c.FlagsUp += o.FlagsUp
	c.DeletedDown += o.DeletedDown
	c.DeletedUp += o.DeletedUp
	c.Skipped += o.Skipped
}

// FolderResult is the outcome of one folder.
type FolderResult struct {
	Folder    string
	Counts    Counts
	Unchanged bool // skipped by the fast path
	Err       error
	// Interrupted: a signal stopped the folder part way (Err is nil then).
	// Nothing is lost: what was done is recorded, and the next run goes
	// on from there.
	Interrupted bool
}

// Summary is the outcome of one account run.
type Summary struct {
	Account string
	Counts  Counts
	Folders []FolderResult
	Errors  []error
	Stopped bool // a finish-then-stop request left folders unsynced
	// Interrupted: a signal (SIGINT, SIGTERM) cut the run short.
	Interrupted bool
	DryRun      bool // the counts are what a sync would do
	Duration    time.Duration
}

// Line is the one-line account summary printed after each run.
func (s *Summary) Line() string {
	c := s.Counts
	var b strings.Builder
	errs := "errors"
	if len(s.Errors) == 1 {
		errs = "error"
	}
	// A dry run says what it would do, in the words of its folder lines,
	// so that nobody takes it for changes made.
	format := "%s: pulled %d, pushed %d, flags %d↓ %d↑, deleted %d↓ %d↑, %d %s"
	if s.DryRun {
		format = "%s: would pull %d, push %d, flags %d↓ %d↑, delete %d↓ %d↑, %d %s"
	}
	fmt.Fprintf(&b, format, s.Account,
		c.Pulled, c.Pushed, c.FlagsDown, c.FlagsUp, c.DeletedDown, c.DeletedUp, len(s.Errors), errs)
	if c.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", c.Skipped)
	}
	if s.Stopped {
		b.WriteString(", stopped early")
	}
	if s.Interrupted {
		b.WriteString(", interrupted")
	}
	fmt.Fprintf(&b, " (%.1fs)", s.Duration.Seconds())
	return b.String()
}

// AccountError is a failure of a whole account's run. Its message carries
// the account as its one prefix ("work: connecting to ..."); the errors
// inside it carry none.
type AccountError struct {
	Account string
	Err     error
}

func (e *AccountError) Error() string { return e.Account + ": " + e.Err.Error() }
func (e *AccountError) Unwrap() error { return e.Err }

// FolderError is a failure confined to one folder. Its message carries
// account and folder as its one prefix ("work/INBOX: SELECT ...").
type FolderError struct {
	Account, Folder string
	Err             error
}

func (e *FolderError) Error() string { return e.Account + "/" + e.Folder + ": " + e.Err.Error() }
func (e *FolderError) Unwrap() error { return e.Err }

// The safety stops: a folder or account that stopped with nothing changed
// because going on could lose mail. errors.Is finds them through
// FolderError and AccountError; the daemon and `mailsync status` tell
// them from passing failures that way.
var (
	// ErrMassDelete: a sync would delete more than half of a folder.
	ErrMassDelete = errors.New("refusing a mass deletion")
	// ErrUIDValidity: the server renumbered a folder and the messages could
	// not all be matched again.
	ErrUIDValidity = errors.New("UIDVALIDITY changed")
	// ErrVanished: a folder synced before is gone from one side.
	ErrVanished = errors.New("synced folder vanished")
	// ErrUnmounted: the local root is missing or empty while the state
	// records mail, as when a disk is not mounted.
	ErrUnmounted = errors.New("local root missing or empty")
	// ErrFolderNames: a local folder is named in modified UTF-7 for a
	// server folder, while folder_names says names are UTF-8.
	ErrFolderNames = errors.New("folder name encoding")
)

// stopError is a safety stop whose message reads on its own; errors.Is
// matches it to its kind.
type stopError struct {
	kind error
	msg  string
}

func safetyStop(kind error, format string, args ...any) error {
	return &stopError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (e *stopError) Error() string        { return e.msg }
func (e *stopError) Is(target error) bool { return target == e.kind }
