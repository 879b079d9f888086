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
	"sync"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// SchemaVersion is the current schema; Open migrates older databases to it.
const SchemaVersion = 6

// Store is an open state database.
type Store struct {
	db   *sql.DB
	path string
	// fullSync: BeginDurable's commits are fsynced (see Open).
	fullSync bool
	// Statements prepared once and kept: SQLite parses a statement in
	// about the time it takes to run most of mailsync's, which each run
	// hundreds of times per sync.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Open opens (creating if needed) the database at path and migrates it.
//
// Commits run with synchronous=NORMAL: one that a power cut reaches
// before the next checkpoint may be rolled back, leaving the state as an
// earlier commit left it, never broken. That is safe for every record
// whose side effect came first, as a crash between the side effect and
// the record leaves it the same way. With fullSync, the commits of
// BeginDurable, for records that a later side effect depends on, reach
// the disk before Commit returns.
func Open(ctx context.Context, path string, fullSync bool) (*Store, error) {
	// A new database is switched to WAL by the first connection to it.
	// Another process opening it at that moment can get SQLITE_BUSY at
	// once, the busy timeout notwithstanding; a moment later it finds the
	// switch done.
	for try := 1; ; try++ {
		s, err := open(ctx, path, fullSync)
		if err == nil || !isBusy(err) || try == 20 {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, in any of its
// extended forms.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func open(ctx context.Context, path string, fullSync bool) (*Store, error) {
	q := url.Values{}
	// The pragmas run in this order on each new connection. The busy
	// timeout comes first: switching a new database to WAL takes a lock,
	// and two processes opening it at once would otherwise fail at once
	// with SQLITE_BUSY instead of waiting for each other.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this turns lock
	// contention between folder goroutines into queueing in database/sql.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, fullSync: fullSync}
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
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	return s.db.Close()
}

// prepared returns the statement for q, prepared on first use. It must
// not be called inside a transaction: the store has one connection, which
// the transaction holds (Tx.stmt uses the statements Begin prepares before
// it starts one).
func (s *Store) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := s.cached(q); st != nil {
		return st, nil
	}
	// Not under stmtMu: preparing waits for the connection, which a
	// transaction may hold while it looks up its own statements.
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if old := s.stmts[q]; old != nil {
		st.Close()
		return old, nil
	}
	if s.stmts == nil {
		s.stmts = make(map[string]*sql.Stmt)
	}
	s.stmts[q] = st
	return st, nil
}

func (s *Store) cached(q string) *sql.Stmt {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	return s.stmts[q]
}

// query runs a fixed query through its prepared statement.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, q)
	if err != nil {
		// database/sql offers no Row carrying an error but its own; the
		// unprepared query reports the same error from Scan.
		return s.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// exec runs a fixed statement through its prepared form.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
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
	// Created is when the folder was first recorded, Verified when both
	// sides were last compared in full (unix seconds; 0: unknown, never).
	Created, Verified int64
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

const folderCols = "id, name, local_name, uidvalidity, uidnext, highestmodseq, messages, cur_mtime, new_mtime, remote_name, created, verified"

func scanFolder(sc interface{ Scan(...any) error }) (Folder, error) {
	var f Folder
	err := sc.Scan(&f.ID, &f.Name, &f.LocalName, &f.UIDValidity, &f.UIDNext, &f.HighestModSeq, &f.Messages, &f.CurMtime, &f.NewMtime, &f.RemoteName, &f.Created, &f.Verified)
	return f, err
}

// Folders returns all recorded folders.
func (s *Store) Folders(ctx context.Context) ([]Folder, error) {
	rows, err := s.query(ctx, "SELECT "+folderCols+" FROM folders ORDER BY name")
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
	f, err = scanFolder(s.queryRow(ctx, "SELECT "+folderCols+" FROM folders WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return Folder{}, false, nil
	}
	return f, err == nil, err
}

// EnsureFolder returns the folder named name, recording it first if needed.
func (s *Store) EnsureFolder(ctx context.Context, name, localName string) (Folder, error) {
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO folders(name, local_name, created) VALUES(?, ?, unixepoch()) ON CONFLICT(name) DO UPDATE SET local_name = excluded.local_name",
		name, localName); err != nil {
		return Folder{}, err
	}
	f, _, err := s.Folder(ctx, name)
	return f, err
}

// SetRemoteName records a folder's name on the server, for a folder whose
// record is otherwise up to date.
func (s *Store) SetRemoteName(ctx context.Context, id int64, name string) error {
	_, err := s.exec(ctx, "UPDATE folders SET remote_name = ? WHERE id = ?", name, id)
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

// Digest returns the folder's digest (see Digest).
func (s *Store) Digest(ctx context.Context, folderID int64) (*Digest, error) {
	var b []byte
	if err := s.queryRow(ctx, "SELECT digest FROM folders WHERE id = ?", folderID).Scan(&b); err != nil {
		return nil, err
	}
	return unmarshalDigest(b)
}

// VerifyDigest recomputes the folder's digest and its pairs' buckets from
// its rows and reports where the stored ones differ: they are kept up to
// date by every Tx, so a difference is a bug (or a hand edit).
func (s *Store) VerifyDigest(ctx context.Context, folderID int64) error {
	stored, err := s.Digest(ctx, folderID)
	if err != nil {
		return err
	}
	rows, err := s.query(ctx, "SELECT id, key, flags, bucket FROM messages WHERE folder_id = ?", folderID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var want Digest
	for rows.Next() {
		var m Message
		var b int
		if err := rows.Scan(&m.ID, &m.Key, &m.Flags, &b); err != nil {
			return err
		}
		if b != bucket(m) {
			return fmt.Errorf("pair %d (key %q) is recorded in bucket %d, not %d", m.ID, m.Key, b, bucket(m))
		}
		if m.Key != "" {
			want.Add(m.Key, m.Flags)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if d := stored.Differs(&want); len(d) > 0 {
		return fmt.Errorf("stored digest differs from the rows' in %d bucket(s), first %d", len(d), d[0])
	}
	return nil
}

// PairsInBuckets returns the folder's pairs, as Pairs does, whose keys fall
// in the given digest buckets.
func (s *Store) PairsInBuckets(ctx context.Context, folderID int64, buckets []int) ([]Message, error) {
	return appendWhereIn(ctx, s, false, "SELECT id, uid, key, flags FROM messages WHERE folder_id = ? AND bucket IN (%s)", folderID, buckets)
}

// appendWhereIn reads the folder's pairs that query selects, its %s
// standing for an IN list of values, maxParams values at a time. The query
// selects messagesQuery's columns when full is set, pairsQuery's otherwise.
func appendWhereIn[T any](ctx context.Context, s *Store, full bool, query string, folderID int64, values []T) ([]Message, error) {
	var out []Message
	for len(values) > 0 {
		n := min(maxParams, len(values))
		args := make([]any, 0, n+1)
		args = append(args, folderID)
		for _, v := range values[:n] {
			args = append(args, v)
		}
		var err error
		if out, err = s.appendMessages(ctx, out, full, fmt.Sprintf(query, "?"+strings.Repeat(", ?", n-1)), args...); err != nil {
			return nil, err
		}
		values = values[n:]
	}
	return out, nil
}

// maxParams bounds the values of one IN list, well under SQLite's limit on
// bound parameters.
const maxParams = 500

// UIDs returns the folder's recorded server UIDs from from on, ascending,
// from the index alone.
func (s *Store) UIDs(ctx context.Context, folderID int64, from uint32) ([]uint32, error) {
	rows, err := s.query(ctx, "SELECT uid FROM messages WHERE folder_id = ? AND uid <> 0 AND uid >= ? ORDER BY uid", folderID, from)
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

// MessagesByUID returns the folder's pairs with the given server UIDs
// (ascending), in UID order; UIDs not recorded are left out.
func (s *Store) MessagesByUID(ctx context.Context, folderID int64, uids []uint32) ([]Message, error) {
	return appendWhereIn(ctx, s, true,
		"SELECT id, uid, key, flags, size, message_id FROM messages WHERE folder_id = ? AND uid IN (%s) ORDER BY uid", folderID, uids)
}

// Journal returns the folder's unfinished uploads.
func (s *Store) Journal(ctx context.Context, folderID int64) ([]JournalEntry, error) {
	rows, err := s.query(ctx,
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

// The statements of a Tx, prepared before the first one begins (see
// Store.prepared).
const (
	qFolderDigest   = "SELECT digest FROM folders WHERE id = ?"
	qSetDigest      = "UPDATE folders SET digest = ? WHERE id = ?"
	qPair           = "SELECT key, flags FROM messages WHERE id = ? AND folder_id = ?"
	qInsert         = "INSERT INTO messages(folder_id, uid, key, flags, size, message_id, bucket) VALUES(?, ?, ?, ?, ?, ?, ?)"
	qUpdatePair     = "UPDATE messages SET uid = ?, key = ?, flags = ?, bucket = ? WHERE id = ? AND folder_id = ?"
	qUpdateIdentity = "UPDATE messages SET uid = ?, key = ?, flags = ?, size = ?, message_id = ?, bucket = ? WHERE id = ? AND folder_id = ?"
	qDeletePair     = "DELETE FROM messages WHERE id = ? AND folder_id = ?"
	qDeleteJournal  = "DELETE FROM journal WHERE id = ? AND folder_id = ?"
	qAddJournal     = "INSERT INTO journal(folder_id, op, key, message_id, size, uidnext, uids, uidvalidity) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"
	qUpdateFolder   = `UPDATE folders SET local_name = ?, uidvalidity = ?, uidnext = ?, highestmodseq = ?, messages = ?,
			cur_mtime = ?, new_mtime = ?, remote_name = ?, verified = ? WHERE id = ?`
)

// DeleteFolder forgets a folder and its messages.
func (s *Store) DeleteFolder(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM folders WHERE id = ?", id)
	return err
}
