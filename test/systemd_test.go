package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
	"mailsync/internal/systemdtest"
)

// sdEnv is a test world for the systemd units: a Dovecot and a config
// (env), and a real systemd user manager (m) whose units run the binary
// under test.
type sdEnv struct {
	*env
	m *systemdtest.Manager
}

func newSdEnv(t *testing.T, e *env) *sdEnv {
	t.Helper()
	return &sdEnv{env: e, m: systemdtest.Start(t)}
}

// mailsync runs the binary, with -c, in the manager's session.
func (s *sdEnv) mailsync(args ...string) result {
	s.t.Helper()
	cmd := s.m.Command(binPath, append([]string{"-c", s.cfg}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), duration: time.Since(start)}
	if err != nil && r.code == 0 {
		r.code = -1
	}
	return r
}

func (s *sdEnv) mustMailsync(args ...string) result {
	s.t.Helper()
	r := s.mailsync(args...)
	if r.code != 0 {
		s.t.Fatalf("mailsync %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (s *sdEnv) systemctl(args ...string) string {
	s.t.Helper()
	out, err := s.m.Systemctl(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// dropIn writes a drop-in for unit and reloads the manager.
func (s *sdEnv) dropIn(unit, text string) {
	s.t.Helper()
	dir := filepath.Join(s.m.UnitDir, unit+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.conf"), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.systemctl("daemon-reload")
}

// TestSystemdInstall: install writes every unit, each passes
// systemd-analyze verify (templates instantiated); a second run changes
// nothing; a unit the user edited is left alone unless --force; print
// shows the path unit with its directories; uninstall leaves nothing.
func TestSystemdInstall(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{}))
	s.seedServer("INBOX", seeds("inst", 1, 500))
	s.mustSync("sync") // the Maildir exists: the path unit has directories

	r := s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--online-target")
	for _, u := range []string{"mail.target", "mailsync.service", "mailsync@.service", "mailsync-oneshot.service",
		"mailsync-oneshot@.service", "mailsync-oneshot.timer", "mailsync-oneshot@.timer", "mailsync-failure@.service",
		"mailsync-push@.path", "mailsync-push@" + acct + ".path.d/paths.conf", "mailsync@" + acct + ".service.d/online.conf",
		"internet-online.target", "internet-offline.target", "internet-init.service", "internet-watch.service"} {
		if !strings.Contains(r.stdout, "wrote "+filepath.Join(s.m.UnitDir, u)+"\n") {
			t.Errorf("install did not say it wrote %s:\n%s", u, r.stdout)
		}
	}
	units := []string{"mail.target", "mailsync.service", "mailsync@" + acct + ".service", "mailsync-oneshot.service",
		"mailsync-oneshot@" + acct + ".service", "mailsync-oneshot.timer", "mailsync-oneshot@" + acct + ".timer",
		"mailsync-failure@mailsync-oneshot@" + acct + ".service.service", "mailsync-push@" + acct + ".path",
		"internet-online.target", "internet-offline.target", "internet-init.service", "internet-watch.service"}
	for _, u := range units {
		if err := s.m.Verify(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if r := s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--online-target"); r.stdout != "" {
		t.Errorf("a second install changed something:\n%s", r.stdout)
	}

	// An edited unit is kept, and named.
	svc := filepath.Join(s.m.UnitDir, "mailsync.service")
	edited := append(readFile(t, svc), []byte("# mine\n")...)
	if err := os.WriteFile(svc, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	r = s.mailsync("systemd", "install", "--daemon", "-a", acct, "--online-target")
	if r.code != 1 || !strings.Contains(r.stderr, svc) || !strings.Contains(r.stderr, "--force") {
		t.Errorf("install over an edited unit: want exit 1 naming it and --force, got %s", r)
	}
	if string(readFile(t, svc)) != string(edited) {
		t.Error("install replaced an edited unit")
	}
	if r = s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--online-target", "--force"); !strings.Contains(r.stdout, "wrote "+svc) {
		t.Errorf("install --force did not replace the edited unit:\n%s", r.stdout)
	}
	// Installed again without --online-target, the account's daemon no
	// longer follows the network.
	online := filepath.Join(s.m.UnitDir, "mailsync@"+acct+".service.d", "online.conf")
	if r = s.mustMailsync("systemd", "install", "--daemon", "-a", acct); !strings.Contains(r.stdout, "removed "+online) {
		t.Errorf("install without --online-target did not remove the online drop-in:\n%s", r.stdout)
	}

	r = s.mustMailsync("systemd", "print", "mailsync-push@"+acct+".path")
	if want := "PathChanged=" + filepath.Join(s.localDir("INBOX"), "cur") + "\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("print of the path unit lacks %q:\n%s", want, r.stdout)
	}

	// A user's own unit is never removed.
	own := filepath.Join(s.m.UnitDir, "mine.service")
	if err := os.WriteFile(own, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustMailsync("systemd", "install", "--timer", "-a", acct, "--now")
	// One account's: its instances and drop-ins go, the templates stay.
	r = s.mustMailsync("systemd", "uninstall", "-a", acct)
	timer := "mailsync-oneshot@" + acct + ".timer"
	if !strings.Contains(r.stdout, "stopped "+timer) || s.m.Show(timer, "ActiveState") != "inactive" {
		t.Errorf("uninstall -a did not stop %s:\n%s", timer, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(s.m.UnitDir, "mailsync-push@"+acct+".path.d", "paths.conf")); err == nil {
		t.Error("uninstall -a left the account's path drop-in")
	}
	if _, err := os.Stat(filepath.Join(s.m.UnitDir, "mailsync-oneshot@.timer")); err != nil {
		t.Errorf("uninstall -a removed a template: %v", err)
	}
	s.mustMailsync("systemd", "uninstall")
	var left []string
	filepath.Walk(s.m.UnitDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && p != own {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("uninstall removed the user's own unit: %v", err)
	}
	if out := s.systemctl("list-units", "--all", "--plain", "--no-legend", "mailsync*", "mail.target"); out != "" {
		t.Errorf("units still loaded after uninstall:\n%s", out)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSystemdTimer: install --timer -a ACCT --now enables and starts the
// timer; its oneshot pulls a server message, when started and when the
// timer fires (intervals shortened in a drop-in).
func TestSystemdTimer(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{}))
	s.seedServer("INBOX", seeds("timer", 1, 500))
	r := s.mustMailsync("systemd", "install", "--timer", "-a", acct, "--now")
	timer := "mailsync-oneshot@" + acct + ".timer"
	for _, want := range []string{"enabled ", "started " + timer} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("install --now does not say %q:\n%s", want, r.stdout)
		}
	}
	if st := s.m.Show(timer, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", timer, st)
	}
	s.systemctl("start", "mailsync-oneshot@"+acct+".service")
	if s.localFile(t, "INBOX", "timer-0000") == "" {
		t.Fatalf("the oneshot did not pull the message:\n%s", s.m.UnitLog())
	}
	s.dropIn(timer, "[Timer]\nOnUnitInactiveSec=\nOnUnitInactiveSec=1s\nRandomizedDelaySec=0\n")
	s.systemctl("restart", timer)
	s.srv.Append(t, s.user, "INBOX", makeMsg("timer-fired", 500))
	s.m.WaitFor("the timer's oneshot to pull the new message", 15*time.Second, func() bool {
		return s.localFile(t, "INBOX", "timer-fired") != ""
	})
	s.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestSystemdDaemon: install --daemon -a ACCT --now: the unit is active
// (running) when install returns, after READY; its StatusText is the
// daemon's STATUS; a server message arrives through IDLE; reload reloads;
// kill -s USR1 syncs now.
func TestSystemdDaemon(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{accountExtra: "autorefresh = \"1h\"\nidle_folders = [\"INBOX\"]"}))
	s.seedServer("INBOX", seeds("sdd", 1, 500))
	s.seedServer("Other", seeds("other", 1, 500))
	unit := "mailsync@" + acct + ".service"
	s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--now")
	if st := s.m.Show(unit, "ActiveState") + "/" + s.m.Show(unit, "SubState"); st != "active/running" {
		t.Fatalf("%s is %s after install --now", unit, st)
	}
	s.m.WaitFor("STATUS=", 15*time.Second, func() bool {
		return strings.HasPrefix(s.m.Show(unit, "StatusText"), acct+": idle (INBOX), synced ")
	})
	s.srv.Append(t, s.user, "INBOX", makeMsg("sdd-idle", 500))
	s.m.WaitFor("the IDLE delivery", 5*time.Second, func() bool { return s.localFile(t, "INBOX", "sdd-idle") != "" })

	// A reload with a changed account restarts its loop, which runs the
	// new postsync hook.
	mark := filepath.Join(s.dir, "reloaded")
	cfg := strings.Replace(string(readFile(t, s.cfg)), `autorefresh = "1h"`,
		fmt.Sprintf("autorefresh = \"1h\"\npostsync_hook = %q", "touch "+mark), 1)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.systemctl("reload", unit)
	s.m.WaitFor("the reloaded config's hook", 10*time.Second, func() bool { _, err := os.Stat(mark); return err == nil })
	if n := s.m.Show(unit, "NRestarts"); n != "0" || s.m.Show(unit, "ActiveState") != "active" {
		t.Errorf("reload restarted the unit (NRestarts %s)", n)
	}

	// Other is not idle: only USR1 brings its new message now.
	s.srv.Append(t, s.user, "Other", makeMsg("sdd-usr1", 500))
	s.systemctl("kill", "-s", "USR1", unit)
	s.m.WaitFor("SIGUSR1's sync", 10*time.Second, func() bool { return s.localFile(t, "Other", "sdd-usr1") != "" })
}

// TestSystemdWatchdog: with WatchdogSec=4s (a drop-in) and a proxy that
// stalls the connection, the daemon stops pinging, gets SIGABRT and is
// restarted (NRestarts grows); once the stall ends it syncs.
func TestSystemdWatchdog(t *testing.T) {
	t.Parallel()
	e, fp := faultEnv(t, envOptions{accountExtra: `autorefresh = "1h"`, remoteExtra: `timeout = "60s"`})
	s := newSdEnv(t, e)
	s.seedServer("INBOX", seeds("wd", 1, 500))
	unit := "mailsync@" + acct + ".service"
	s.mustMailsync("systemd", "install", "--daemon", "-a", acct)
	s.dropIn(unit, "[Service]\nWatchdogSec=4s\nRestartSec=1s\nTimeoutStopSec=3s\n")
	s.systemctl("start", unit)
	s.m.WaitFor("the first sync", 15*time.Second, func() bool { return s.localFile(t, "INBOX", "wd-0000") != "" })

	s.seedServer("INBOX", seeds("wdstall", 20, 50_000))
	fp.Set(faultproxy.Fault{Stall: &faultproxy.Trigger{Dir: faultproxy.ServerToClient, Literal: true, Nth: 3, Skip: 100}})
	s.systemctl("kill", "-s", "USR1", unit)
	s.m.WaitFor("a restart by the watchdog", 40*time.Second, func() bool {
		n, _ := strconv.Atoi(s.m.Show(unit, "NRestarts"))
		return n >= 1
	})
	if !strings.Contains(s.m.UnitLog(), "Watchdog timeout") {
		t.Errorf("the unit log does not show the watchdog's timeout:\n%s", s.m.UnitLog())
	}
	fp.PassThrough()
	fp.DropAll()
	s.m.WaitFor("the restarted daemon to be running", 30*time.Second, func() bool { return s.m.Show(unit, "ActiveState") == "active" })
	s.systemctl("kill", "-s", "USR1", unit)
	s.m.WaitFor("the sync after the stall", 30*time.Second, func() bool { return countLocal(s.localDir("INBOX")) == 21 })
	s.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestSystemdMailTarget: stopping mail.target stops every mail unit.
func TestSystemdMailTarget(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`}))
	s.mustSync("sync")
	s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--now")
	s.mustMailsync("systemd", "install", "--timer", "--now")
	s.systemctl("enable", "--now", "mailsync-push@"+acct+".path")
	units := []string{"mail.target", "mailsync@" + acct + ".service", "mailsync-oneshot.timer", "mailsync-push@" + acct + ".path"}
	for _, u := range units {
		if st := s.m.Show(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s before the stop", u, st)
		}
	}
	s.systemctl("stop", "mail.target")
	for _, u := range units {
		if st := s.m.Show(u, "ActiveState"); st != "inactive" {
			t.Errorf("%s is %s after stop mail.target", u, st)
		}
	}
}

// TestSystemdFailure: a oneshot with a wrong password fails;
// mailsync-failure@ runs, the failure hook runs with MAILSYNC_UNIT, and
// mailsync status shows the failure.
func TestSystemdFailure(t *testing.T) {
	t.Parallel()
	hookOut := filepath.Join(t.TempDir(), "hook")
	e := newEnv(t, envOptions{generalExtra: fmt.Sprintf("failure_hook = %q", "echo $MAILSYNC_UNIT $MAILSYNC_ACCOUNT >> "+hookOut)})
	cfg := strings.Replace(string(readFile(t, e.cfg)), fmt.Sprintf("password = %q", e.srv.Password(e.user)), `password = "wrong"`, 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSdEnv(t, e)
	s.mustMailsync("systemd", "install", "--timer", "-a", acct)
	oneshot := "mailsync-oneshot@" + acct + ".service"
	if _, err := s.m.Systemctl("start", oneshot); err == nil {
		t.Fatal("the oneshot with a wrong password did not fail")
	}
	s.m.WaitFor("the failure hook", 15*time.Second, func() bool {
		data, _ := os.ReadFile(hookOut)
		return string(data) == oneshot+" "+acct+"\n"
	})
	if st := s.m.Show("mailsync-failure@"+oneshot+".service", "Result"); st != "success" {
		t.Errorf("the failure handler's result is %s", st)
	}
	var st struct {
		Accounts []struct {
			UnitFailures []struct {
				Unit, Result string
				Status       int
			} `json:"unit_failures"`
		} `json:"accounts"`
	}
	r := s.mustMailsync("status", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Accounts) != 1 || len(st.Accounts[0].UnitFailures) != 1 || st.Accounts[0].UnitFailures[0].Unit != oneshot ||
		st.Accounts[0].UnitFailures[0].Result != "exit-code" || st.Accounts[0].UnitFailures[0].Status != 1 {
		t.Errorf("status --json: %s", r.stdout)
	}
	if r := s.mustMailsync("status"); !strings.Contains(r.stdout, oneshot+" failed at ") {
		t.Errorf("status does not show the failed unit:\n%s", r.stdout)
	}
}

// TestSystemdConfigError: a daemon whose config no longer parses exits 2;
// systemd does not restart it (RestartPreventExitStatus=) but reports it at
// once, and the report, unable to read the config, records the failure in
// the default state directory, where status finds it once the config is
// mended.
func TestSystemdConfigError(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`}))
	unit := "mailsync@" + acct + ".service"
	s.mustMailsync("systemd", "install", "--daemon", "-a", acct)
	good := readFile(t, s.cfg)
	if err := os.WriteFile(s.cfg, append(append([]byte{}, good...), "\n[general\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.m.Systemctl("start", unit); err == nil {
		t.Fatal("the daemon started with a broken config")
	}
	failure := "mailsync-failure@" + unit + ".service"
	s.m.WaitFor("the failure report", 15*time.Second, func() bool {
		return s.m.Show(failure, "ActiveState") == "inactive" && s.m.Show(failure, "Result") == "success"
	})
	if st, n := s.m.Show(unit, "ExecMainStatus"), s.m.Show(unit, "NRestarts"); st != "2" || n != "0" {
		t.Errorf("the daemon exited %s after %s restarts; want 2 after none", st, n)
	}
	if _, err := os.Stat(filepath.Join(s.m.StateHome, "mailsync", "unit-failures.json")); err != nil {
		t.Errorf("the report did not record in the default state directory: %v", err)
	}
	if err := os.WriteFile(s.cfg, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := s.mustMailsync("status"); !strings.Contains(r.stdout, unit+" failed at ") {
		t.Errorf("status does not show the failed daemon:\n%s", r.stdout)
	}
}

// TestSystemdPath: with the path unit enabled, a flag a mail client sets
// reaches the server within 5 s, with no daemon and no timer.
func TestSystemdPath(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{}))
	s.seedServer("INBOX", seeds("path", 2, 500))
	s.mustSync("sync")
	s.mustMailsync("systemd", "install", "-a", acct)
	s.systemctl("enable", "--now", "mailsync-push@"+acct+".path")
	path := s.localFile(t, "INBOX", "path-0001")
	name := filepath.Base(path)
	base, flags, _ := strings.Cut(name, ":2,")
	flagged := filepath.Join(s.localDir("INBOX"), "cur", base+":2,"+maildirSorted(flags+"F"))
	start := time.Now()
	if err := os.Rename(path, flagged); err != nil {
		t.Fatal(err)
	}
	uid := s.serverUID(t, "INBOX", "path-0001")
	s.m.WaitFor("the flag on the server", 5*time.Second, func() bool {
		for _, m := range s.srv.Messages(t, s.user, "INBOX") {
			if m.UID == uid {
				return strings.Contains(strings.Join(m.Flags, " "), `\Flagged`)
			}
		}
		return false
	})
	t.Logf("the flag reached the server %v after the rename", time.Since(start).Round(time.Millisecond))
	for _, u := range []string{"mailsync@" + acct + ".service", "mailsync-oneshot@" + acct + ".timer"} {
		if st := s.m.Show(u, "ActiveState"); st != "inactive" {
			t.Errorf("%s is %s", u, st)
		}
	}
}

// TestSystemdNoBus: without a user manager, install says so and points to
// mailsync daemon.
func TestSystemdNoBus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := startBin(t, append(e.binEnv(), "XDG_RUNTIME_DIR="+t.TempDir()), "-c", e.cfg, "systemd", "install", "--timer", "--enable").wait(30 * time.Second)
	if r.code != 1 || !strings.Contains(r.stderr, "no systemd user manager") || !strings.Contains(r.stderr, "mailsync daemon") {
		t.Errorf("install --enable without a user bus: want exit 1 saying so, got %s", r)
	}
}

