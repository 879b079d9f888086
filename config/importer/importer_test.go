package importer

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsync/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testEnv is the environment of the golden tests: HOME is testdata/home,
// which holds the files the fixtures point at (a CA certificate, Maildirs),
// so that the translations can be checked against the file system and
// still come out the same on every machine.
func testEnv(t testing.TB) func(string) string {
	home, err := filepath.Abs("testdata/home")
	if err != nil {
		t.Fatal(err)
	}
	return func(k string) string {
		switch k {
		case "HOME":
			return home
		case "MAILDIR_ROOT":
			return home + "/Mail"
		}
		return ""
	}
}

// TestGolden translates every fixture under testdata/offlineimap and
// testdata/mbsync and compares the TOML and the problem list with the
// golden files beside it (FIXTURE.toml, FIXTURE.problems); -update
// rewrites them. Every translation must also load with config.Parse.
func TestGolden(t *testing.T) {
	for _, tool := range []string{"offlineimap", "mbsync"} {
		files, _ := filepath.Glob(filepath.Join("testdata", tool, "*.conf"))
		if len(files) == 0 && tool == "offlineimap" {
			t.Fatalf("no fixtures for %s", tool)
		}
		for _, f := range files {
			t.Run(tool+"/"+filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				env := testEnv(t)
				var res *Result
				if tool == "offlineimap" {
					res, err = Offlineimap(f, data, Options{Env: env})
				} else {
					res, err = Mbsync(f, data, Options{Env: env})
				}
				if err != nil {
					t.Fatalf("translation failed: %v", err)
				}
				var probs strings.Builder
				for _, p := range res.Problems {
					probs.WriteString(p.String() + "\n")
				}
				base := strings.TrimSuffix(f, ".conf")
				golden(t, base+".toml", res.TOML)
				golden(t, base+".problems", []byte(probs.String()))
				if _, err := config.Parse(base+".toml", res.TOML, env); err != nil {
					t.Errorf("the translation does not load:\n%v", err)
				}
				for _, p := range res.Problems {
					if strings.Contains(p.What, "does not load") {
						t.Errorf("problem: %s", p)
					}
				}
			})
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the translation (go test -update rewrites it); got:\n%s", path, got)
	}
}
