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
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the current schema; Open migrates older databases to it.
const SchemaVersion = 6

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
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
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

func txStatements() []string {
	return []string{qFolderDigest, qSetDigest, qPair, qInsert, qUpdatePair, qUpdateIdentity, qDeletePair, qDeleteJournal, qAddJournal, qUpdateFolder}
}

// Tx is a batch of changes that commit together.
type Tx struct {
	s        *Store
	tx       *sql.Tx
	conn     *sql.Conn // BeginDurable's, held at synchronous=FULL until the end
	ctx      context.Context
	folderID int64
	stmts    map[string]*sql.Stmt // the store's statements, bound to tx
	// delta is the change to the folder's digest so far (nil: none);
	// Commit adds it to the stored one, or stores it when reset is set.
	delta *Digest
	reset bool
}

// Begin starts a transaction for changes to one folder. Its commit may be
// rolled back by a power cut (see Open): use it for records of what was
// already done.
func (s *Store) Begin(ctx context.Context, folderID int64) (*Tx, error) {
	return s.begin(ctx, folderID, false)
}

// BeginDurable starts a transaction whose commit is on disk when Commit
// returns (if the store was opened with fullSync): for a record that a
// side effect is about to depend on, such as a journal entry written
// before the transfer it announces. Its fsync makes every earlier commit
// durable too.
func (s *Store) BeginDurable(ctx context.Context, folderID int64) (*Tx, error) {
	return s.begin(ctx, folderID, s.fullSync)
}

func (s *Store) begin(ctx context.Context, folderID int64, durable bool) (*Tx, error) {
	if s.cached(qUpdateFolder) == nil {
		for _, q := range txStatements() {
			if _, err := s.prepared(ctx, q); err != nil {
				return nil, err
			}
		}
	}
	if !durable {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return &Tx{s: s, tx: tx, ctx: ctx, folderID: folderID}, nil
	}
	// SQLite refuses to change synchronous inside a transaction, so the
	// connection is held from the pragma to the end of the transaction,
	// where end sets it back.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
		conn.Close()
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t := &Tx{s: s, conn: conn, ctx: ctx}
		t.end()
		return nil, err
	}
	return &Tx{s: s, tx: tx, conn: conn, ctx: ctx, folderID: folderID}, nil
}

