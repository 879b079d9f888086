// Package logging builds mailsync's zerolog logger from the global flags:
// human-readable console output by default, JSON for log collectors, entries
// with structured fields for the systemd journal (by default when stderr is
// the journal), and a quiet mode that keeps only errors, so a cron job mails
// nothing when all is well.
package logging

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Options are the logging flags.
type Options struct {
	Level  string // trace, debug, info, warn, error; default warn
	Format string // console, json or journal; "" is journal when w is a stderr systemd connected to the journal, else console
	Quiet  bool
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) (zerolog.Logger, error) {
	lvl := zerolog.WarnLevel
	if o.Level != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(o.Level))
		if err != nil || l == zerolog.NoLevel {
			return zerolog.Nop(), fmt.Errorf("--log-level: unknown level %q (want trace, debug, info, warn or error)", o.Level)
		}
		lvl = l
	}
	if o.Quiet && lvl < zerolog.ErrorLevel {
		lvl = zerolog.ErrorLevel
	}
	format := o.Format
	if format == "" {
		format = "console"
		if stderrIsJournal(w) {
			// The journal stamps each line: no time of our own. When its
			// native socket is missing, the lines go to stderr, which
			// reaches the journal all the same.
			if !journal.Enabled() {
				return zerolog.New(zerolog.ConsoleWriter{Out: w, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}, FormatErrFieldValue: errValue(false)}).Level(lvl), nil
			}
			format = "journal"
		}
	}
	switch format {
	case "console":
		color := false
		if f, ok := w.(*os.File); ok {
			color = isatty.IsTerminal(f.Fd()) && os.Getenv("NO_COLOR") == ""
		}
		w = zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: time.TimeOnly, FormatErrFieldValue: errValue(color)}
	case "json":
	case "journal":
		if !journal.Enabled() {
			return zerolog.Nop(), fmt.Errorf("--log-format journal: no systemd journal to log to (its socket is /run/systemd/journal/socket)")
		}
		// No timestamp: journald stamps each entry.
		return zerolog.New(journalWriter{fallback: w}).Level(lvl), nil
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format: unknown format %q (want console, json or journal)", o.Format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// errValue formats the console's error field: quoted when it holds spaces,
// as zerolog does, but with the error's own quotes and backslashes left as
// they are (tls = "implicit", not tls = \"implicit\"), for a person to read.
func errValue(color bool) zerolog.Formatter {
	return func(i any) string {
		s := fmt.Sprint(i)
		if u, err := strconv.Unquote(s); err == nil {
			s = `"` + u + `"`
		}
		if color {
			s = "\x1b[1m\x1b[31m" + s + "\x1b[0m"
		}
		return s
	}
}
