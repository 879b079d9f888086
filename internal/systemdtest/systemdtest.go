// Package systemdtest runs a real "systemd --user" manager for integration
// tests, on machines where PID 1 is not systemd (a CI VM), as root.
//
// Each Manager gets:
//   - a private mount namespace (unshare -m) with a tmpfs on /run/systemd
//     holding /run/systemd/system, so systemd believes it was booted with
//     systemd, and /run/systemd/journal linked to a stand-in journald;
//   - a cgroup of its own (systemdtest-PID-N in the name=systemd and cgroup2
//     hierarchies, or in cgroup2 alone), so it does not move the machine's
//     processes around;
//   - its own HOME, XDG_* dirs and XDG_RUNTIME_DIR under one short temp dir,
//     never root's real ones;
//   - a user.conf that logs the manager to the stand-in journal, which writes
//     the manager's log and every unit's journal output to LogFile (UnitLog),
//     and sets DefaultTimerAccuracySec=1ms so timers fire on time.
//
// Start skips the test with the reason when this cannot work (not root,
// systemd missing, manager not coming up); with CI=true it fails instead.
// Several managers may run at once, in parallel tests. A typical test:
//
//	m := systemdtest.Start(t)
//	os.WriteFile(filepath.Join(m.UnitDir, "x.service"), unit, 0o644)
//	if _, err := m.Systemctl("daemon-reload"); err != nil { t.Fatal(err) }
//	if _, err := m.Systemctl("start", "x.service"); err != nil { t.Fatal(err) }
//	m.WaitFor("x to log", 5*time.Second, func() bool {
//		return strings.Contains(m.UnitLog(), "hello")
//	})
//
// Run clients (systemctl, busctl, the program under test) through
// m.Command, which enters the manager's mount namespace with m.Env.
//
// Needs: root, /lib/systemd/systemd, systemctl, unshare, nsenter, and
// dbus-user-session for the bus; systemd-analyze for Verify. Tested with
// systemd 252 (Debian 12) on a cgroup v1/v2 hybrid; a cgroup2-only layout
// is handled (the cgroup goes under /sys/fs/cgroup) but was not tried.
package systemdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TB is the part of testing.TB the harness uses.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// Manager is a running user manager. Its fields are read-only.
type Manager struct {
	Dir        string // the temp dir holding everything below
	Home       string
	ConfigHome string // XDG_CONFIG_HOME; user.conf is in ConfigHome/systemd
	DataHome   string
	StateHome  string
	CacheHome  string
	RuntimeDir string // XDG_RUNTIME_DIR; the user bus is RuntimeDir/bus
	UnitDir    string // ConfigHome/systemd/user: install units here
	LogFile    string // manager log and unit output, one line each
	PID        int    // the manager's
	Cgroups    []string

	t       TB
	cmd     *exec.Cmd
	done    chan struct{} // closed when the manager has exited
	journal *journal
	nsenter string
}

const systemdBin = "/lib/systemd/systemd"

// Bounds: the manager starts in about a second; stopping waits for units'
// own stop timeouts (mailsync's is 30 s) only up to stopTimeout.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
)

// unavailable skips, or fails under CI=true, where systemd must work.
func unavailable(t TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("systemdtest: "+format, args...)
	}
	t.Skipf("systemdtest: "+format+" (set CI=true to fail instead)", args...)
}

