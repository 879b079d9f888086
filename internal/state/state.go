// Package state is the sync state of one account: the common ancestor of the
// three-way merge. It records, per folder, what the server looked like at the
// end of the last sync and, per message, which server UID and which local file
// are the same message and which flags both sides agreed on.
//
// The store is a SQLite database in WAL mode (one file per account, readable
// with the sqlite3 tool). Every change is a transaction; callers write the
// journal entry for an upload before they perform it, so a crash between the
// two is recoverable.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the current schema; Open migrates older databases to it.
const SchemaVersion = 4

// migrations[i] moves a database from version i to i+1.
func migrations() []string {
	return []string{
		`CREATE TABLE folders (
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
		);`,
		// 2: downloads are journaled too ('download' entries: the UIDs about
		// to be fetched, and the UIDVALIDITY they belong to), so a file
		// delivered by an interrupted run is recognised as ours.
		`ALTER TABLE journal ADD COLUMN uids TEXT NOT NULL DEFAULT '';
		ALTER TABLE journal ADD COLUMN uidvalidity INTEGER NOT NULL DEFAULT 0;`,
		// 3: reading one folder's pairs was a scan of every folder's rows
		// plus a sort (the UID and key indexes are partial, so they can't
		// serve "WHERE folder_id = ?"); this index serves both.
		`CREATE INDEX messages_folder ON messages(folder_id, uid);`,
		// 4: the folder's name on the server as last synced, so the next run
		// can ask for its status before it has listed the folders.
		`ALTER TABLE folders ADD COLUMN remote_name TEXT NOT NULL DEFAULT '';`,
	}
}

