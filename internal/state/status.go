package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Run is the record of an account's last sync, for `mailsync status`.
type Run struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Mode     string    `json:"mode"`   // full, quick, idle, local
	Result   string    `json:"result"` // ok, error
	Error    string    `json:"error,omitempty"`
	Stop     string    `json:"stop,omitempty"` // the account's safety stop, "" if none
	// LastOK is the end of the last sync that was ok; zero if none.
	LastOK time.Time `json:"last_ok"`
}

// FolderRun is one folder's outcome in a sync.
type FolderRun struct {
	Name     string    `json:"name"` // canonical remote name
	Finished time.Time `json:"finished"`
	Result   string    `json:"result"` // ok, error
	Error    string    `json:"error,omitempty"`
	Stop     string    `json:"stop,omitempty"` // the folder's safety stop, "" if none
}

// record is the status file's content.
type record struct {
	Run     *Run        `json:"run"`
	Folders []FolderRun `json:"folders"`
}

// The record of the last sync is kept in a small file beside the
// database, NAME.status, not in it: a sync that changed nothing then
// writes nothing to the database, which therefore needs no checkpoint,
// with its fsyncs, when it closes (1-2 ms of a 12 ms no-op).
//
// The file is rewritten in place, not replaced by a rename: on ext4 a
// rename over an existing file starts the new file's writeback at once
// (auto_da_alloc), 0.3 ms here. Instead its first line carries the length
// and CRC-32 of the JSON that follows, and a reader that finds them wrong
// (a write in progress, or one a crash cut short) reads again, then takes
// the record as missing. It is not fsynced: a lost record loses nothing
// but what status shows until the next sync.
func (s *Store) statusPath() string { return strings.TrimSuffix(s.path, ".db") + ".status" }

// statusMagic starts the status file's header line.
const statusMagic = "mailsync-status 1"

// errDamaged marks a status file whose checksum or content is wrong.
var errDamaged = errors.New("incomplete or damaged")

// readRecord reads the record; a missing or damaged one (after a few
// tries, in case a write is under way) is an empty record.
func (s *Store) readRecord() (record, error) {
	for try := 0; ; try++ {
		rec, err := readRecordFile(s.statusPath())
		switch {
		case err == nil, errors.Is(err, os.ErrNotExist):
			return rec, nil
		case !errors.Is(err, errDamaged):
			return record{}, err
		case try == 3:
			return record{}, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readRecordFile(path string) (record, error) {
	var rec record
	data, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	head, body, _ := strings.Cut(string(data), "\n")
	var n int
	var sum uint32
	if _, err := fmt.Sscanf(head, statusMagic+" %d %08x", &n, &sum); err != nil || n != len(body) || crc32.ChecksumIEEE([]byte(body)) != sum {
		return rec, fmt.Errorf("%s: %w", path, errDamaged)
	}
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		return record{}, fmt.Errorf("%s: %w: %v", path, errDamaged, err)
	}
	return rec, nil
}

// RecordRun records an account's sync and its folders' outcomes, all at
// the time r.Finished. With prune, the sync covered every folder, and the
// records of folders it did not mention are dropped: they are gone from
// both sides. LastOK is kept from the previous record unless r is ok. The
// caller holds the account's lock.
func (s *Store) RecordRun(ctx context.Context, r Run, folders []FolderRun, prune bool) error {
	var rec record
	ok := r.Result == "ok"
	if !ok || !prune {
		// The old record is needed for what this one does not replace.
		// A damaged one is replaced whole: it only feeds status.
		rec, _ = s.readRecord()
	}
	if ok {
		r.LastOK = r.Finished
	} else if rec.Run != nil {
		r.LastOK = rec.Run.LastOK
	}
	rec.Run = &r
	byName := map[string]FolderRun{}
	if !prune {
		for _, f := range rec.Folders {
			byName[f.Name] = f
		}
	}
	for _, f := range folders {
		f.Finished = r.Finished
		byName[f.Name] = f
	}
	rec.Folders = rec.Folders[:0]
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		rec.Folders = append(rec.Folders, byName[name])
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	out := fmt.Appendf(nil, "%s %d %08x\n", statusMagic, len(data), crc32.ChecksumIEEE(data))
	out = append(out, data...)
	f, err := os.OpenFile(s.statusPath(), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.WriteAt(out, 0); err == nil {
		err = f.Truncate(int64(len(out)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LastRun returns the record of the account's last sync; ok is false if
// none was recorded.
func (s *Store) LastRun(ctx context.Context) (r Run, ok bool, err error) {
	rec, err := s.readRecord()
	if err != nil || rec.Run == nil {
		return Run{}, false, err
	}
	return *rec.Run, true, nil
}

// FolderStatus is what `mailsync status` shows of one folder.
type FolderStatus struct {
	Name     string
	LastSync time.Time // zero: no sync of it was recorded
	Result   string    // ok, error; "" when LastSync is zero
	Error    string
	Stop     string
	Messages int // pairs with a local copy, as of the last sync
}

// FolderStatuses returns every folder that is recorded in the state or
// had an outcome recorded, by name.
func (s *Store) FolderStatuses(ctx context.Context) ([]FolderStatus, error) {
	rec, err := s.readRecord()
	if err != nil {
		return nil, err
	}
	byName := map[string]*FolderStatus{}
	for _, f := range rec.Folders {
		byName[f.Name] = &FolderStatus{Name: f.Name, LastSync: f.Finished, Result: f.Result, Error: f.Error, Stop: f.Stop}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT f.name, (SELECT count(*) FROM messages m WHERE m.folder_id = f.id AND m.key <> '')
		FROM folders f`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		if byName[name] == nil {
			byName[name] = &FolderStatus{Name: name}
		}
		byName[name].Messages = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]FolderStatus, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, *byName[name])
	}
	return out, nil
}