// TestSystemdOnline: with --online-target the daemon follows
// internet-online.target: it does not start while the machine is offline
// (neither by install --now nor with mail.target), stops when
// internet-offline.target starts, and starts again with the online one;
// internet-init.service sets the state of the network as it is.
func TestSystemdOnline(t *testing.T) {
	t.Parallel()
	s := newSdEnv(t, newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`}))
	unit := "mailsync@" + acct + ".service"
	s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--online-target")
	s.systemctl("start", "internet-offline.target")
	r := s.mustMailsync("systemd", "install", "--daemon", "-a", acct, "--online-target", "--now")
	if !strings.Contains(r.stdout, unit+" starts when internet-online.target does") {
		t.Errorf("install --now while offline:\n%s", r.stdout)
	}
	s.systemctl("start", "mail.target")
	time.Sleep(300 * time.Millisecond)
	if d, off := s.m.Show(unit, "ActiveState"), s.m.Show("internet-offline.target", "ActiveState"); d != "inactive" || off != "active" {
		t.Fatalf("while offline: %s is %s and internet-offline.target %s", unit, d, off)
	}
	for i, step := range []struct{ target, want string }{
		{"internet-online.target", "active"},
		{"internet-offline.target", "inactive"},
		{"internet-online.target", "active"},
	} {
		s.systemctl("start", step.target)
		s.m.WaitFor(fmt.Sprintf("step %d: %s %s after %s", i+1, unit, step.want, step.target), 10*time.Second,
			func() bool { return s.m.Show(unit, "ActiveState") == step.want })
	}

	// internet-init.service: the state the machine is in now.
	want := "internet-offline.target"
	if out, _ := exec.Command("sh", "-c", "{ ip -4 route show default; ip -6 route show default; } 2>/dev/null").Output(); len(out) > 0 {
		want = "internet-online.target"
	}
	other := map[string]string{"internet-online.target": "internet-offline.target", "internet-offline.target": "internet-online.target"}[want]
	s.systemctl("start", other)
	s.systemctl("start", "internet-init.service")
	s.m.WaitFor("internet-init.service to start "+want, 10*time.Second, func() bool { return s.m.Show(want, "ActiveState") == "active" })
}
