package dovetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// Status is the IMAP STATUS of a mailbox.
type Status struct {
	Messages, UIDNext, UIDValidity uint32
	HighestModSeq                  uint64
}

// doveadmError carries doveadm's exit code so callers can distinguish
// expected failures (mailbox exists / doesn't exist) from real ones.
type doveadmError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *doveadmError) Error() string {
	return fmt.Sprintf("doveadm %s: %v: %s", strings.Join(e.args, " "), e.err, strings.TrimSpace(e.stderr))
}

func (s *Server) run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), doveadmTimeout)
	defer cancel()
	full := append([]string{"-c", s.ConfigPath}, args...)
	cmd := exec.CommandContext(ctx, s.doveadm, full...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Dir = s.Dir
	if err := cmd.Run(); err != nil {
		de := &doveadmError{args: args, stderr: stderr.String(), err: err, code: -1}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			de.code = ee.ExitCode()
		}
		return stdout.Bytes(), de
	}
	return stdout.Bytes(), nil
}

func exitCode(err error) int {
	var de *doveadmError
	if errors.As(err, &de) {
		return de.code
	}
	return -1
}

// Doveadm runs `doveadm -c CONFIG args...`, fails the test with its stderr
// on error, returns stdout.
func (s *Server) Doveadm(t TB, args ...string) string {
	t.Helper()
	out, err := s.run(nil, args...)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	return string(out)
}

// Append saves msg into mailbox of user (creating the mailbox if missing)
// via doveadm save and returns its exact UID. Bare LFs are stored as CRLF.
// Flags (system flags and keywords) are set afterwards with doveadm flags
// add, as doveadm save cannot set them, so they cost a modseq of their own.
func (s *Server) Append(t TB, user, mailbox string, msg []byte, flags ...string) uint32 {
	t.Helper()
	s.checkUser(t, user)
	st, err := s.status(user, mailbox)
	if exitCode(err) == exNotFound {
		if _, err := s.run(nil, "mailbox", "create", "-s", "-u", user, mailbox); err != nil && exitCode(err) != exDataErr {
			t.Fatalf("dovetest: %v", err)
		}
		st, err = s.status(user, mailbox)
	}
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if _, err := s.run(msg, "save", "-u", user, "-m", mailbox); err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	// doveadm save does not report the UID. Everything at or above the old
	// UIDNEXT is new; if something else (an IMAP client of the test) appended
	// concurrently, pick ours by content.
	query := []string{"mailbox", mailbox, "uid", fmt.Sprintf("%d:*", st.UIDNext)}
	msgs, err := s.fetch(user, false, query...)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	var cands []Message
	for _, m := range msgs {
		if m.UID >= st.UIDNext {
			cands = append(cands, m)
		}
	}
	var uid uint32
	switch len(cands) {
	case 0:
		t.Fatalf("dovetest: saved message not found in %q (uidnext was %d)", mailbox, st.UIDNext)
	case 1:
		uid = cands[0].UID
	default:
		full, err := s.fetch(user, true, query...)
		if err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		want := toCRLF(msg)
		var match []uint32
		for _, m := range full {
			if m.UID >= st.UIDNext && bytes.Equal(m.Body, want) {
				match = append(match, m.UID)
			}
		}
		if len(match) != 1 {
			t.Fatalf("dovetest: cannot identify saved message in %q: candidates with identical content: %v", mailbox, match)
		}
		uid = match[0]
	}
	if len(flags) > 0 {
		s.AddFlags(t, user, mailbox, uid, flags...)
	}
	return uid
}

// toCRLF mirrors what mail_save_crlf does to a saved message.
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/20)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// CreateMailbox creates (and subscribes) a mailbox. Parents are not
// created: in Maildir++ "A.B" needs no "A", which IMAP LIST then reports as
// \NonExistent and Mailboxes omits.
func (s *Server) CreateMailbox(t TB, user, name string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "create", "-s", "-u", user, name)
}

// DeleteMailbox deletes (and unsubscribes) a mailbox including its messages.
func (s *Server) DeleteMailbox(t TB, user, name string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "delete", "-s", "-u", user, name)
}

// RenameMailbox renames a mailbox (and its subscription). Children move along.
func (s *Server) RenameMailbox(t TB, user, from, to string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "rename", "-s", "-u", user, from, to)
}

