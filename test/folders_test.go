package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lastSyncRE matches the times of the last syncs in `folders --json`.
var lastSyncRE = regexp.MustCompile(`"last_sync": "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"`)

// TestFolders: `mailsync folders -a acct` lists the server and local
// folders side by side, with each side's message count and the sync
// status the state records: synced, stopped (by the mass-deletion
// guard), never-synced (a new server folder, a new local folder),
// excluded. Before any sync it lists the folders without creating the
// state. Text and --json are golden, the sync times masked.
func TestFolders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{remoteExtra: "folders = [\"*\", \"!Spam\"]\nfolder_map = { Work = \"Job\" }\n"})
	e.seedServer("INBOX", seeds("fo", 30, 800))
	e.seedServer("Work", seeds("fow", 2, 800))
	e.seedServer("Spam", seeds("fos", 1, 800))
	m := e.checkMasks(t, e.srv.Port)

	r := e.run("folders", "-a", acct)
	t.Logf("folders before any sync: %s", r)
	if r.code != 0 {
		t.Fatalf("folders before any sync: want exit 0, got %s", r)
	}
	if _, err := os.Stat(e.state); !os.IsNotExist(err) {
		t.Errorf("folders created the state directory (%v)", err)
	}
	if _, err := os.Stat(e.mail); !os.IsNotExist(err) {
		t.Errorf("folders created the local root (%v)", err)
	}
	checkGolden(t, "folders-new.golden", m.mask(r.stdout))

	e.mustSync("sync")
	// Most of INBOX removed locally: the guard stops it.
	n := 0
	for p := range e.localIDs(t, "INBOX") {
		if n++; n <= 20 {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := e.run("sync"); r.code != 1 {
		t.Fatalf("want the guard to fail the sync, got %s", r)
	}
	// New on each side since, and one more message on the server.
	e.seedServer("Later", seeds("fol", 1, 800))
	e.seedServer("Work", []seed{{id: "fow-new", size: 800}})
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(e.localDir("Drafts"), sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.localDir("Drafts"), "cur", "1700000000.M1P1.host:2,S"), toLF(makeMsg("fod", 300)), 0o600); err != nil {
		t.Fatal(err)
	}

	r = e.run("folders", "-a", acct)
	t.Logf("folders: %s", r)
	if r.code != 0 {
		t.Fatalf("folders: want exit 0, got %s", r)
	}
	checkGolden(t, "folders.golden", m.mask(r.stdout))

	// With the protocol traced, logs go to stderr, the JSON alone to stdout.
	r = e.run("folders", "-a", acct, "--json", "--log-level", "trace")
	if r.code != 0 {
		t.Fatalf("folders --json: want exit 0, got %s", r)
	}
	if !strings.Contains(r.stderr, "C: ") {
		t.Errorf("folders --json --log-level trace logged no protocol trace on stderr:\n%s", r.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("folders --json: stdout is not one JSON document (%v):\n%s", err, r.stdout)
	}
	checkGolden(t, "folders.json.golden", lastSyncRE.ReplaceAllString(m.mask(r.stdout), `"last_sync": "$$TIME"`))

	if r := e.run("folders"); r.code != 2 {
		t.Errorf("folders without -a: want exit 2, got %s", r)
	}
}
