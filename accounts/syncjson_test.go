package accounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"mailsync/internal/control"
	msync "mailsync/sync"
)

func TestSyncDocument(t *testing.T) {
	stop := &msync.FolderError{Account: "w", Folder: "Big", Err: fmt.Errorf("refusing: %w", msync.ErrMassDelete)}
	rs := []Result{
		{Account: "w", Summary: &msync.Summary{Account: "w", Duration: 1500 * time.Millisecond,
			Counts: msync.Counts{Pulled: 3, Pushed: 1, FlagsUp: 2},
			Folders: []msync.FolderResult{
				{Folder: "Big", Err: stop},
				{Folder: "INBOX", Counts: msync.Counts{Pulled: 3, Pushed: 1, FlagsUp: 2}},
				{Folder: "Old", Unchanged: true},
			},
			Errors: []error{stop, &msync.FolderError{Account: "w", Folder: "Bad\x00", Err: errors.New("bad name")}}}},
		{Account: "l", Locked: true, Err: &msync.AccountError{Account: "l", Err: errors.New("locked by another mailsync")}},
		{Account: "d", Forwarded: &control.Result{Account: "d", Summary: "d: pulled 1, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors (0.1s)"}},
		{Account: "i", Summary: &msync.Summary{Account: "i", Interrupted: true, Folders: []msync.FolderResult{{Folder: "INBOX", Interrupted: true}}}},
	}
	got, err := json.MarshalIndent(NewSyncDocument(rs, 1), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "accounts": [
  {
   "name": "w",
   "ok": false,
   "locked": false,
   "forwarded": false,
   "dry_run": false,
   "interrupted": false,
   "stopped": false,
   "counts": {
    "pulled": 3,
    "pushed": 1,
    "flags_down": 0,
    "flags_up": 2,
    "deleted_down": 0,
    "deleted_up": 0,
    "skipped": 0
   },
   "seconds": 1.5,
   "summary": "w: pulled 3, pushed 1, flags 0↓ 2↑, deleted 0↓ 0↑, 2 errors (1.5s)",
   "folders": [
    {
     "name": "Big",
     "counts": {
      "pulled": 0,
      "pushed": 0,
      "flags_down": 0,
      "flags_up": 0,
      "deleted_down": 0,
      "deleted_up": 0,
      "skipped": 0
     },
     "unchanged": false,
     "interrupted": false,
     "error": "w/Big: refusing: refusing a mass deletion",
     "stop": "mass-delete"
    },
    {
     "name": "INBOX",
     "counts": {
      "pulled": 3,
      "pushed": 1,
      "flags_down": 0,
      "flags_up": 2,
      "deleted_down": 0,
      "deleted_up": 0,
      "skipped": 0
     },
     "unchanged": false,
     "interrupted": false
    },
    {
     "name": "Old",
     "counts": {
      "pulled": 0,
      "pushed": 0,
      "flags_down": 0,
      "flags_up": 0,
      "deleted_down": 0,
      "deleted_up": 0,
      "skipped": 0
     },
     "unchanged": true,
     "interrupted": false
    },
    {
     "name": "Bad\u0000",
     "counts": {
      "pulled": 0,
      "pushed": 0,
      "flags_down": 0,
      "flags_up": 0,
      "deleted_down": 0,
      "deleted_up": 0,
      "skipped": 0
     },
     "unchanged": false,
     "interrupted": false,
     "error": "w/Bad\u0000: bad name"
    }
   ]
  },
  {
   "name": "l",
   "ok": false,
   "locked": true,
   "forwarded": false,
   "dry_run": false,
   "interrupted": false,
   "stopped": false,
   "counts": null,
   "seconds": 0,
   "summary": "",
   "error": "l: locked by another mailsync",
   "folders": []
  },
  {
   "name": "d",
   "ok": true,
   "locked": false,
   "forwarded": true,
   "dry_run": false,
   "interrupted": false,
   "stopped": false,
   "counts": null,
   "seconds": 0,
   "summary": "d: pulled 1, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors (0.1s)",
   "folders": []
  },
  {
   "name": "i",
   "ok": true,
   "locked": false,
   "forwarded": false,
   "dry_run": false,
   "interrupted": true,
   "stopped": false,
   "counts": {
    "pulled": 0,
    "pushed": 0,
    "flags_down": 0,
    "flags_up": 0,
    "deleted_down": 0,
    "deleted_up": 0,
    "skipped": 0
   },
   "seconds": 0,
   "summary": "i: pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors, interrupted (0.0s)",
   "folders": [
    {
     "name": "INBOX",
     "counts": {
      "pulled": 0,
      "pushed": 0,
      "flags_down": 0,
      "flags_up": 0,
      "deleted_down": 0,
      "deleted_up": 0,
      "skipped": 0
     },
     "unchanged": false,
     "interrupted": true
    }
   ]
  }
 ],
 "exit_code": 1
}`
	if string(got) != want {
		t.Errorf("got\n%s", got)
	}
}
