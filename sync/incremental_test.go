package sync

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

func TestFindRecorded(t *testing.T) {
	md5 := maildir.FolderMD5("INBOX")
	tests := []struct {
		name  string
		file  string // relative to the folder; "" for none
		row   state.Message
		found bool
	}{
		{"seen, in cur", "cur/k1,U=7,FMD5=" + md5 + ":2,S", state.Message{Key: "k1", UID: 7, Flags: "S"}, true},
		{"unseen, in new without info", "new/k2,U=8,FMD5=" + md5, state.Message{Key: "k2", UID: 8}, true},
		{"flagged unseen, in new with info", "new/k3,U=9,FMD5=" + md5 + ":2,F", state.Message{Key: "k3", UID: 9, Flags: "F"}, true},
		{"unseen, moved to cur by a client", "cur/k4,U=10,FMD5=" + md5 + ":2,", state.Message{Key: "k4", UID: 10}, true},
		{"flags differ from the state", "cur/k5,U=11,FMD5=" + md5 + ":2,FS", state.Message{Key: "k5", UID: 11, Flags: "S"}, false},
		{"extra fields (Dovecot S=)", "cur/k6,S=120,U=12,FMD5=" + md5 + ":2,S", state.Message{Key: "k6", UID: 12, Flags: "S"}, false},
		{"keywords", "cur/k7,U=13,FMD5=" + md5 + ":2,Sa", state.Message{Key: "k7", UID: 13, Flags: "S"}, false},
		{"other folder's FMD5", "cur/k8,U=14,FMD5=" + maildir.FolderMD5("Sent") + ":2,S", state.Message{Key: "k8", UID: 14, Flags: "S"}, false},
		{"gone", "", state.Message{Key: "k9", UID: 15, Flags: "S"}, false},
	}
	dir := t.TempDir()
	mf := &maildir.Folder{Dir: dir}
	if err := mf.Create(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		if tc.file != "" {
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs := &folderSync{t: folderTask{dir: dir}, md5: md5}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, found := fs.findRecorded(tc.row)
			if found != tc.found {
				t.Fatalf("found = %v, want %v (entry %+v)", found, tc.found, e)
			}
			if found && string(e.Sub)+"/"+e.File != tc.file {
				t.Errorf("entry %s/%s, want %s", e.Sub, e.File, tc.file)
			}
		})
	}
}

func TestUIDDiff(t *testing.T) {
	tests := []struct {
		a, b, onlyA, onlyB []uint32
	}{
		{nil, nil, nil, nil},
		{[]uint32{1, 2, 3}, []uint32{1, 2, 3}, nil, nil},
		{[]uint32{1, 2, 3}, []uint32{2, 3, 4, 5}, []uint32{1}, []uint32{4, 5}},
		{[]uint32{1, 5, 9}, nil, []uint32{1, 5, 9}, nil},
		{nil, []uint32{4}, nil, []uint32{4}},
		{[]uint32{2, 4, 6}, []uint32{1, 3, 5, 6}, []uint32{2, 4}, []uint32{1, 3, 5}},
	}
	for _, tc := range tests {
		a, b := uidDiff(tc.a, tc.b)
		if !slices.Equal(a, tc.onlyA) || !slices.Equal(b, tc.onlyB) {
			t.Errorf("uidDiff(%v, %v) = %v, %v; want %v, %v", tc.a, tc.b, a, b, tc.onlyA, tc.onlyB)
		}
	}
}

