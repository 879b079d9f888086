package test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// maskRun replaces a run's timings in a sync --json document.
func maskRun(s string) string {
	s = regexp.MustCompile(`"seconds": [0-9.e+-]+`).ReplaceAllString(s, `"seconds": "$$SECONDS"`)
	return regexp.MustCompile(`\([0-9]+\.[0-9]s\)`).ReplaceAllString(s, "($$DURATION)")
}

// TestSyncJSON: sync --json prints one document on stdout, and only that
// (logs and a dry run's report go to stderr), with each account's counts,
// folders and the exit code; golden files hold it with the timings masked.
func TestSyncJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("json", 2, 1000))
	e.seedServer("Sent", seeds("json-sent", 1, 1000))

	// A dry run: the document says dry_run and "would"; the list of what
	// it would do is on stderr.
	r := e.run("--log-level", "info", "sync", "--dry-run", "--json")
	if r.code != 0 || !strings.Contains(r.stderr, "would   pull uid") {
		t.Fatalf("sync --dry-run --json: want exit 0 and the dry run's report on stderr, got %s", r)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	checkGolden(t, "sync-dry-run.json.golden", maskRun(r.stdout))

	r = e.run("--log-level", "trace", "sync", "--json")
	if r.code != 0 {
		t.Fatalf("sync --json: %s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "TRC") {
		t.Errorf("the log (--log-level trace) should be on stderr; got %s", r)
	}
	checkGolden(t, "sync.json.golden", maskRun(r.stdout))

	// A folder that exists nowhere: exit 2, in the document too.
	r = e.run("sync", "--json", "-f", "Nowhere")
	if r.code != 2 {
		t.Fatalf("sync --json -f Nowhere: want exit 2, got %s", r)
	}
	checkGolden(t, "sync-unknown-folder.json.golden", maskRun(r.stdout))
}
