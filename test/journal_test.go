package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Logging to the systemd journal, read back from a real systemd-journald
// with `journalctl -o json`.
//
// The journald runs in a mount namespace of its own (unshare -m) with
// tmpfs on /run/systemd and /run/log, so it serves the usual sockets under
// /run/systemd/journal and keeps a volatile journal under /run/log/journal
// without touching the machine's. mailsync runs in that namespace (nsenter),
// so it logs over the path it uses in production, through go-systemd's
// journal package, unchanged.

const journaldBin = "/lib/systemd/systemd-journald"

// journald is a running systemd-journald in its own mount namespace.
type journald struct {
	pid     int
	nsenter string
}

// journaldUnavailable skips, or fails under CI=true, where journald must run.
func journaldUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("journald: "+format, args...)
	}
	t.Skipf("journald: "+format+" (set CI=true to fail instead)", args...)
}

// startJournald starts a journald for the test; cleanup stops it.
func startJournald(t *testing.T) *journald {
	t.Helper()
	if os.Geteuid() != 0 {
		journaldUnavailable(t, "must run as root to mount in a namespace of its own (euid %d)", os.Geteuid())
	}
	if _, err := os.Stat(journaldBin); err != nil {
		journaldUnavailable(t, "%v (install the systemd package)", err)
	}
	paths := map[string]string{}
	for _, name := range []string{"unshare", "nsenter", "journalctl", "sh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			journaldUnavailable(t, "%s not found in PATH: %v", name, err)
		}
		paths[name] = p
	}
	// Storage=volatile keeps the journal in /run/log/journal (a tmpfs here);
	// no reading or writing of the kernel log, the console or syslog; no
	// rate limit to drop a burst of debug lines.
	script := `set -e
mkdir -p /run/systemd /run/log
mount -t tmpfs -o mode=0755 journaltest /run/systemd
mount -t tmpfs -o mode=0755 journaltest /run/log
mkdir -p /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nRateLimitBurst=0\n' > /run/systemd/journald.conf.d/test.conf
for d in /dev/console /dev/kmsg; do if [ -e $d ]; then mount --bind /dev/null $d || :; fi; done
exec ` + journaldBin
	out, err := os.Create(filepath.Join(t.TempDir(), "journald.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(paths["unshare"], "-m", paths["sh"], "-c", script)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig is sent when the thread that forked exits: fork on a
	// locked thread that lives as long as journald.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	started, done := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		journaldUnavailable(t, "starting %s: %v", paths["unshare"], err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	j := &journald{pid: cmd.Process.Pid, nsenter: paths["nsenter"]}
	// The namespace's files are visible through /proc/PID/root.
	sock := fmt.Sprintf("/proc/%d/root/run/systemd/journal/socket", j.pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return j
		}
		select {
		case <-done:
			b, _ := os.ReadFile(out.Name())
			journaldUnavailable(t, "exited while starting (%v): %s", cmd.ProcessState, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			journaldUnavailable(t, "no socket after 10s: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// command prepares name with args to run in journald's mount namespace.
func (j *journald) command(name string, args ...string) *exec.Cmd {
	// --wd=.: entering a mount namespace resets the working directory.
	return exec.Command(j.nsenter, append([]string{"-t", strconv.Itoa(j.pid), "-m", "--wd=.", "--", name}, args...)...)
}

// entries returns the journal's entries that match all of matches
// (journalctl's FIELD=VALUE), as `journalctl -o json` gives them; a field
// whose value is not a string (binary, or repeated) is given as its JSON.
func (j *journald) entries(t *testing.T, matches ...string) []map[string]string {
	t.Helper()
	cmd := j.command("journalctl", append([]string{"-D", "/run/log/journal", "-o", "json", "--no-pager"}, matches...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("journalctl %s: %v", strings.Join(matches, " "), err)
	}
	var es []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("journalctl -o json: %v: %s", err, line)
		}
		e := map[string]string{}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				e[k] = s
			} else {
				e[k] = string(v)
			}
		}
		es = append(es, e)
	}
	return es
}

// waitEntries polls until entries matching matches include one for which
// cond holds, and returns them all.
func (j *journald) waitEntries(t *testing.T, cond func(map[string]string) bool, matches ...string) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es := j.entries(t, matches...)
		for _, e := range es {
			if cond(e) {
				return es
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no journal entry for %v as wanted within 10s; got %v", matches, es)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// journalEnv is a world with a folder that fails at every sync: INBOX has
// a new message to pull, Broken's local new/ is a file.
func journalEnv(t *testing.T) *env {
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("jin", 2, 500))
	e.seedServer("Broken", seeds("jbr", 1, 500))
	e.mustSync("sync")
	e.seedServer("INBOX", seeds("jin2", 1, 500))
	newDir := filepath.Join(e.localDir("Broken"), "new")
	if err := os.RemoveAll(newDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newDir, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// runIn runs `mailsync -c CONFIG args...` in j's namespace with the test
// environment plus extra, stderr going to the file stderr.
func (e *env) runIn(t *testing.T, j *journald, stderr *os.File, extra []string, args ...string) (pid, code int, stdout string) {
	t.Helper()
	cmd := j.command(binPath, append([]string{"-c", e.cfg}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = append(e.binEnv(), extra...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("mailsync did not end within 60s")
	}
	// nsenter execs mailsync: the PID is mailsync's.
	return cmd.Process.Pid, cmd.ProcessState.ExitCode(), out.String()
}

// checkEntries checks what every entry of one run must be: mailsync's
// identifier, a valid priority, no time field of its own and no colours,
// the account as a field (never repeated in the message) on every line
// about a folder. It returns the entry of Broken's failure.
func checkEntries(t *testing.T, es []map[string]string) map[string]string {
	t.Helper()
	var failure map[string]string
	folders := map[string]bool{}
	for _, e := range es {
		if e["SYSLOG_IDENTIFIER"] != "mailsync" {
			t.Errorf("SYSLOG_IDENTIFIER %q, want mailsync: %v", e["SYSLOG_IDENTIFIER"], e)
		}
		if p, err := strconv.Atoi(e["PRIORITY"]); err != nil || p < 0 || p > 7 {
			t.Errorf("PRIORITY %q is not a syslog level: %v", e["PRIORITY"], e)
		}
		for _, k := range []string{"TIME", "LEVEL", "MAILSYNC_MESSAGE"} {
			if _, ok := e[k]; ok {
				t.Errorf("field %s should not be there (the journal has its own time, PRIORITY and MESSAGE): %v", k, e)
			}
		}
		for k, v := range e {
			if strings.Contains(v, "\x1b[") {
				t.Errorf("%s has ANSI colours: %q", k, v)
			}
		}
		if f := e["FOLDER"]; f != "" {
			folders[f] = true
			if e["ACCOUNT"] != acct {
				t.Errorf("a line about folder %s without ACCOUNT=%s: %v", f, acct, e)
			}
			if strings.Contains(e["MESSAGE"], acct+"/"+f) || strings.Contains(e["ERROR"], acct+"/"+f) {
				t.Errorf("account/folder repeated in the text: %v", e)
			}
			if f == "Broken" && e["MESSAGE"] == "folder sync failed" {
				failure = e
			}
		}
	}
	if !folders["INBOX"] || !folders["Broken"] {
		t.Errorf("want debug lines with FOLDER=INBOX and FOLDER=Broken; folders seen: %v", folders)
	}
	if failure == nil {
		t.Fatalf("no entry MESSAGE=\"folder sync failed\" FOLDER=Broken among %v", es)
	}
	if failure["PRIORITY"] != "3" || !strings.Contains(failure["ERROR"], "no cur/ or new/ directory") {
		t.Errorf("the failure: want PRIORITY=3 and ERROR naming the cause (no cur/ or new/ directory); got %v", failure)
	}
	return failure
}

// TestJournalFields: with --log-format journal, a run's lines are journal
// entries whose fields journalctl can select on (ACCOUNT=, FOLDER=,
// PRIORITY=), nothing goes to stderr, and the summary stays on stdout.
func TestJournalFields(t *testing.T) {
	j := startJournald(t)
	e := journalEnv(t)
	stderr, err := os.Create(filepath.Join(e.dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	pid, code, stdout := e.runIn(t, j, stderr, nil, "--log-format", "journal", "--log-level", "debug", "sync")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a folder failed)", code)
	}
	if s := parseSummary(stdout); s.errors != 1 {
		t.Errorf("stdout should keep the summary line with 1 error; got %q", stdout)
	}
	isFailure := func(e map[string]string) bool { return e["MESSAGE"] == "folder sync failed" }
	// What `journalctl ACCOUNT=work` shows, for this run.
	es := j.waitEntries(t, isFailure, "ACCOUNT="+acct, "_PID="+strconv.Itoa(pid))
	failure := checkEntries(t, es)
	if failure["_COMM"] != "mailsync" {
		t.Errorf("_COMM %q: the entry should come from mailsync itself", failure["_COMM"])
	}
	if got := j.entries(t, "ACCOUNT="+acct, "FOLDER=Broken", "PRIORITY=3", "_PID="+strconv.Itoa(pid)); len(got) != 1 {
		t.Errorf("journalctl ACCOUNT=%s FOLDER=Broken PRIORITY=3: want the one failure, got %v", acct, got)
	}
	// Every line of the run went to the journal, each about the account.
	if all := j.entries(t, "_PID="+strconv.Itoa(pid)); len(all) != len(es) {
		t.Errorf("%d entries from the run, %d of them with ACCOUNT=%s: want all", len(all), len(es), acct)
	}
	if b, _ := os.ReadFile(stderr.Name()); len(b) != 0 {
		t.Errorf("stderr should be empty, the lines being in the journal; got %q", b)
	}
}

// TestJournalStream: under systemd (JOURNAL_STREAM names stderr's device
// and inode), mailsync logs to the journal without being told; with
// JOURNAL_STREAM naming another file, it writes console lines to stderr,
// in the same shape: the message, then account, folder and error fields.
func TestJournalStream(t *testing.T) {
	j := startJournald(t)
	e := journalEnv(t)
	stderr, err := os.Create(filepath.Join(e.dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	stream := fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)
	pid, code, _ := e.runIn(t, j, stderr, []string{stream}, "--log-level", "debug", "sync")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a folder failed)", code)
	}
	isFailure := func(e map[string]string) bool { return e["MESSAGE"] == "folder sync failed" }
	checkEntries(t, j.waitEntries(t, isFailure, "ACCOUNT="+acct, "_PID="+strconv.Itoa(pid)))
	if b, _ := os.ReadFile(stderr.Name()); len(b) != 0 {
		t.Errorf("stderr should be empty, the lines being in the journal; got %q", b)
	}

	// Another file's JOURNAL_STREAM: stderr is not the journal.
	other, err := os.Create(filepath.Join(e.dir, "stderr2"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	pid, code, _ = e.runIn(t, j, other, []string{stream}, "sync")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a folder failed)", code)
	}
	if got := j.entries(t, "_PID="+strconv.Itoa(pid)); len(got) != 0 {
		t.Errorf("stderr is not the journal, yet mailsync wrote to it: %v", got)
	}
	b, _ := os.ReadFile(other.Name())
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "folder sync failed") {
			line = l
		}
	}
	for _, want := range []string{"ERR folder sync failed", "account=" + acct, "folder=Broken", "error=", "no cur/ or new/ directory"} {
		if !strings.Contains(line, want) {
			t.Errorf("console line of the failure %q lacks %q; stderr:\n%s", line, want, b)
		}
	}
	if strings.Contains(line, acct+"/Broken") {
		t.Errorf("account/folder repeated in the console line: %q", line)
	}
}