// Start starts a user manager and returns once it is running (or degraded)
// and its bus socket exists. Cleanup stops it, kills what is left in its
// cgroup, removes the cgroup and the temp dir, and on failure logs the tail
// of LogFile.
func Start(t TB) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "must run as root to start a user manager in its own namespace and cgroup (euid %d)", os.Geteuid())
	}
	if _, err := os.Stat(systemdBin); err != nil {
		unavailable(t, "%s: %v (install the systemd package)", systemdBin, err)
	}
	paths := map[string]string{}
	for _, name := range []string{"systemctl", "unshare", "nsenter", "sh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			unavailable(t, "%s not found in PATH: %v", name, err)
		}
		paths[name] = p
	}
	mounts, err := cgroupMounts()
	if err != nil {
		unavailable(t, "reading cgroup mounts: %v", err)
	}
	sweepStale(mounts)

	// Sockets live below dir, and sun_path holds 108 bytes: stay short
	// even when TMPDIR is long.
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "sdu")
	if err != nil {
		t.Fatalf("systemdtest: %v", err)
	}
	// Unique as the temp dir is; the test's PID tells a sweep whether its
	// owner still runs.
	name := fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), strings.TrimPrefix(filepath.Base(dir), "sdu"))
	cgroups, err := joinDirs(mounts, name)
	if err != nil {
		os.RemoveAll(dir)
		unavailable(t, "%v", err)
	}
	m := &Manager{
		Dir:        dir,
		Home:       filepath.Join(dir, "home"),
		ConfigHome: filepath.Join(dir, "config"),
		DataHome:   filepath.Join(dir, "data"),
		StateHome:  filepath.Join(dir, "state"),
		CacheHome:  filepath.Join(dir, "cache"),
		RuntimeDir: filepath.Join(dir, "run"),
		LogFile:    filepath.Join(dir, "units.log"),
		t:          t,
		done:       make(chan struct{}),
		nsenter:    paths["nsenter"],
	}
	m.UnitDir = filepath.Join(m.ConfigHome, "systemd", "user")
	t.Cleanup(m.stop)
	journalDir := filepath.Join(dir, "journal")
	for _, d := range []string{m.Home, m.UnitDir, m.DataHome, m.StateHome, m.CacheHome, m.RuntimeDir, journalDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatalf("systemdtest: %v", err)
		}
	}
	// Logging is set here, not on the command line, because daemon-reload
	// forgets command-line settings but rereads user.conf.
	conf := "[Manager]\nLogTarget=journal\nLogLevel=info\nDefaultStandardOutput=journal\nDefaultStandardError=inherit\nDefaultTimerAccuracySec=1ms\n"
	if err := os.WriteFile(filepath.Join(m.ConfigHome, "systemd", "user.conf"), []byte(conf), 0o644); err != nil {
		t.Fatalf("systemdtest: %v", err)
	}
	if m.journal, err = startJournal(journalDir, m.LogFile); err != nil {
		t.Fatalf("systemdtest: stand-in journal: %v", err)
	}
	for _, cg := range cgroups {
		if err := os.Mkdir(cg, 0o755); err != nil {
			unavailable(t, "creating cgroup: %v", err)
		}
		m.Cgroups = append(m.Cgroups, cg)
	}

	// The shell joins the cgroups and sets up the namespace, then becomes
	// the manager, keeping its PID. /dev/console and /dev/kmsg are covered
	// so that a manager that cannot reach the journal does not write to the
	// machine's console or kernel log.
	script := `set -e
j=$1; shift
for f in "$@"; do echo $$ > "$f"; done
mkdir -p /run/systemd
mount -t tmpfs -o mode=0755 systemdtest /run/systemd
mkdir /run/systemd/system
ln -s "$j" /run/systemd/journal
for d in /dev/console /dev/kmsg; do if [ -e $d ]; then mount --bind /dev/null $d || :; fi; done
exec ` + systemdBin + ` --user`
	args := []string{"-m", paths["sh"], "-c", script, "sh", journalDir}
	for _, cg := range cgroups {
		args = append(args, filepath.Join(cg, "cgroup.procs"))
	}
	out, err := os.Create(filepath.Join(dir, "manager.out"))
	if err != nil {
		t.Fatalf("systemdtest: %v", err)
	}
	defer out.Close()
	m.cmd = exec.Command(paths["unshare"], args...)
	m.cmd.Dir = m.Home
	m.cmd.Env = append(m.baseEnv(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	m.cmd.Stdout, m.cmd.Stderr = out, out
	// Own session: a ^C to go test is not the manager's. Pdeathsig: if the
	// test binary dies without cleanup, the manager still shuts down. It is
	// sent when the *thread* that forked exits, and the runtime ends a
	// thread whose locked goroutine returns (dovetest forks on one): so
	// the fork happens on a locked thread of its own, which lives exactly
	// as long as the manager.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := m.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = m.cmd.Wait()
		close(m.done)
	}()
	if err := <-started; err != nil {
		unavailable(t, "starting %s: %v", paths["unshare"], err)
	}
	m.PID = m.cmd.Process.Pid

	deadline := time.Now().Add(startTimeout)
	state := ""
	for {
		select {
		case <-m.done:
			unavailable(t, "user manager exited while starting (%v); manager.out:\n%s\nlog:\n%s\n", m.cmd.ProcessState, strings.TrimSpace(m.readFile("manager.out")), m.tail(40))
		default:
		}
		out, _ := m.Systemctl("is-system-running")
		state = out
		_, err := os.Stat(filepath.Join(m.RuntimeDir, "bus"))
		if (state == "running" || state == "degraded") && err == nil {
			break
		}
		if time.Now().After(deadline) {
			bus := "exists"
			if err != nil {
				bus = "missing (is dbus-user-session installed?)"
			}
			unavailable(t, "user manager not up after %v: is-system-running says %q, bus socket %s; log:\n%s\n", startTimeout, state, bus, m.tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state == "degraded" {
		failed, _ := m.Systemctl("list-units", "--failed", "--no-legend")
		t.Logf("systemdtest: user manager is degraded; failed units:\n%s", failed)
	}
	return m
}

func (m *Manager) baseEnv() []string {
	return []string{
		"HOME=" + m.Home,
		"XDG_CONFIG_HOME=" + m.ConfigHome,
		"XDG_DATA_HOME=" + m.DataHome,
		"XDG_STATE_HOME=" + m.StateHome,
		"XDG_CACHE_HOME=" + m.CacheHome,
		"XDG_RUNTIME_DIR=" + m.RuntimeDir,
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(m.RuntimeDir, "bus"),
	}
}

// Env is the environment a client of the manager needs: HOME, the XDG dirs,
// XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, and the test's PATH. Nothing
// else of the test's environment is passed.
func (m *Manager) Env() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return append(m.baseEnv(), "PATH="+path)
}

// Command prepares name with args to run in the manager's mount namespace
// (where /run/systemd is the manager's) with Env, in the caller's working
// directory or cmd.Dir.
func (m *Manager) Command(name string, args ...string) *exec.Cmd {
	// --wd=.: entering a mount namespace resets the working directory.
	cmd := exec.Command(m.nsenter, append([]string{"-t", strconv.Itoa(m.PID), "-m", "--wd=.", "--", name}, args...)...)
	cmd.Env = m.Env()
	return cmd
}

// Systemctl runs "systemctl --user args..." and returns its combined output
// with surrounding white space trimmed.
func (m *Manager) Systemctl(args ...string) (string, error) {
	out, err := m.Command("systemctl", append([]string{"--user"}, args...)...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("systemctl --user %s: %w: %s", strings.Join(args, " "), err, s)
	}
	return s, nil
}

// Show returns one property of unit ("systemctl --user show -p PROP
// --value UNIT"); it fails the test if systemctl fails.
func (m *Manager) Show(unit, property string) string {
	m.t.Helper()
	out, err := m.Systemctl("show", "-p", property, "--value", unit)
	if err != nil {
		m.t.Fatalf("systemdtest: %v", err)
	}
	return out
}

// WaitFor polls cond every 50 ms and fails the test if it is not true
// within timeout; what names the condition in the failure.
func (m *Manager) WaitFor(what string, timeout time.Duration, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("systemdtest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// UnitLog returns what LogFile holds: the manager's log and the units'
// stdout/stderr (when they go to the journal, the default), lines prefixed
// with the time and "UNIT IDENT[PID]:" or, for the manager, "systemd[PID]:".
// Output arrives asynchronously: wait for a line with WaitFor rather than
// expecting it the moment a unit has exited.
func (m *Manager) UnitLog() string {
	b, _ := os.ReadFile(m.LogFile)
	return string(b)
}

// Verify runs "systemd-analyze --user verify paths..." with Env, so units in
// UnitDir resolve, but a scratch XDG_RUNTIME_DIR. It returns an error when
// the command fails or prints anything: warnings such as unknown keys count.
func (m *Manager) Verify(paths ...string) error {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return err
	}
	rt, err := os.MkdirTemp(m.Dir, "verify")
	if err != nil {
		return err
	}
	defer os.RemoveAll(rt)
	cmd := exec.Command(analyze, append([]string{"--user", "verify"}, paths...)...)
	cmd.Env = append(m.Env(), "XDG_RUNTIME_DIR="+rt) // the later one wins
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	switch {
	case err != nil:
		return fmt.Errorf("systemd-analyze --user verify: %w: %s", err, s)
	case s != "":
		return fmt.Errorf("systemd-analyze --user verify: %s", s)
	}
	return nil
}

func (m *Manager) readFile(name string) string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, name))
	return string(b)
}

