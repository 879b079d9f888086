package main

import (
	"errors"
	"testing"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/control"
	msync "mailsync/sync"
)

func TestExitCode(t *testing.T) {
	ok := accounts.Result{Account: "a", Summary: &msync.Summary{}}
	folderFail := accounts.Result{Account: "b", Summary: &msync.Summary{Errors: []error{errors.New("INBOX: x")}}}
	accountFail := accounts.Result{Account: "c", Err: errors.New("connect")}
	locked := accounts.Result{Account: "d", Err: errors.New("locked"), Locked: true}
	stopped := accounts.Result{Account: "e", Summary: &msync.Summary{Stopped: true}}
	configFail := accounts.Result{Account: "f", Err: &msync.AccountError{Account: "f",
		Err: &config.Error{File: "c.toml", Line: 9, Key: "accounts.f.remote.password_command", Msg: "command failed"}}}
	forwardedFail := accounts.Result{Account: "g", Forwarded: &control.Result{Account: "g", Failed: true}}
	tests := []struct {
		name string
		rs   []accounts.Result
		want int
	}{
		{"nothing to do", nil, exitOK},
		{"all synced", []accounts.Result{ok, ok}, exitOK},
		{"stopped early by request is not a failure", []accounts.Result{ok, stopped}, exitOK},
		{"a folder failed", []accounts.Result{ok, folderFail}, exitFailed},
		{"an account failed", []accounts.Result{accountFail, ok}, exitFailed},
		{"locked", []accounts.Result{ok, locked}, exitLocked},
		{"failure beats lock", []accounts.Result{locked, folderFail}, exitFailed},
		{"a password source failed", []accounts.Result{ok, configFail}, exitUsage},
		{"config error beats failure", []accounts.Result{folderFail, configFail, locked}, exitUsage},
		{"a daemon's failure", []accounts.Result{ok, forwardedFail}, exitFailed},
		{"a daemon's config error", []accounts.Result{ok, {Account: "h", Forwarded: &control.Result{Failed: true, Kind: control.KindConfig}}}, exitUsage},
	}
	for _, tt := range tests {
		if got := exitCode(tt.rs); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}
