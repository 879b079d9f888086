package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseMaxAge(t *testing.T) {
	now := time.Date(2025, 3, 15, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		in, str string
		since   time.Time
	}{
		{"", "", time.Time{}},
		{"   ", "", time.Time{}},
		{"90d", "90d", now.Add(-90 * 24 * time.Hour)},
		{" 1d ", "1d", now.Add(-24 * time.Hour)},
		{"2w", "2w", now.Add(-14 * 24 * time.Hour)},
		{"36h", "36h", now.Add(-36 * time.Hour)},
		{"1h30m", "1h30m", now.Add(-90 * time.Minute)},
		{"+3d", "+3d", now.Add(-72 * time.Hour)},
		{"2024-01-31", "2024-01-31", time.Date(2024, 1, 31, 0, 0, 0, 0, time.Local)},
		{"2024-02-29", "2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		m, err := ParseMaxAge(tt.in)
		if err != nil {
			t.Errorf("ParseMaxAge(%q): %v", tt.in, err)
			continue
		}
		if m.String() != tt.str {
			t.Errorf("ParseMaxAge(%q).String() = %q, want %q", tt.in, m.String(), tt.str)
		}
		if m.IsZero() != (tt.str == "") {
			t.Errorf("ParseMaxAge(%q).IsZero() = %v", tt.in, m.IsZero())
		}
		if got := m.Since(now); !got.Equal(tt.since) {
			t.Errorf("ParseMaxAge(%q).Since = %v, want %v", tt.in, got, tt.since)
		}
	}
}

func TestParseMaxAgeErrors(t *testing.T) {
	const syntax = `must be a duration like "90d", "12w" or "36h", or a date like "2024-01-31"`
	tests := []struct{ in, want string }{
		{"90", syntax + ` (got "90")`},
		{"3 months", syntax + ` (got "3 months")`},
		{"1.5d", syntax + ` (got "1.5d")`},
		{"d", syntax + ` (got "d")`},
		{"1d12h", syntax + ` (got "1d12h")`},
		{"0d", `must be greater than 0 (got "0d")`},
		{"-3d", `must be greater than 0 (got "-3d")`},
		{"0s", `must be greater than 0 (got "0s")`},
		{"-1h", `must be greater than 0 (got "-1h")`},
		{"2024-02-30", `is not a valid date (got "2024-02-30")`},
		{"2024-13-01", `is not a valid date (got "2024-13-01")`},
		{"2024-1-31", syntax + ` (got "2024-1-31")`},
		{"106752d", `is too long (got "106752d"; the maximum is about 290 years)`},
		{"99999999999999999999w", `is too long (got "99999999999999999999w"; the maximum is about 290 years)`},
		{"-99999999999999999999w", syntax + ` (got "-99999999999999999999w")`},
	}
	for _, tt := range tests {
		_, err := ParseMaxAge(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseMaxAge(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestMaxAgeZero(t *testing.T) {
	var m MaxAge
	if !m.IsZero() || m.String() != "" || !m.Since(time.Now()).IsZero() {
		t.Errorf("zero MaxAge: %+v", m)
	}
}

func TestMaxAgeFromTOMLDate(t *testing.T) {
	src := "[accounts.a]\nmax_age = 2024-01-31\n[accounts.a.remote]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n[accounts.a.local]\npath = \"/m\"\n"
	c, err := Parse("", []byte(src), testEnv("HOME", "/h"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseMaxAge("2024-01-31")
	if got := c.Accounts["a"].MaxAge; got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, v := range []string{"2024-01-31T10:00:00", "2024-01-31T10:00:00Z", "10:00:00"} {
		_, err := Parse("", []byte(strings.Replace(src, "2024-01-31", v, 1)), testEnv("HOME", "/h"))
		if err == nil {
			t.Errorf("max_age = %s accepted", v)
		}
	}
}
