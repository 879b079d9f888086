package state

import (
	"context"
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// A migration moves a database one version up: its SQL, then, where the
// new columns need values SQL can't compute, a function in the same
// transaction.
type migration struct {
	sql  string
	fill func(ctx context.Context, tx *sql.Tx) error
}

// migrations[i] moves a database from version i to i+1.
func migrations() []migration {
	return []migration{
		{sql: `CREATE TABLE folders (
			id            INTEGER PRIMARY KEY,
			name          TEXT NOT NULL UNIQUE, -- canonical remote name, '/'-separated
			local_name    TEXT NOT NULL,
			uidvalidity   INTEGER NOT NULL DEFAULT 0,
			uidnext       INTEGER NOT NULL DEFAULT 0,
			highestmodseq INTEGER NOT NULL DEFAULT 0,
			messages      INTEGER NOT NULL DEFAULT 0, -- server count after the last sync
			cur_mtime     INTEGER NOT NULL DEFAULT 0, -- local cur/ mtime after the last sync (ns)
			new_mtime     INTEGER NOT NULL DEFAULT 0
		);
		CREATE TABLE messages (
			id         INTEGER PRIMARY KEY,
			folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
			uid        INTEGER NOT NULL, -- 0: no server copy (a server deletion was not propagated)
			key        TEXT NOT NULL,    -- '': no local copy (a local deletion was not propagated)
			flags      TEXT NOT NULL,    -- agreed Maildir flag letters, sorted
			size       INTEGER NOT NULL DEFAULT 0, -- RFC822.SIZE
			message_id TEXT NOT NULL DEFAULT ''
		);
		CREATE UNIQUE INDEX messages_uid ON messages(folder_id, uid) WHERE uid <> 0;
		CREATE UNIQUE INDEX messages_key ON messages(folder_id, key) WHERE key <> '';
		CREATE TABLE journal (
			id         INTEGER PRIMARY KEY,
			folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
			op         TEXT NOT NULL,    -- 'append'
			key        TEXT NOT NULL,
			message_id TEXT NOT NULL,
			size       INTEGER NOT NULL, -- literal size (CRLF)
			uidnext    INTEGER NOT NULL  -- server UIDNEXT before the APPEND: the UID it got is >= this
		);`},
		// 2: downloads are journaled too ('download' entries: the UIDs about
		// to be fetched, and the UIDVALIDITY they belong to), so a file
		// delivered by an interrupted run is recognised as ours.
		{sql: `ALTER TABLE journal ADD COLUMN uids TEXT NOT NULL DEFAULT '';
		ALTER TABLE journal ADD COLUMN uidvalidity INTEGER NOT NULL DEFAULT 0;`},
		// 3: reading one folder's pairs was a scan of every folder's rows
		// plus a sort (the UID and key indexes are partial, so they can't
		// serve "WHERE folder_id = ?"); this index serves both.
		{sql: `CREATE INDEX messages_folder ON messages(folder_id, uid);`},
		// 4: the folder's name on the server as last synced, so the next run
		// can ask for its status before it has listed the folders.
		{sql: `ALTER TABLE folders ADD COLUMN remote_name TEXT NOT NULL DEFAULT '';`},
		// 5: each folder's digest of its pairs' keys and flags, and each
		// pair's digest bucket (-1: no local copy), so a changed local folder
		// is compared with the state without reading every row (see Digest).
		{sql: `ALTER TABLE folders ADD COLUMN digest BLOB; -- NULL: no pairs yet
		ALTER TABLE messages ADD COLUMN bucket INTEGER NOT NULL DEFAULT -1;
		CREATE INDEX messages_bucket ON messages(folder_id, bucket);`, fill: fillDigests},
		// 6: when the folder was first recorded and when both sides were
		// last compared in full (unix seconds; 0: never), so that a full
		// sync repairs, now and then, a difference the shortcuts can't see.
		{sql: `ALTER TABLE folders ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE folders ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;`},
	}
}

// fillDigests computes every folder's digest and every pair's bucket.
func fillDigests(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, folder_id, key, flags FROM messages WHERE key <> ''")
	if err != nil {
		return err
	}
	type pair struct {
		id, folder int64
		key, flags string
	}
	var pairs []pair
	for rows.Next() {
		var p pair
		if err := rows.Scan(&p.id, &p.folder, &p.key, &p.flags); err != nil {
			rows.Close()
			return err
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	digests := make(map[int64]*Digest)
	for _, p := range pairs {
		if _, err := tx.ExecContext(ctx, "UPDATE messages SET bucket = ? WHERE id = ?", Bucket(p.key), p.id); err != nil {
			return err
		}
		if digests[p.folder] == nil {
			digests[p.folder] = new(Digest)
		}
		digests[p.folder].Add(p.key, p.flags)
	}
	for id, d := range digests {
		if _, err := tx.ExecContext(ctx, "UPDATE folders SET digest = ? WHERE id = ?", d.marshal(), id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	ms := migrations()
	if v > len(ms) {
		return fmt.Errorf("schema version %d is newer than this mailsync understands (%d); upgrade mailsync", v, len(ms))
	}
	for v < len(ms) {
		// The version is read again under the write lock (_txlock is
		// immediate): another process opening the same file may have
		// migrated it meanwhile.
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			tx.Rollback()
			return err
		}
		if v >= len(ms) {
			tx.Rollback()
			break
		}
		if _, err := tx.ExecContext(ctx, ms[v].sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		if ms[v].fill != nil {
			if err := ms[v].fill(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		v++
	}
	return nil
}
