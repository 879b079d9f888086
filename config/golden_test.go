package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/broken/*.golden from the current messages")

// TestBrokenGolden loads every testdata/broken/NAME.toml and compares the
// rendered error with NAME.golden. The goldens are exactly what a user
// sees, so review them as prose after running with -update.
func TestBrokenGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/broken/*.toml files")
	}
	env := testEnv("HOME", "/home/u")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			_, err := Load(file, env)
			if err == nil {
				t.Fatal("Load succeeded; every file under testdata/broken must fail")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T does not unwrap to *Error", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBrokenGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("message mismatch for %s\n got:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// TestValidFiles makes sure the example configs under testdata/valid (also
// fuzz seeds) stay valid.
func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.toml")
	if len(files) == 0 {
		t.Fatal("no testdata/valid/*.toml files")
	}
	for _, file := range files {
		c, err := Load(file, testEnv("HOME", "/home/u"))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		checkConfig(t, c)
	}
}
