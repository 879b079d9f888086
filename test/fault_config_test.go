package test

// Fault injection: broken configuration files, through the real binary.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cfgHome is the HOME the config package's golden tests use (their "~/"
// paths expand to it, and overlapping_paths.golden shows it).
const cfgHome = "/home/u"

// cfgRun runs `mailsync -c path sync` in dir with only PATH and HOME set,
// the environment config's golden tests give config.Load (no XDG_*).
func cfgRun(t *testing.T, dir, path string) result {
	t.Helper()
	cmd := exec.Command(binPath, "-c", path, "sync")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cfgHome, "NO_COLOR=1", "TZ=UTC"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("mailsync -c %s sync did not end within 30s", path)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), duration: time.Since(start), code: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.signal = ws.Signal()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running mailsync: %v", err)
	}
	return r
}

// TestConfigBrokenFilesThroughBinary: every broken config of the config
// package's golden tests (config/testdata/broken/NAME.toml), given to the
// real binary, makes `mailsync -c FILE sync` exit 2 before touching
// anything, with stderr exactly "mailsync: " followed by NAME.golden: every
// problem, one per line, each naming the file as the user gave it, the line
// and the key. The goldens are reused as they are, so the CLI and the
// config package can't drift apart: run from config/ with the relative path
// the goldens show, and again with an absolute path, which must then
// appear in place of the relative one.
func TestConfigBrokenFilesThroughBinary(t *testing.T) {
	t.Parallel()
	cfgDir, err := filepath.Abs(filepath.Join("..", "config"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(cfgDir, "testdata", "broken", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no config/testdata/broken/*.toml files under %s", cfgDir)
	}
	_, homeErr := os.Stat(cfgHome)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(file, ".toml") + ".golden")
			if err != nil {
				t.Fatalf("%v (config's golden files: go test ./config/ -run TestBrokenGolden -update)", err)
			}
			rel := filepath.ToSlash(filepath.Join("testdata", "broken", name+".toml"))
			if !strings.Contains(string(golden), rel) {
				t.Fatalf("%s.golden does not name the file as %q; this test assumes the config goldens show the path given to Load", name, rel)
			}
			for _, c := range []struct{ how, arg, want string }{
				{"relative path", rel, "mailsync: " + string(golden)},
				{"absolute path", file, "mailsync: " + strings.ReplaceAll(string(golden), rel, file)},
			} {
				r := cfgRun(t, cfgDir, c.arg)
				if r.code != 2 || r.signal != 0 {
					t.Errorf("%s: mailsync -c %s sync: want exit 2, got %s", c.how, c.arg, r)
					continue
				}
				if r.stdout != "" {
					t.Errorf("%s: a configuration error must print nothing on stdout; got %q", c.how, r.stdout)
				}
				if r.stderr != c.want {
					t.Errorf("%s: stderr differs from %s.golden (with the \"mailsync: \" prefix)\n got:\n%s\nwant:\n%s", c.how, name, r.stderr, c.want)
				}
			}
		})
	}
	// A configuration error changes nothing: not even the default state
	// directory under HOME may have been created.
	if os.IsNotExist(homeErr) {
		if _, err := os.Stat(cfgHome); err == nil {
			t.Errorf("a run with a broken config created %s", cfgHome)
		}
	}
}
