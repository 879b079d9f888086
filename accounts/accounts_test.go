package accounts

import (
	"errors"
	"testing"

	msync "mailsync/sync"
)

func TestExitCode(t *testing.T) {
	ok := Result{Account: "a", Summary: &msync.Summary{}}
	folderFail := Result{Account: "b", Summary: &msync.Summary{Errors: []error{errors.New("INBOX: x")}}}
	accountFail := Result{Account: "c", Err: errors.New("connect")}
	locked := Result{Account: "d", Err: errors.New("locked"), Locked: true}
	stopped := Result{Account: "e", Summary: &msync.Summary{Stopped: true}}
	tests := []struct {
		name string
		rs   []Result
		want int
	}{
		{"nothing to do", nil, ExitOK},
		{"all synced", []Result{ok, ok}, ExitOK},
		{"stopped early by request is not a failure", []Result{ok, stopped}, ExitOK},
		{"a folder failed", []Result{ok, folderFail}, ExitFailed},
		{"an account failed", []Result{accountFail, ok}, ExitFailed},
		{"locked", []Result{ok, locked}, ExitLocked},
		{"failure beats lock", []Result{locked, folderFail}, ExitFailed},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.rs); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}
