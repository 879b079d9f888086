package config

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits are the suffixes ParseSize accepts, matched case-insensitively
// because "25mb" has only one plausible meaning in a mail client config.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

var errSizeSyntax = errors.New(`must be a size like "25MB" or "10MiB", or a number of bytes`)

// ParseSize parses the max_size syntax: a non-negative number, optionally
// with a decimal fraction, optionally followed (with or without a space) by
// one of B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
// A bare number is bytes. Fractional bytes are rounded down. "" is 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	// Bound the work big.Rat does on hostile input; no real size is this
	// long.
	if len(s) > 40 {
		return 0, fmt.Errorf("%w (got %s)", errSizeSyntax, quoteValue(s))
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == intEnd+1 { // "5." has no fraction digits
			return 0, fmt.Errorf("%w (got %s)", errSizeSyntax, quoteValue(s))
		}
	}
	if intEnd == 0 {
		if strings.HasPrefix(s, "-") {
			return 0, fmt.Errorf("must not be negative (got %s)", quoteValue(s))
		}
		return 0, fmt.Errorf("%w (got %s)", errSizeSyntax, quoteValue(s))
	}
	num := s[:i]
	mult, ok := sizeUnits[strings.ToLower(strings.TrimLeft(s[i:], " "))]
	if !ok {
		return 0, fmt.Errorf("%w (got %s; units are B, KB, MB, GB, KiB, MiB, GiB)", errSizeSyntax, quoteValue(s))
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%w (got %s)", errSizeSyntax, quoteValue(s))
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("is too large (got %s)", quoteValue(s))
	}
	return n.Int64(), nil
}