// tail returns the last n lines of LogFile.
func (m *Manager) tail(n int) string {
	lines := strings.Split(strings.TrimRight(m.UnitLog(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop is Start's cleanup; it copes with a Start that got only part way.
func (m *Manager) stop() {
	t := m.t
	t.Helper()
	// Taken now, so the shutdown's own lines do not crowd out the failure.
	if t.Failed() {
		t.Logf("systemdtest: last lines of %s:\n%s", m.LogFile, m.tail(60))
		if s := strings.TrimSpace(m.readFile("manager.out")); s != "" {
			t.Logf("systemdtest: manager.out:\n%s", s)
		}
	}
	if m.cmd != nil && m.cmd.Process != nil {
		// SIGTERM makes a user manager start exit.target, as "systemctl
		// --user exit" does, without needing its bus.
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(stopTimeout):
			t.Logf("systemdtest: user manager %d did not exit within %v of SIGTERM; killing it and its units", m.PID, stopTimeout)
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	}
	if err := killCgroups(m.Cgroups, 5*time.Second); err != nil {
		t.Errorf("systemdtest: %v", err)
	}
	// The manager may have created the cgroup in other hierarchies too.
	if len(m.Cgroups) > 0 {
		name := filepath.Base(m.Cgroups[0])
		if ms, err := cgroupMounts(); err == nil {
			for _, cm := range ms {
				if err := removeCgroup(filepath.Join(cm.path, name), 5*time.Second); err != nil {
					t.Errorf("systemdtest: removing cgroup: %v", err)
				}
			}
		}
	}
	if m.journal != nil {
		m.journal.close()
	}
	if err := os.RemoveAll(m.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("systemdtest: %v", err)
	}
}
