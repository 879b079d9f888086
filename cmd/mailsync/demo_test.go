package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestRun runs the whole demo; Run itself fails unless the second sync moves
// exactly one message and one flag each way and the third changes nothing.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(context.Background(), &out, t.TempDir(), zerolog.Nop()); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"demo: pulled 37, pushed 0",
		"demo: pulled 1, pushed 1, flags 1↓ 1↑, deleted 0↓ 0↑, 0 errors",
		"demo: pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors",
		"Entwürfe",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
