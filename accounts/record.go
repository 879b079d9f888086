package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"

	"mailsync/internal/state"
	msync "mailsync/sync"
)

func mkdirState(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state_dir: %w", err)
	}
	return nil
}

// StopKind names the safety stop in err ("uidvalidity", "mass-delete",
// "vanished", "unmounted", "folder-names"), or "" if err is not one.
func StopKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, msync.ErrUIDValidity):
		return "uidvalidity"
	case errors.Is(err, msync.ErrMassDelete):
		return "mass-delete"
	case errors.Is(err, msync.ErrVanished):
		return "vanished"
	case errors.Is(err, msync.ErrUnmounted):
		return "unmounted"
	case errors.Is(err, msync.ErrFolderNames):
		return "folder-names"
	}
	return ""
}

// bareMessage is err's message without the account prefix, which a
// record kept per account does not need.
func bareMessage(err error) string {
	var ae *msync.AccountError
	if errors.As(err, &ae) {
		return ae.Err.Error()
	}
	var fe *msync.FolderError
	if errors.As(err, &fe) {
		return fe.Err.Error()
	}
	return err.Error()
}

// record keeps the cycle's outcome in the state for `mailsync status`. A
// failure to record is logged, not returned: the sync itself is done.
func (a *Account) record(ctx context.Context, c Cycle, res Result) {
	run := state.Run{Started: res.Started, Finished: res.Finished, Mode: string(c.Mode), Result: "ok"}
	if res.Failed() {
		run.Result = "error"
		errs := res.Errors()
		var fe *msync.FolderError
		if errors.As(errs[0], &fe) {
			run.Error = fe.Folder + ": " + fe.Err.Error()
		} else {
			run.Error = bareMessage(errs[0])
		}
		if len(errs) > 1 {
			run.Error += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
	}
	if res.Err != nil {
		run.Stop = StopKind(res.Err)
	}
	var folders []state.FolderRun
	seen := map[string]bool{}
	if sum := res.Summary; sum != nil {
		for _, f := range sum.Folders {
			seen[f.Folder] = true
			fr := state.FolderRun{Name: f.Folder, Result: "ok"}
			if f.Err != nil {
				fr.Result, fr.Error, fr.Stop = "error", bareMessage(f.Err), StopKind(f.Err)
			}
			folders = append(folders, fr)
		}
		// Folders that failed before their sync began (while they were
		// planned) have an error but no result.
		for _, err := range sum.Errors {
			var fe *msync.FolderError
			if errors.As(err, &fe) && !seen[fe.Folder] {
				seen[fe.Folder] = true
				folders = append(folders, state.FolderRun{Name: fe.Folder, Result: "error", Error: fe.Err.Error(), Stop: StopKind(err)})
			}
		}
	}
	// A cycle over every folder that ran to its end saw every folder
	// there is; the records of the others are stale.
	complete := len(c.Request.Folders) == 0 && res.Err == nil && res.Summary != nil && !res.Summary.Stopped && ctx.Err() == nil
	store, err := a.Store(context.WithoutCancel(ctx))
	if err == nil {
		err = store.RecordRun(context.WithoutCancel(ctx), run, folders, complete)
	}
	if err != nil {
		a.log.Warn().Err(err).Msg("recording the sync for mailsync status")
	}
}