// end returns a durable transaction's connection to the store at
// synchronous=NORMAL. Should that fail, the connection is discarded: a
// commit at FULL is only slower, but a connection left so is not what
// Open promises.
func (t *Tx) end() {
	if t.conn == nil {
		return
	}
	_, err := t.conn.ExecContext(context.WithoutCancel(t.ctx), "PRAGMA synchronous = NORMAL")
	if err != nil {
		_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	t.conn.Close()
	t.conn = nil
}

// stmt returns the store's prepared statement for q, bound to the
// transaction.
func (t *Tx) stmt(q string) (*sql.Stmt, error) {
	if st := t.stmts[q]; st != nil {
		return st, nil
	}
	var st *sql.Stmt
	if p := t.s.cached(q); p != nil {
		st = t.tx.StmtContext(t.ctx, p)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(t.ctx, q); err != nil {
			return nil, err
		}
	}
	if t.stmts == nil {
		t.stmts = make(map[string]*sql.Stmt)
	}
	t.stmts[q] = st
	return st, nil
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// scanRow runs a one-row query and scans it into dest.
func (t *Tx) scanRow(q string, args []any, dest ...any) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(t.ctx, args...).Scan(dest...)
}

// Commit commits the batch.
func (t *Tx) Commit() error {
	defer t.end()
	if t.delta != nil {
		if err := t.storeDigest(); err != nil {
			_ = t.tx.Rollback()
			return fmt.Errorf("recording the folder digest: %w", err)
		}
	}
	return t.tx.Commit()
}

func (t *Tx) storeDigest() error {
	d := new(Digest)
	if !t.reset {
		var b []byte
		if err := t.scanRow(qFolderDigest, []any{t.folderID}, &b); err != nil {
			return err
		}
		var err error
		if d, err = unmarshalDigest(b); err != nil {
			return err
		}
	}
	d.merge(t.delta)
	_, err := t.exec(qSetDigest, d.marshal(), t.folderID)
	return err
}

// digest returns the digest delta, started on first use.
func (t *Tx) digest() *Digest {
	if t.delta == nil {
		t.delta = new(Digest)
	}
	return t.delta
}

// bucket is the value of messages.bucket for a pair.
func bucket(m Message) int {
	if m.Key == "" {
		return -1
	}
	return Bucket(m.Key)
}

// forgetPair takes the folder's pair with the given id out of the digest
// delta, as it is before this change. found is false when the folder has no
// such pair (the UPDATE or DELETE that follows then changes nothing).
func (t *Tx) forgetPair(id int64) (found bool, err error) {
	var key, flags string
	err = t.scanRow(qPair, []any{id, t.folderID}, &key, &flags)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if key != "" {
		t.digest().remove(key, flags)
	}
	return true, nil
}

func (t *Tx) countPair(m Message) {
	if m.Key != "" {
		t.digest().Add(m.Key, m.Flags)
	}
}

// Rollback abandons the batch; it is safe after Commit.
func (t *Tx) Rollback() {
	_ = t.tx.Rollback()
	t.end()
}

// Insert records a new message pair and returns its id.
func (t *Tx) Insert(m Message) (int64, error) {
	r, err := t.exec(qInsert,
		t.folderID, m.UID, m.Key, m.Flags, m.Size, m.MessageID, bucket(m))
	if err != nil {
		return 0, fmt.Errorf("recording uid %d / %s: %w", m.UID, m.Key, err)
	}
	t.countPair(m)
	return r.LastInsertId()
}

// Update records a pair's new UID, key and flags. Size and Message-ID
// describe the message itself and stay as recorded (rows read by Pairs
// don't carry them); see UpdateIdentity.
func (t *Tx) Update(m Message) error {
	found, err := t.forgetPair(m.ID)
	if err != nil || !found {
		return err
	}
	_, err = t.exec(qUpdatePair,
		m.UID, m.Key, m.Flags, bucket(m), m.ID, t.folderID)
	if err == nil {
		t.countPair(m)
	}
	return err
}

// UpdateIdentity records every field of a pair, Size and Message-ID
// included: for re-association, which learns them anew.
func (t *Tx) UpdateIdentity(m Message) error {
	found, err := t.forgetPair(m.ID)
	if err != nil || !found {
		return err
	}
	_, err = t.exec(qUpdateIdentity,
		m.UID, m.Key, m.Flags, m.Size, m.MessageID, bucket(m), m.ID, t.folderID)
	if err == nil {
		t.countPair(m)
	}
	return err
}

// Delete forgets a message pair.
func (t *Tx) Delete(id int64) error {
	if found, err := t.forgetPair(id); err != nil || !found {
		return err
	}
	_, err := t.exec(qDeletePair, id, t.folderID)
	return err
}

// DeleteAllMessages forgets every message of the folder (used when the
// server's UIDs were reset and the pairs are rebuilt).
func (t *Tx) DeleteAllMessages() error {
	_, err := t.exec("DELETE FROM messages WHERE folder_id = ?", t.folderID)
	if err == nil {
		t.delta, t.reset = new(Digest), true
	}
	return err
}

// AddJournal records an upload about to start.
func (t *Tx) AddJournal(j JournalEntry) (int64, error) {
	r, err := t.exec(qAddJournal,
		t.folderID, j.Op, j.Key, j.MessageID, j.Size, j.UIDNext, j.UIDs, j.UIDValidity)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

// DeleteJournal removes a finished journal entry.
func (t *Tx) DeleteJournal(id int64) error {
	_, err := t.exec(qDeleteJournal, id, t.folderID)
	return err
}

// DeleteJournalOp removes all of the folder's entries of one kind.
func (t *Tx) DeleteJournalOp(op string) error {
	_, err := t.exec("DELETE FROM journal WHERE folder_id = ? AND op = ?", t.folderID, op)
	return err
}

// UpdateFolder stores the folder's server and local markers.
func (t *Tx) UpdateFolder(f Folder) error {
	_, err := t.exec(qUpdateFolder,
		f.LocalName, f.UIDValidity, f.UIDNext, f.HighestModSeq, f.Messages, f.CurMtime, f.NewMtime, f.RemoteName, f.Verified, f.ID)
	return err
}

// DeleteFolder forgets a folder and its messages.
func (s *Store) DeleteFolder(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM folders WHERE id = ?", id)
	return err
}
