package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
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
