// Package logging builds mailsync's zerolog logger from the global flags:
// human-readable console output by default, JSON for log collectors, and a
// quiet mode that keeps only errors, so a cron job mails nothing when all is
// well.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Options are the logging flags.
type Options struct {
	Level  string // trace, debug, info, warn, error; default warn
	Format string // console or json
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
	switch o.Format {
	case "", "console":
		color := false
		if f, ok := w.(*os.File); ok {
			color = isatty.IsTerminal(f.Fd()) && os.Getenv("NO_COLOR") == ""
		}
		w = zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: time.TimeOnly}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format: unknown format %q (want console or json)", o.Format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
