package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"0", 0},
		{"123", 123},
		{"  123  ", 123},
		{"25MB", 25_000_000},
		{"25 MB", 25_000_000},
		{"25mb", 25_000_000},
		{"1B", 1},
		{"1KB", 1000},
		{"1GB", 1_000_000_000},
		{"1KiB", 1024},
		{"10MiB", 10 << 20},
		{"2GiB", 2 << 30},
		{"1.5MB", 1_500_000},
		{"0.5KiB", 512},
		{"1.0001KB", 1000},
		{"007", 7},
		{"9223372036854775807", math.MaxInt64},
		{"8589934591GiB", 8589934591 << 30},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	const syntax = `must be a size like "25MB" or "10MiB", or a number of bytes`
	tests := []struct{ in, want string }{
		{"MB", syntax + ` (got "MB")`},
		{"-1", `must not be negative (got "-1")`},
		{"-1MB", `must not be negative (got "-1MB")`},
		{"25 megabytes", syntax + ` (got "25 megabytes"; units are B, KB, MB, GB, KiB, MiB, GiB)`},
		{"25TB", syntax + ` (got "25TB"; units are B, KB, MB, GB, KiB, MiB, GiB)`},
		{"1.", syntax + ` (got "1.")`},
		{".5MB", syntax + ` (got ".5MB")`},
		{"1e3", syntax + ` (got "1e3"; units are B, KB, MB, GB, KiB, MiB, GiB)`},
		{"1/2", syntax + ` (got "1/2"; units are B, KB, MB, GB, KiB, MiB, GiB)`},
		{"9223372036854775808", `is too large (got "9223372036854775808")`},
		{"8589934592GiB", `is too large (got "8589934592GiB")`},
		{strings.Repeat("9", 41), syntax + ` (got "` + strings.Repeat("9", 41) + `")`},
	}
	for _, tt := range tests {
		_, err := ParseSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}
