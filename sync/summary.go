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
}

// Summary is the outcome of one account run.
type Summary struct {
	Account  string
	Counts   Counts
	Folders  []FolderResult
	Errors   []error
	Stopped  bool // a finish-then-stop request left folders unsynced
	Duration time.Duration
}

// Line is the one-line account summary printed after each run.
func (s *Summary) Line() string {
	c := s.Counts
	var b strings.Builder
	errs := "errors"
	if len(s.Errors) == 1 {
		errs = "error"
	}
	fmt.Fprintf(&b, "%s: pulled %d, pushed %d, flags %d↓ %d↑, deleted %d↓ %d↑, %d %s", s.Account,
		c.Pulled, c.Pushed, c.FlagsDown, c.FlagsUp, c.DeletedDown, c.DeletedUp, len(s.Errors), errs)
	if c.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", c.Skipped)
	}
	if s.Stopped {
		b.WriteString(", stopped early")
	}
	fmt.Fprintf(&b, " (%.1fs)", s.Duration.Seconds())
	return b.String()
}

// FolderError is a failure confined to one folder.
type FolderError struct {
	Account, Folder string
	Err             error
}

func (e *FolderError) Error() string { return e.Account + "/" + e.Folder + ": " + e.Err.Error() }
func (e *FolderError) Unwrap() error { return e.Err }

// ErrMassDelete marks the stop before a large deletion.
var ErrMassDelete = errors.New("refusing a mass deletion")

// ErrUIDValidity marks a server reset that could not be reconciled.
var ErrUIDValidity = errors.New("UIDVALIDITY changed")
