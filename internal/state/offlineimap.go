package state

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
)

// OfflineimapStatus reads one folder's status database of offlineimap
// (LocalStatus-sqlite/FOLDER: table status(id, flags, mtime, labels)): the
// flags offlineimap last saw on both sides, by server UID. The database is
// opened read-only, so that offlineimap can take the Maildir back.
func OfflineimapStatus(ctx context.Context, path string) (map[uint32]string, error) {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT id, flags FROM status")
	if err != nil {
		return nil, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	defer rows.Close()
	out := make(map[uint32]string)
	for rows.Next() {
		var id int64
		var flags sql.NullString
		if err := rows.Scan(&id, &flags); err != nil {
			return nil, fmt.Errorf("offlineimap status %s: %w", path, err)
		}
		if id <= 0 || id > 1<<32-1 {
			continue // not a UID offlineimap could have seen
		}
		out[uint32(id)] = flags.String
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	return out, nil
}