// TestOnlyArrivals: the counts vouch for "only arrivals" exactly when no
// message of the last sync went and every UID handed out since is there.
// Every history of up to five arrivals and expunges on a three-message
// folder is played, and the claim is checked against the UIDs themselves.
func TestOnlyArrivals(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   state.Folder
		srv  remote.Status
		want bool
	}{
		{"nothing changed", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 10, Messages: 5}, true},
		{"two arrived", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 12, Messages: 7}, true},
		{"two arrived, one went", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 12, Messages: 6}, false},
		{"one went", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 10, Messages: 4}, false},
		{"UIDNEXT went back", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 9, Messages: 4}, false},
		{"more messages than UIDs handed out", state.Folder{UIDNext: 10, Messages: 5}, remote.Status{UIDNext: 11, Messages: 7}, false},
	} {
		if got := onlyArrivals(tc.st, tc.srv); got != tc.want {
			t.Errorf("%s: onlyArrivals = %v, want %v", tc.name, got, tc.want)
		}
	}

	// ops: 'a' appends a message; '0'..'9' expunges the message at that
	// position, if there is one.
	var play func(ops string)
	checked := 0
	play = func(ops string) {
		box := []uint32{1, 2, 3}
		next := uint32(4)
		for _, op := range ops {
			if op == 'a' {
				box = append(box, next)
				next++
			} else if i := int(op - '0'); i < len(box) {
				box = slices.Delete(box, i, i+1)
			}
		}
		st := state.Folder{UIDNext: 4, Messages: 3}
		srv := remote.Status{UIDNext: next, Messages: uint32(len(box))}
		truth := true
		for u := uint32(1); u < next; u++ {
			if !slices.Contains(box, u) {
				truth = false // an old message went, or a new one did
			}
		}
		if got := onlyArrivals(st, srv); got != truth {
			t.Errorf("history %q (box %v): onlyArrivals = %v, want %v", ops, box, got, truth)
		}
		checked++
		if len(ops) < 5 {
			for _, op := range "a01234567" {
				play(ops + string(op))
			}
		}
	}
	play("")
	if checked < 1000 {
		t.Fatalf("only %d histories played", checked)
	}
}

// TestSnapshot: a listing counts as a snapshot only when it was stable and
// the directory times read before it are unchanged and were already a second
// old when they were read; otherwise files missing from it get a second
// look before deletion.
func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	mf := &maildir.Folder{Dir: dir}
	if err := mf.Create(); err != nil {
		t.Fatal(err)
	}
	// An hour back, so that the change below moves the time on any clock.
	past := time.Now().Add(-time.Hour)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(dir, sub), past, past); err != nil {
			t.Fatal(err)
		}
	}
	cur, nw, err := mf.DirTimes()
	if err != nil {
		t.Fatal(err)
	}
	// The clock of the check is far ahead: only the time of the read counts.
	fs := &folderSync{e: &Engine{opts: Options{Now: func() time.Time { return past.Add(time.Hour) }}}, mf: mf}
	if fs.snapshot(cur, nw, past.Add(2*time.Second), false) {
		t.Error("an unstable listing counted as a snapshot")
	}
	// Times read half a second after the last change: a change during the
	// listing could have left them as they were (one-second timestamps),
	// however long ago that read is when the check runs.
	if fs.snapshot(cur, nw, past.Add(500*time.Millisecond), true) {
		t.Error("directory times younger than a second when read counted as a snapshot")
	}
	if !fs.snapshot(cur, nw, past.Add(2*time.Second), true) {
		t.Error("old, unchanged directory times did not count as a snapshot")
	}
	if err := os.WriteFile(filepath.Join(dir, "new", "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fs.snapshot(cur, nw, past.Add(2*time.Second), true) {
		t.Error("a folder changed after the listing counted as a snapshot")
	}
}

func TestTrustedTimes(t *testing.T) {
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		cur    time.Time
		nw     time.Time
		readAt time.Time
		want   bool
	}{
		{"both a second older than the read", base, base, base.Add(1001 * time.Millisecond), true},
		{"cur too recent", base.Add(500 * time.Millisecond), base, base.Add(time.Second), false},
		{"new too recent", base, base.Add(500 * time.Millisecond), base.Add(time.Second), false},
		{"exactly a second", base, base, base.Add(time.Second), false},
	}
	for _, tc := range tests {
		c, n := trustedTimes(tc.cur.UnixNano(), tc.nw.UnixNano(), tc.readAt)
		if got := c != 0 && n != 0; got != tc.want {
			t.Errorf("%s: trusted = %v, want %v", tc.name, got, tc.want)
		}
		if !tc.want && (c != 0 || n != 0) {
			t.Errorf("%s: untrusted times must both be 0, got %d, %d", tc.name, c, n)
		}
	}
}