// Mailboxes lists mailbox names (UTF-8, with the configured separator),
// sorted. Only mailboxes that exist are listed: a parent that is merely
// implied by a child (\NonExistent / \NoSelect in IMAP LIST, e.g. "A" for
// "A.B" created alone) is omitted. Subscriptions do not matter.
func (s *Server) Mailboxes(t TB, user string) []string {
	t.Helper()
	s.checkUser(t, user)
	// "mailbox status" iterates only selectable mailboxes, unlike
	// "mailbox list" which also prints implied parents.
	rows, err := s.tabRows(nil, "-f", "tab", "mailbox", "status", "-u", user, "uidvalidity", "*")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		names = append(names, r["mailbox"])
	}
	sort.Strings(names)
	return names
}

// tabRows runs doveadm with the tab formatter and returns one map per row.
func (s *Server) tabRows(stdin []byte, args ...string) ([]map[string]string, error) {
	out, err := s.run(stdin, args...)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(l, "\t")
		if len(vals) != len(head) {
			return nil, fmt.Errorf("doveadm %s: cannot parse row %q (header %q)", strings.Join(args, " "), l, lines[0])
		}
		r := make(map[string]string, len(head))
		for i, h := range head {
			r[h] = vals[i]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (s *Server) status(user, mailbox string) (Status, error) {
	rows, err := s.tabRows(nil, "-f", "tab", "mailbox", "status", "-u", user,
		"messages uidnext uidvalidity highestmodseq", mailbox)
	if err != nil {
		return Status{}, err
	}
	// The name is a pattern to doveadm ('*' and '%' are wildcards), so pick
	// the exact row.
	for _, r := range rows {
		if r["mailbox"] != mailbox && !(strings.EqualFold(mailbox, "INBOX") && r["mailbox"] == "INBOX") {
			continue
		}
		var st Status
		var errs []error
		u32 := func(k string) uint32 {
			v, err := strconv.ParseUint(r[k], 10, 32)
			errs = append(errs, err)
			return uint32(v)
		}
		st.Messages = u32("messages")
		st.UIDNext = u32("uidnext")
		st.UIDValidity = u32("uidvalidity")
		var e error
		st.HighestModSeq, e = strconv.ParseUint(r["highestmodseq"], 10, 64)
		if err := errors.Join(append(errs, e)...); err != nil {
			return Status{}, fmt.Errorf("parsing status of %q: %v (row %v)", mailbox, err, r)
		}
		return st, nil
	}
	return Status{}, &doveadmError{args: []string{"mailbox", "status", mailbox}, code: exNotFound,
		err: errors.New("no such mailbox"), stderr: fmt.Sprintf("rows: %v", rows)}
}

// Status returns the mailbox's STATUS; the test fails if it does not exist.
func (s *Server) Status(t TB, user, mailbox string) Status {
	t.Helper()
	s.checkUser(t, user)
	st, err := s.status(user, mailbox)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	return st
}

func (s *Server) uidQuery(mailbox string, uid uint32) []string {
	return []string{"mailbox", mailbox, "uid", strconv.FormatUint(uint64(uid), 10)}
}

// AddFlags adds flags (system flags like \Seen or keywords) to one message.
func (s *Server) AddFlags(t TB, user, mailbox string, uid uint32, flags ...string) {
	t.Helper()
	s.changeFlags(t, "add", user, mailbox, uid, flags)
}

// RemoveFlags removes flags from one message.
func (s *Server) RemoveFlags(t TB, user, mailbox string, uid uint32, flags ...string) {
	t.Helper()
	s.changeFlags(t, "remove", user, mailbox, uid, flags)
}

func (s *Server) changeFlags(t TB, op, user, mailbox string, uid uint32, flags []string) {
	t.Helper()
	s.checkUser(t, user)
	if len(flags) == 0 {
		return
	}
	args := append([]string{"flags", op, "-u", user, strings.Join(flags, " ")}, s.uidQuery(mailbox, uid)...)
	s.Doveadm(t, args...)
}

// Expunge removes one message immediately (no \Deleted step needed).
func (s *Server) Expunge(t TB, user, mailbox string, uid uint32) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, append([]string{"expunge", "-u", user}, s.uidQuery(mailbox, uid)...)...)
}

// SetUIDValidity changes a mailbox's UIDVALIDITY (doveadm mailbox update
// --uid-validity N) — used to simulate a server reset. Messages keep their
// UIDs.
func (s *Server) SetUIDValidity(t TB, user, mailbox string, v uint32) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "update", "-u", user, "--uid-validity", strconv.FormatUint(uint64(v), 10), mailbox)
}
