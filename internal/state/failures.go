package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"mailsync/internal/lock"
	"mailsync/internal/safeio"
)

// UnitFailure is a systemd unit of mailsync that failed, as the OnFailure=
// handler (`mailsync failure-report`) recorded it for `mailsync status`.
type UnitFailure struct {
	Unit    string    `json:"unit"`
	Account string    `json:"account,omitempty"` // "" for a unit of every account
	Time    time.Time `json:"time"`
	Result  string    `json:"result,omitempty"` // systemd's Result: exit-code, watchdog, …
	Status  int       `json:"status,omitempty"` // the main process's exit status
}

// failuresFile holds the last failure of each unit, in the state
// directory: it belongs to no account's database.
func failuresFile(stateDir string) string { return filepath.Join(stateDir, "unit-failures.json") }

// RecordUnitFailure records f, replacing an earlier failure of its unit.
// Reports of two units that fail together take turns (a lock beside the
// file), so that neither's record is lost.
func RecordUnitFailure(stateDir string, f UnitFailure) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	var l *lock.Lock
	var err error
	for try := 0; ; try++ {
		l, err = lock.TryAcquire(failuresFile(stateDir) + ".lock")
		if err == nil || !errors.Is(err, lock.ErrHeld) || try == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer l.Release()
	all, err := UnitFailures(stateDir)
	if err != nil {
		all = nil // a damaged file is replaced
	}
	kept := all[:0]
	for _, o := range all {
		if o.Unit != f.Unit {
			kept = append(kept, o)
		}
	}
	kept = append(kept, f)
	sort.Slice(kept, func(i, j int) bool { return kept[i].Unit < kept[j].Unit })
	data, err := json.MarshalIndent(kept, "", "  ")
	if err != nil {
		return err
	}
	return safeio.WriteFile(failuresFile(stateDir), append(data, '\n'), 0o600)
}

// UnitFailures returns the recorded unit failures, by unit name.
func UnitFailures(stateDir string) ([]UnitFailure, error) {
	data, err := os.ReadFile(failuresFile(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []UnitFailure
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}
