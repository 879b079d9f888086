package state

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Run is the record of an account's last sync, for `mailsync status`.
type Run struct {
	Started, Finished time.Time
	Mode              string // full, quick, idle, local
	Result            string // ok, error
	Error             string
	Stop              string    // the account's safety stop, "" if none
	LastOK            time.Time // the end of the last sync that was ok; zero if none
}

// FolderRun is one folder's outcome in a sync.
type FolderRun struct {
	Name   string // canonical remote name
	Result string // ok, error
	Error  string
	Stop   string // the folder's safety stop, "" if none
}

// RecordRun records an account's sync and its folders' outcomes, all at
// the time r.Finished. With prune, the sync covered every folder, and the
// records of folders it did not mention are dropped: they are gone from
// both sides. LastOK is kept from the previous record unless r is ok.
func (s *Store) RecordRun(ctx context.Context, r Run, folders []FolderRun, prune bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	lastOK := int64(0)
	if r.Result == "ok" {
		lastOK = r.Finished.UnixNano()
	} else if err := tx.QueryRowContext(ctx, "SELECT last_ok FROM last_sync WHERE id = 1").Scan(&lastOK); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO last_sync(id, started, finished, mode, result, error, stop, last_ok)
		VALUES(1, ?, ?, ?, ?, ?, ?, ?)`,
		r.Started.UnixNano(), r.Finished.UnixNano(), r.Mode, r.Result, r.Error, r.Stop, lastOK); err != nil {
		return err
	}
	if prune {
		if _, err := tx.ExecContext(ctx, "DELETE FROM folder_sync"); err != nil {
			return err
		}
	}
	for _, f := range folders {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO folder_sync(name, finished, result, error, stop)
			VALUES(?, ?, ?, ?, ?)`, f.Name, r.Finished.UnixNano(), f.Result, f.Error, f.Stop); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// LastRun returns the record of the account's last sync; ok is false if
// none was recorded.
func (s *Store) LastRun(ctx context.Context) (r Run, ok bool, err error) {
	var started, finished, lastOK int64
	err = s.db.QueryRowContext(ctx, "SELECT started, finished, mode, result, error, stop, last_ok FROM last_sync WHERE id = 1").
		Scan(&started, &finished, &r.Mode, &r.Result, &r.Error, &r.Stop, &lastOK)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	r.Started, r.Finished = time.Unix(0, started), time.Unix(0, finished)
	if lastOK != 0 {
		r.LastOK = time.Unix(0, lastOK)
	}
	return r, true, nil
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
	rows, err := s.db.QueryContext(ctx, `
		WITH names(name) AS (SELECT name FROM folders UNION SELECT name FROM folder_sync)
		SELECT n.name, coalesce(fs.finished, 0), coalesce(fs.result, ''), coalesce(fs.error, ''), coalesce(fs.stop, ''),
			(SELECT count(*) FROM messages m JOIN folders f ON m.folder_id = f.id WHERE f.name = n.name AND m.key <> '')
		FROM names n LEFT JOIN folder_sync fs ON fs.name = n.name
		ORDER BY n.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FolderStatus
	for rows.Next() {
		var f FolderStatus
		var finished int64
		if err := rows.Scan(&f.Name, &finished, &f.Result, &f.Error, &f.Stop, &f.Messages); err != nil {
			return nil, err
		}
		if finished != 0 {
			f.LastSync = time.Unix(0, finished)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
