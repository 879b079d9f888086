package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

// TestJournalEntry feeds events that zerolog itself encoded (the way the
// journal writer receives them) to journalEntry and checks the journal
// entry made of each.
func TestJournalEntry(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).With().Timestamp().Str("account", "work").Logger()
	log.Error().Str("folder", "Lists/go-nuts").Err(errors.New("SELECT: NO [NONEXISTENT] no such folder")).
		Uint32("uid", 42).Strs("folders", []string{"a", "b"}).Str("retry-at", "soon").Str("_x", "y").Str("priority", "p").
		Msg("folder sync failed")
	line := append([]byte(nil), buf.Bytes()...)
	msg, prio, vars := journalEntry(zerolog.ErrorLevel, line)
	if msg != "folder sync failed" {
		t.Errorf("MESSAGE = %q", msg)
	}
	if prio != journal.PriErr {
		t.Errorf("PRIORITY = %d, want %d", prio, journal.PriErr)
	}
	want := map[string]string{
		"SYSLOG_IDENTIFIER": "mailsync",
		"ACCOUNT":           "work",
		"FOLDER":            "Lists/go-nuts",
		"ERROR":             "SELECT: NO [NONEXISTENT] no such folder",
		"UID":               "42",
		"FOLDERS":           `["a","b"]`,
		"RETRY_AT":          "soon",
		"X":                 "y",
		"MAILSYNC_PRIORITY": "p",
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
	if len(vars) != len(want) {
		t.Errorf("fields %v, want exactly %v (no time, level or message among them)", vars, want)
	}

	// Without the level from zerolog, the event's level field gives it.
	if _, prio, _ := journalEntry(zerolog.NoLevel, line); prio != journal.PriErr {
		t.Errorf("PRIORITY from the level field = %d, want %d", prio, journal.PriErr)
	}
}

func TestJournalPriority(t *testing.T) {
	want := map[zerolog.Level]journal.Priority{
		zerolog.TraceLevel: journal.PriDebug,
		zerolog.DebugLevel: journal.PriDebug,
		zerolog.InfoLevel:  journal.PriInfo,
		zerolog.WarnLevel:  journal.PriWarning,
		zerolog.ErrorLevel: journal.PriErr,
		zerolog.FatalLevel: journal.PriCrit,
		zerolog.NoLevel:    journal.PriInfo,
	}
	for l, p := range want {
		if got := priority(l); got != p {
			t.Errorf("priority(%v) = %d, want %d", l, got, p)
		}
	}
}

// TestJournalField: every name journalField makes is one journald accepts
// (A-Z, 0-9 and _, not starting with _ or a digit, at most 64 bytes).
func TestJournalField(t *testing.T) {
	for k, want := range map[string]string{
		"account":               "ACCOUNT",
		"folder":                "FOLDER",
		"error":                 "ERROR",
		"retry_at":              "RETRY_AT",
		"x.y-z":                 "X_Y_Z",
		"__secret":              "SECRET",
		"2fa":                   "MAILSYNC_2FA",
		"message":               "MAILSYNC_MESSAGE",
		"äöü":                   "MAILSYNC_",
		strings.Repeat("a", 70): strings.Repeat("A", 64),
	} {
		got := journalField(k)
		if got != want {
			t.Errorf("journalField(%q) = %q, want %q", k, got, want)
		}
		if len(got) > 64 || got[0] == '_' || got[0] >= '0' && got[0] <= '9' || strings.Trim(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("journalField(%q) = %q is not a valid journal field name", k, got)
		}
	}
}

// TestJournalFormatNeedsJournal: --log-format journal with no journal to
// write to is an error at start, not lost lines. Where a journald runs,
// the format is accepted instead.
func TestJournalFormatNeedsJournal(t *testing.T) {
	_, err := New(&bytes.Buffer{}, Options{Format: "journal"})
	if journal.Enabled() {
		if err != nil {
			t.Errorf("journal running, yet --log-format journal fails: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "--log-format journal") {
		t.Errorf("no journal: got %v, want a --log-format journal error", err)
	}
}

// TestNotJournalStream: a writer that is not stderr never turns into the
// journal, whatever JOURNAL_STREAM says.
func TestNotJournalStream(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "1:1")
	var buf bytes.Buffer
	log, err := New(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Msg("to the buffer")
	if !strings.Contains(buf.String(), "WRN to the buffer") {
		t.Errorf("want a console line in the buffer, got %q", buf.String())
	}
}
