package logging

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

// Identifier is the SYSLOG_IDENTIFIER of mailsync's journal entries, so
// that `journalctl -t mailsync` finds them.
const Identifier = "mailsync"

// journalWriter sends each zerolog event to the systemd journal as one
// entry in the native protocol (go-systemd's journal.Send): the message as
// MESSAGE, the level as PRIORITY and every other field as a journal field
// of its upper-cased name (account as ACCOUNT, folder as FOLDER, error as
// ERROR). There is no time field: journald stamps each entry itself.
// An entry the journal refuses is written to fallback, as the JSON line.
type journalWriter struct {
	fallback io.Writer
}

func (w journalWriter) Write(p []byte) (int, error) {
	return w.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel implements zerolog.LevelWriter.
func (w journalWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	msg, prio, vars := journalEntry(l, p)
	if err := journal.Send(msg, prio, vars); err != nil {
		if w.fallback == nil {
			return 0, err
		}
		if _, ferr := w.fallback.Write(p); ferr != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// journalEntry turns one zerolog JSON event into the journal's message,
// priority and fields. l is the event's level, or NoLevel to take it from
// the event's level field.
func journalEntry(l zerolog.Level, p []byte) (string, journal.Priority, map[string]string) {
	var fields map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil {
		// Not an event zerolog made; log it as it is.
		return strings.TrimSpace(string(p)), priority(l), map[string]string{"SYSLOG_IDENTIFIER": Identifier}
	}
	vars := make(map[string]string, len(fields)+1)
	vars["SYSLOG_IDENTIFIER"] = Identifier
	msg := ""
	for k, raw := range fields {
		v := rawString(raw)
		switch k {
		case zerolog.MessageFieldName:
			msg = v
		case zerolog.LevelFieldName:
			if l == zerolog.NoLevel {
				if pl, err := zerolog.ParseLevel(v); err == nil {
					l = pl
				}
			}
		case zerolog.TimestampFieldName:
			// journald's own timestamp is the entry's time.
		default:
			vars[journalField(k)] = v
		}
	}
	return msg, priority(l), vars
}

// rawString is a JSON value as the journal shows it: a string unquoted,
// anything else (numbers, booleans, arrays) as its JSON text.
func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// reserved reports whether name is a journal field with a meaning of its
// own, which a zerolog field of the same name must not take over.
func reserved(name string) bool {
	switch name {
	case "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER",
		"SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "SYSLOG_RAW",
		"CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO",
		"DOCUMENTATION", "TID", "INVOCATION_ID", "USER_INVOCATION_ID":
		return true
	}
	return false
}

// journalField is the journal field name for zerolog field k: upper-cased,
// other characters than A-Z, 0-9 and _ made _, no leading _ or digit, at
// most 64 characters; a name the journal reserves gets the prefix
// MAILSYNC_.
func journalField(k string) string {
	var b strings.Builder
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' || reserved(name) {
		name = "MAILSYNC_" + name
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// priority maps zerolog's levels to syslog's.
func priority(l zerolog.Level) journal.Priority {
	switch l {
	case zerolog.TraceLevel, zerolog.DebugLevel:
		return journal.PriDebug
	case zerolog.WarnLevel:
		return journal.PriWarning
	case zerolog.ErrorLevel:
		return journal.PriErr
	case zerolog.FatalLevel, zerolog.PanicLevel:
		return journal.PriCrit
	}
	return journal.PriInfo
}

// stderrIsJournal reports whether w is the process's stderr and systemd
// connected that to the journal (JOURNAL_STREAM names it).
func stderrIsJournal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f.Fd() != uintptr(syscall.Stderr) {
		return false
	}
	ok, err := journal.StderrIsJournalStream()
	return ok && err == nil
}
