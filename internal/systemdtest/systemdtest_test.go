package systemdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain checks that no test left a cgroup of this process behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if left := leftoverCgroups(fmt.Sprintf("%s%d-*", cgroupPrefix, os.Getpid())); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "cgroups left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// leftoverCgroups globs pattern in every hierarchy, whatever the layout.
func leftoverCgroups(pattern string) []string {
	a, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", pattern))
	b, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", pattern))
	return append(a, b...)
}

func writeUnit(t *testing.T, m *Manager, name, text string) string {
	t.Helper()
	p := filepath.Join(m.UnitDir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func systemctl(t *testing.T, m *Manager, args ...string) string {
	t.Helper()
	out, err := m.Systemctl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileHas(path, want string) func() bool {
	return func() bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.TrimSpace(string(b)) == want
	}
}

func TestOneshot(t *testing.T) {
	t.Parallel()
	m := Start(t)
	out := filepath.Join(m.Dir, "out")
	writeUnit(t, m, "hello.service", fmt.Sprintf(`[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo hi > %s; echo to-stdout; echo to-stderr >&2'
`, out))
	systemctl(t, m, "daemon-reload")
	systemctl(t, m, "start", "hello.service") // returns once the oneshot has run
	if !fileHas(out, "hi")() {
		t.Fatalf("%s does not say hi", out)
	}
	if got := m.Show("hello.service", "Result"); got != "success" {
		t.Errorf("Result = %q", got)
	}
	m.WaitFor("the unit's output in the log", 5*time.Second, func() bool {
		l := m.UnitLog()
		return strings.Contains(l, "sh[") && strings.Contains(l, "to-stdout") && strings.Contains(l, "to-stderr")
	})
	// The manager's own messages arrive through the native protocol.
	m.WaitFor("the manager's log", 5*time.Second, func() bool {
		return strings.Contains(m.UnitLog(), "systemd[")
	})
}

// notifyScript is a Type=notify main process: systemd-notify, run by the
// shell, sends as the shell (its parent), so NotifyAccess=main accepts it.
const notifyScript = `#!/bin/sh
systemd-notify --ready --status="serving"
exec sleep infinity
`

func writeScript(t *testing.T, m *Manager, name, text string) string {
	t.Helper()
	p := filepath.Join(m.Dir, name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNotify(t *testing.T) {
	t.Parallel()
	m := Start(t)
	script := writeScript(t, m, "notify.sh", notifyScript)
	writeUnit(t, m, "notify.service", `[Service]
Type=notify
NotifyAccess=main
ExecStart=`+script+"\n")
	systemctl(t, m, "daemon-reload")
	systemctl(t, m, "start", "notify.service") // blocks until READY=1
	if got := m.Show("notify.service", "ActiveState"); got != "active" {
		t.Fatalf("ActiveState = %q", got)
	}
	if got := m.Show("notify.service", "StatusText"); got != "serving" {
		t.Errorf("StatusText = %q", got)
	}
}

func TestWatchdog(t *testing.T) {
	t.Parallel()
	m := Start(t)
	script := writeScript(t, m, "notify.sh", notifyScript) // ready, then no pings
	writeUnit(t, m, "dog.service", `[Service]
Type=notify
NotifyAccess=main
ExecStart=`+script+`
WatchdogSec=1
Restart=on-watchdog
RestartSec=100ms
`)
	systemctl(t, m, "daemon-reload")
	systemctl(t, m, "start", "dog.service")
	m.WaitFor("a restart after the watchdog timeout", 10*time.Second, func() bool {
		n, _ := strconv.Atoi(m.Show("dog.service", "NRestarts"))
		return n >= 1
	})
	m.WaitFor("the timeout in the log", 5*time.Second, func() bool {
		return strings.Contains(m.UnitLog(), "dog.service: Watchdog timeout")
	})
}

func TestTimer(t *testing.T) {
	t.Parallel()
	m := Start(t)
	out := filepath.Join(m.Dir, "ticked")
	writeUnit(t, m, "tick.service", fmt.Sprintf("[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo tick > %s'\n", out))
	// No AccuracySec=: user.conf's DefaultTimerAccuracySec=1ms applies.
	writeUnit(t, m, "tick.timer", "[Timer]\nOnActiveSec=1s\n")
	systemctl(t, m, "daemon-reload")
	start := time.Now()
	systemctl(t, m, "start", "tick.timer")
	m.WaitFor("the timer's service to run", 10*time.Second, fileHas(out, "tick"))
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("fired after %v, before OnActiveSec=1s", d)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	m := Start(t)
	good := writeUnit(t, m, "good.service", "[Unit]\nDescription=good\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
	if err := m.Verify(good); err != nil {
		t.Errorf("good unit: %v", err)
	}
	missing := writeUnit(t, m, "missing.service", "[Service]\nExecStart=/nonexistent/prog\n")
	if err := m.Verify(missing); err == nil || !strings.Contains(err.Error(), "/nonexistent/prog") {
		t.Errorf("unit with a missing program: err = %v", err)
	}
	// Exits 0, but the warning is an error here.
	unknown := writeUnit(t, m, "unknown.service", "[Service]\nExecStart=/bin/true\nBogus=1\n")
	if err := m.Verify(unknown); err == nil || !strings.Contains(err.Error(), "Bogus") {
		t.Errorf("unit with an unknown key: err = %v", err)
	}
}

func TestParallelManagers(t *testing.T) {
	t.Parallel()
	var ms [2]*Manager
	started := make(chan int, 2)
	for i := range ms {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			m := Start(t)
			ms[i] = m
			out := filepath.Join(m.Dir, "out")
			writeUnit(t, m, fmt.Sprintf("only%d.service", i), fmt.Sprintf("[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo %d > %s'\n", i, out))
			systemctl(t, m, "daemon-reload")
			started <- i
			// Both managers are up at once before either goes on.
			m.WaitFor("the other manager", 30*time.Second, func() bool { return len(started) == 2 })
			systemctl(t, m, "start", fmt.Sprintf("only%d.service", i))
			if !fileHas(out, strconv.Itoa(i))() {
				t.Errorf("only%d.service did not run", i)
			}
			if got := m.Show(fmt.Sprintf("only%d.service", 1-i), "LoadState"); got != "not-found" {
				t.Errorf("manager %d sees the other's unit: LoadState = %q", i, got)
			}
		})
	}
	t.Cleanup(func() {
		if ms[0] == nil || ms[1] == nil {
			return
		}
		if ms[0].PID == ms[1].PID || ms[0].RuntimeDir == ms[1].RuntimeDir || ms[0].Cgroups[0] == ms[1].Cgroups[0] {
			t.Errorf("managers share state: %+v %+v", ms[0], ms[1])
		}
	})
}

// TestCleanup stops a manager with a unit running and checks that nothing
// of it is left: processes, cgroups, temp dir; and that the manager moved
// no process outside its cgroup (one started in the root cgroup moves them
// all into /init.scope).
func TestCleanup(t *testing.T) {
	t.Parallel()
	before := cgroupsOf(t, 1, os.Getpid())
	var pids []int
	var cgroups []string
	var dir string
	t.Run("run", func(t *testing.T) {
		m := Start(t)
		writeUnit(t, m, "sleeper.service", "[Service]\nExecStart=/bin/sleep infinity\n")
		systemctl(t, m, "daemon-reload")
		systemctl(t, m, "start", "sleeper.service")
		// A client on DBUS_SESSION_BUS_ADDRESS socket-activates dbus.service.
		if out, err := m.Command("busctl", "--user", "--no-pager", "list").CombinedOutput(); err != nil {
			t.Fatalf("busctl --user list: %v: %s", err, out)
		}
		main, _ := strconv.Atoi(m.Show("sleeper.service", "MainPID"))
		bus, _ := strconv.Atoi(m.Show("dbus.service", "MainPID"))
		if main == 0 || bus == 0 {
			t.Fatalf("MainPID of sleeper.service %d, of dbus.service %d", main, bus)
		}
		pids = append(pids, m.PID, main, bus)
		pids = append(pids, procs(m.Cgroups[0])...)
		cgroups = m.Cgroups
		dir = m.Dir
		if after := cgroupsOf(t, 1, os.Getpid()); after != before {
			t.Errorf("cgroups of PID 1 and the test changed:\n%s\nbecame\n%s", before, after)
		}
	})
	if dir == "" {
		return // skipped or failed
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d survived the cleanup: %s", pid, cmdline(pid))
		}
	}
	name := filepath.Base(cgroups[0])
	if left := leftoverCgroups(name); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", dir, err)
	}
}

func cgroupsOf(t *testing.T, pids ...int) string {
	var s string
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			t.Fatal(err)
		}
		s += string(b)
	}
	return s
}

// alive tells whether pid exists and is not a zombie waiting for its parent.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}
