package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		opts      Options
		warn, err bool // whether a warning / an error is printed
	}{
		{Options{}, true, true},
		{Options{Level: "error"}, false, true},
		{Options{Level: "debug", Quiet: true}, false, true},
		{Options{Level: "INFO", Format: "json"}, true, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log, err := New(&buf, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		log.Warn().Msg("w-line")
		log.Error().Msg("e-line")
		if got := strings.Contains(buf.String(), "w-line"); got != tt.warn {
			t.Errorf("%+v: warning printed = %v, want %v", tt.opts, got, tt.warn)
		}
		if got := strings.Contains(buf.String(), "e-line"); got != tt.err {
			t.Errorf("%+v: error printed = %v, want %v", tt.opts, got, tt.err)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, Options{Format: "json"})
	log.Warn().Str("account", "a").Msg("m")
	if !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), `"account":"a"`) {
		t.Errorf("not JSON: %q", buf.String())
	}
}

func TestBadFlags(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Level: "loud"}); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("bad level: got %v", err)
	}
	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("bad format: got %v", err)
	}
}

// TestConsoleShape: a console line is the message, then the fields; the
// error field keeps the error's text as it is, quotes included.
func TestConsoleShape(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	log.Error().Str("account", "alice").Str("folder", "X").Err(errors.New(`port 993 speaks TLS; set tls = "implicit"`)).Msg("folder sync failed")
	want := `ERR folder sync failed error="port 993 speaks TLS; set tls = "implicit"" account=alice folder=X`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("console line %q, want it to contain %q", buf.String(), want)
	}
}