// Store is an open state database.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the database at path and migrates it.
// fullSync selects synchronous=FULL, so a commit survives power loss.
func Open(ctx context.Context, path string, fullSync bool) (*Store, error) {
	syncMode := "NORMAL"
	if fullSync {
		syncMode = "FULL"
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this turns lock
	// contention between folder goroutines into queueing in database/sql.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return s, nil
}

func escapePath(p string) string {
	return strings.NewReplacer("?", "%3f", "#", "%23", "%", "%25").Replace(p)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	ms := migrations()
	if v > len(ms) {
		return fmt.Errorf("schema version %d is newer than this mailsync understands (%d); upgrade mailsync", v, len(ms))
	}
	for ; v < len(ms); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, ms[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Folder is a folder's recorded state.
type Folder struct {
	ID            int64
	Name          string // canonical remote name
	LocalName     string
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      uint32
	CurMtime      int64
	NewMtime      int64
	RemoteName    string // the server's name for it at the last sync ('' before schema 4)
}

// Message is one message pair.
type Message struct {
	ID        int64
	UID       uint32 // 0: no server copy
	Key       string // "": no local copy
	Flags     string
	Size      int64
	MessageID string
}

// Journal operations.
const (
	OpAppend   = "append"   // an upload about to start
	OpDownload = "download" // a batch of downloads about to start
)

// JournalEntry records a side effect that was about to start.
type JournalEntry struct {
	ID        int64
	Op        string
	Key       string // append: the local file's key
	MessageID string // append
	Size      int64  // append
	UIDNext   uint32 // append: server UIDNEXT before the APPEND
	// download: the UIDs being fetched (IMAP set syntax) and their UIDVALIDITY.
	UIDs        string
	UIDValidity uint32
}

const folderCols = "id, name, local_name, uidvalidity, uidnext, highestmodseq, messages, cur_mtime, new_mtime, remote_name"

func scanFolder(sc interface{ Scan(...any) error }) (Folder, error) {
	var f Folder
	err := sc.Scan(&f.ID, &f.Name, &f.LocalName, &f.UIDValidity, &f.UIDNext, &f.HighestModSeq, &f.Messages, &f.CurMtime, &f.NewMtime, &f.RemoteName)
	return f, err
}

// Folders returns all recorded folders.
func (s *Store) Folders(ctx context.Context) ([]Folder, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+folderCols+" FROM folders ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Folder returns the folder named name; ok is false if it is not recorded.
func (s *Store) Folder(ctx context.Context, name string) (f Folder, ok bool, err error) {
	f, err = scanFolder(s.db.QueryRowContext(ctx, "SELECT "+folderCols+" FROM folders WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return Folder{}, false, nil
	}
	return f, err == nil, err
}

// EnsureFolder returns the folder named name, recording it first if needed.
func (s *Store) EnsureFolder(ctx context.Context, name, localName string) (Folder, error) {
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO folders(name, local_name) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET local_name = excluded.local_name",
		name, localName); err != nil {
		return Folder{}, err
	}
	f, _, err := s.Folder(ctx, name)
	return f, err
}

// SetRemoteName records a folder's name on the server, for a folder whose
// record is otherwise up to date.
func (s *Store) SetRemoteName(ctx context.Context, id int64, name string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE folders SET remote_name = ? WHERE id = ?", name, id)
	return err
}

// MessageCount returns the number of recorded messages with a local copy,
// across all folders.
func (s *Store) MessageCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE key <> ''").Scan(&n)
	return n, err
}

const messagesQuery = "SELECT id, uid, key, flags, size, message_id FROM messages WHERE folder_id = ? ORDER BY uid"

// Messages returns the folder's message pairs.
func (s *Store) Messages(ctx context.Context, folderID int64) ([]Message, error) {
	return s.appendMessages(ctx, nil, true, messagesQuery, folderID)
}

// Pairs returns the folder's message pairs like Messages, without Size and
// MessageID, which only re-association and upload recovery read: a quarter
// faster and smaller, for comparing a listing with the state.
func (s *Store) Pairs(ctx context.Context, folderID int64) ([]Message, error) {
	return s.appendMessages(ctx, nil, false, pairsQuery, folderID)
}

const pairsQuery = "SELECT id, uid, key, flags FROM messages WHERE folder_id = ? ORDER BY uid"

// appendMessages appends the pairs a query returns to out. The query selects
// messagesQuery's columns when full is set, pairsQuery's otherwise.
func (s *Store) appendMessages(ctx context.Context, out []Message, full bool, query string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var m Message
	dest := []any{&m.ID, &m.UID, &m.Key, &m.Flags}
	if full {
		dest = append(dest, &m.Size, &m.MessageID)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UIDs returns the folder's recorded server UIDs, ascending, from the
// index alone.
func (s *Store) UIDs(ctx context.Context, folderID int64) ([]uint32, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT uid FROM messages WHERE folder_id = ? AND uid <> 0 ORDER BY uid", folderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// MessagesByUID returns the folder's pairs with the given server UIDs, in
// UID order; UIDs not recorded are left out.
func (s *Store) MessagesByUID(ctx context.Context, folderID int64, uids []uint32) ([]Message, error) {
	var out []Message
	const chunk = 500 // well under SQLite's limit on bound parameters
	for len(uids) > 0 {
		n := min(chunk, len(uids))
		args := make([]any, 0, n+1)
		args = append(args, folderID)
		for _, u := range uids[:n] {
			args = append(args, u)
		}
		q := "SELECT id, uid, key, flags, size, message_id FROM messages WHERE folder_id = ? AND uid IN (?" +
			strings.Repeat(", ?", n-1) + ") ORDER BY uid"
		var err error
		if out, err = s.appendMessages(ctx, out, true, q, args...); err != nil {
			return nil, err
		}
		uids = uids[n:]
	}
	return out, nil
}

// Journal returns the folder's unfinished uploads.
func (s *Store) Journal(ctx context.Context, folderID int64) ([]JournalEntry, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT id, op, key, message_id, size, uidnext, uids, uidvalidity FROM journal WHERE folder_id = ? ORDER BY id", folderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var j JournalEntry
		if err := rows.Scan(&j.ID, &j.Op, &j.Key, &j.MessageID, &j.Size, &j.UIDNext, &j.UIDs, &j.UIDValidity); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Tx is a batch of changes that commit together.
type Tx struct {
	tx       *sql.Tx
	ctx      context.Context
	folderID int64
	insert   *sql.Stmt // prepared on first use: batches insert hundreds of rows
}

// Begin starts a transaction for changes to one folder.
func (s *Store) Begin(ctx context.Context, folderID int64) (*Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, ctx: ctx, folderID: folderID}, nil
}

// Commit commits the batch.
func (t *Tx) Commit() error { return t.tx.Commit() }

// Rollback abandons the batch; it is safe after Commit.
func (t *Tx) Rollback() { _ = t.tx.Rollback() }

// Insert records a new message pair and returns its id.
func (t *Tx) Insert(m Message) (int64, error) {
	if t.insert == nil {
		st, err := t.tx.PrepareContext(t.ctx,
			"INSERT INTO messages(folder_id, uid, key, flags, size, message_id) VALUES(?, ?, ?, ?, ?, ?)")
		if err != nil {
			return 0, err
		}
		t.insert = st
	}
	r, err := t.insert.ExecContext(t.ctx, t.folderID, m.UID, m.Key, m.Flags, m.Size, m.MessageID)
	if err != nil {
		return 0, fmt.Errorf("recording uid %d / %s: %w", m.UID, m.Key, err)
	}
	return r.LastInsertId()
}

// Update records a pair's new UID, key and flags. Size and Message-ID
// describe the message itself and stay as recorded (rows read by Pairs
// don't carry them); see UpdateIdentity.
func (t *Tx) Update(m Message) error {
	_, err := t.tx.ExecContext(t.ctx,
		"UPDATE messages SET uid = ?, key = ?, flags = ? WHERE id = ? AND folder_id = ?",
		m.UID, m.Key, m.Flags, m.ID, t.folderID)
	return err
}

// UpdateIdentity records every field of a pair, Size and Message-ID
// included: for re-association, which learns them anew.
func (t *Tx) UpdateIdentity(m Message) error {
	_, err := t.tx.ExecContext(t.ctx,
		"UPDATE messages SET uid = ?, key = ?, flags = ?, size = ?, message_id = ? WHERE id = ? AND folder_id = ?",
		m.UID, m.Key, m.Flags, m.Size, m.MessageID, m.ID, t.folderID)
	return err
}

// Delete forgets a message pair.
func (t *Tx) Delete(id int64) error {
	_, err := t.tx.ExecContext(t.ctx, "DELETE FROM messages WHERE id = ? AND folder_id = ?", id, t.folderID)
	return err
}

// DeleteAllMessages forgets every message of the folder (used when the
// server's UIDs were reset and the pairs are rebuilt).
func (t *Tx) DeleteAllMessages() error {
	_, err := t.tx.ExecContext(t.ctx, "DELETE FROM messages WHERE folder_id = ?", t.folderID)
	return err
}

// AddJournal records an upload about to start.
func (t *Tx) AddJournal(j JournalEntry) (int64, error) {
	r, err := t.tx.ExecContext(t.ctx,
		"INSERT INTO journal(folder_id, op, key, message_id, size, uidnext, uids, uidvalidity) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
		t.folderID, j.Op, j.Key, j.MessageID, j.Size, j.UIDNext, j.UIDs, j.UIDValidity)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

// DeleteJournal removes a finished journal entry.
func (t *Tx) DeleteJournal(id int64) error {
	_, err := t.tx.ExecContext(t.ctx, "DELETE FROM journal WHERE id = ? AND folder_id = ?", id, t.folderID)
	return err
}

// DeleteJournalOp removes all of the folder's entries of one kind.
func (t *Tx) DeleteJournalOp(op string) error {
	_, err := t.tx.ExecContext(t.ctx, "DELETE FROM journal WHERE folder_id = ? AND op = ?", t.folderID, op)
	return err
}

// UpdateFolder stores the folder's server and local markers.
func (t *Tx) UpdateFolder(f Folder) error {
	_, err := t.tx.ExecContext(t.ctx,
		`UPDATE folders SET local_name = ?, uidvalidity = ?, uidnext = ?, highestmodseq = ?, messages = ?,
			cur_mtime = ?, new_mtime = ?, remote_name = ? WHERE id = ?`,
		f.LocalName, f.UIDValidity, f.UIDNext, f.HighestModSeq, f.Messages, f.CurMtime, f.NewMtime, f.RemoteName, f.ID)
	return err
}

// DeleteFolder forgets a folder and its messages.
func (s *Store) DeleteFolder(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM folders WHERE id = ?", id)
	return err
}
