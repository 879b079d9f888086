package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxAge limits a sync to recent messages. It is either a duration back
// from now ("90d", "2w", "36h") or a fixed date ("2024-01-31"). The zero
// value means no limit. MaxAge is comparable.
type MaxAge struct {
	text string        // as written, trimmed; "" for no limit
	dur  time.Duration // > 0 for the duration form
	// date form (dur == 0, text != ""):
	year  int
	month time.Month
	day   int
}

// IsZero reports whether there is no age limit.
func (m MaxAge) IsZero() bool { return m.text == "" }

// Since returns the cut-off instant: messages older than it are not synced.
// For the date form it is midnight at the start of that date in local time
// (time.Local), independent of now; for the duration form it is now minus
// the duration. For the zero MaxAge it is the zero time.Time, which is
// before every message.
func (m MaxAge) Since(now time.Time) time.Time {
	switch {
	case m.text == "":
		return time.Time{}
	case m.dur > 0:
		return now.Add(-m.dur)
	default:
		return time.Date(m.year, m.month, m.day, 0, 0, 0, 0, time.Local)
	}
}

// String returns the limit as written in the config ("" for none), so that
// ParseMaxAge(m.String()) == m.
func (m MaxAge) String() string { return m.text }

const dateLayout = "2006-01-02"

var errMaxAgeSyntax = errors.New(`must be a duration like "90d", "12w" or "36h", or a date like "2024-01-31"`)

// ParseMaxAge parses the max_age syntax: "" (no limit); a whole number of
// days or weeks ("90d", "12w"); a Go duration ("36h", "1h30m"); or a date
// "YYYY-MM-DD". Durations must be positive. Days are 24 hours: the limit is
// about message age, not calendar arithmetic across DST changes.
func ParseMaxAge(s string) (MaxAge, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return MaxAge{}, nil
	}
	if isDate(s) {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return MaxAge{}, fmt.Errorf("is not a valid date (got %s)", quoteValue(s))
		}
		return MaxAge{text: s, year: t.Year(), month: t.Month(), day: t.Day()}, nil
	}
	var d time.Duration
	if unit := s[len(s)-1]; unit == 'd' || unit == 'w' {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
		if errors.Is(err, strconv.ErrRange) && s[0] != '-' {
			n, err = math.MaxInt64, nil // reported as too long below
		}
		if err != nil {
			return MaxAge{}, fmt.Errorf("%w (got %s)", errMaxAgeSyntax, quoteValue(s))
		}
		if n <= 0 {
			return MaxAge{}, fmt.Errorf("must be greater than 0 (got %s)", quoteValue(s))
		}
		per := 24 * time.Hour
		if unit == 'w' {
			per *= 7
		}
		if n > int64(math.MaxInt64/per) {
			return MaxAge{}, fmt.Errorf("is too long (got %s; the maximum is about 290 years)", quoteValue(s))
		}
		d = time.Duration(n) * per
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return MaxAge{}, fmt.Errorf("%w (got %s)", errMaxAgeSyntax, quoteValue(s))
		}
	}
	if d <= 0 {
		return MaxAge{}, fmt.Errorf("must be greater than 0 (got %s)", quoteValue(s))
	}
	return MaxAge{text: s, dur: d}, nil
}

// maxAgeFromDate builds the date form from an unquoted TOML date
// (max_age = 2024-01-31), which the TOML decoder hands over as a time.Time.
func maxAgeFromDate(t time.Time) MaxAge {
	return MaxAge{text: t.Format(dateLayout), year: t.Year(), month: t.Month(), day: t.Day()}
}
