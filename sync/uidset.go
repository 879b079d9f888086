package sync

import (
	"fmt"
	"strconv"
	"strings"
)

// parseUIDSet reads a UID set in IMAP syntax ("1:5,7,9:12"), as written to
// the download journal by imap.UIDSet.String. "*" never appears there.
func parseUIDSet(s string) ([]uint32, error) {
	var out []uint32
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("UID set %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return nil, fmt.Errorf("UID set %q: %w", s, err)
			}
		}
		if a > b {
			a, b = b, a
		}
		if b-a > 1<<24 {
			return nil, fmt.Errorf("UID set %q: range too large", s)
		}
		for u := a; u <= b; u++ {
			out = append(out, uint32(u))
		}
	}
	return out, nil
}
