package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
)

// TestDaemonIdle: with INBOX in idle_folders and a long autorefresh, a
// message saved on the server reaches new/ within 3 s, twice in a row (the
// IDLE is re-armed), and so do a flag change and an expunge. SIGUSR2 then
// ends the daemon with exit 0.
func TestDaemonIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{accountExtra: `autorefresh = "1h"` + "\n" + `idle_folders = ["INBOX"]`})
	e.seedServer("INBOX", seeds("idle", 3, 2000))
	p := e.startDaemon(nil)
	if !until(20*time.Second, func() bool { return len(e.localIDs(t, "INBOX")) == 3 && e.status(t).state() == "idle" }) {
		t.Fatalf("the daemon did not sync INBOX and go idle: %s", p.stderr.String())
	}
	const within = 3 * time.Second
	for i, id := range []string{"idle-new-1", "idle-new-2"} {
		start := time.Now()
		e.srv.Append(t, e.user, "INBOX", makeMsg(id, 1500))
		if !until(within, func() bool { return e.localFile(t, "INBOX", id) != "" }) {
			t.Fatalf("message %d saved on the server did not arrive within %v: %s", i+1, within, p.stderr.String())
		}
		t.Logf("message %d arrived %v after the save began", i+1, time.Since(start).Round(time.Millisecond))
	}
	uid := e.serverUID(t, "INBOX", "idle-new-1")
	e.srv.AddFlags(t, e.user, "INBOX", uid, `\Flagged`)
	if !until(within, func() bool { return strings.Contains(flagsOf(e.localFile(t, "INBOX", "idle-new-1")), "F") }) {
		t.Fatalf("a flag set on the server did not arrive within %v", within)
	}
	e.srv.Expunge(t, e.user, "INBOX", uid)
	if !until(within, func() bool { return e.localFile(t, "INBOX", "idle-new-1") == "" }) {
		t.Fatalf("an expunge on the server did not arrive within %v", within)
	}
	stopDaemon(t, p)
	e.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestDaemonAutorefresh: at autorefresh = "2s", a message saved on the
// server and one a mail client writes into new/ both cross within two
// intervals; status shows the daemon waiting with the next sync ahead.
func TestDaemonAutorefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{accountExtra: `autorefresh = "2s"`})
	e.seedServer("INBOX", seeds("auto", 2, 1500))
	p := e.startDaemon(nil)
	if !until(20*time.Second, func() bool { return len(e.localIDs(t, "INBOX")) == 2 }) {
		t.Fatalf("no first sync: %s", p.stderr.String())
	}
	start := time.Now()
	e.srv.Append(t, e.user, "INBOX", makeMsg("auto-server", 1500))
	writeClientMail(t, e, "INBOX", "auto-client", 1)
	const bound = 4 * time.Second // two intervals
	crossed := func() bool {
		if e.localFile(t, "INBOX", "auto-server") == "" {
			return false
		}
		for _, m := range e.srv.Messages(t, e.user, "INBOX") {
			if m.MessageID == msgID("auto-client-0000") {
				return true
			}
		}
		return false
	}
	if !until(bound+2*time.Second, crossed) {
		t.Fatalf("the changes did not cross: %s", p.stderr.String())
	}
	if took := time.Since(start); took > bound {
		t.Errorf("the changes took %v to cross; autorefresh is 2s", took)
	} else {
		t.Logf("both changes crossed within %v", took.Round(time.Millisecond))
	}
	s := e.status(t)
	if !s.Daemon || len(s.Accounts) != 1 || s.Accounts[0].LastResult != "ok" {
		t.Errorf("status: %+v", s)
	}
	stopDaemon(t, p)
	e.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestDaemonWatchLocal: with watch_local and a long autorefresh, a flag a
// mail client sets (by renaming the file) and a message it writes reach the
// server within 3 s, each by one "local" sync. The daemon's own writes (a
// download, an upload's rename) start no sync of their own.
func TestDaemonWatchLocal(t *testing.T) {
	t.Parallel()
	modes := filepath.Join(t.TempDir(), "modes")
	e := newEnv(t, envOptions{accountExtra: fmt.Sprintf("autorefresh = \"1h\"\nwatch_local = true\npostsync_hook = %q",
		"echo $MAILSYNC_MODE >> "+modes)})
	e.seedServer("INBOX", seeds("watch", 3, 1500))
	p := e.startDaemon(nil)
	readModes := func() []string {
		data, _ := os.ReadFile(modes)
		return strings.Fields(string(data))
	}
	if !until(20*time.Second, func() bool { return len(readModes()) == 1 }) {
		t.Fatalf("no first sync: %s", p.stderr.String())
	}
	const within = 3 * time.Second

	// A client flags a message: a rename in cur/.
	path := e.localFile(t, "INBOX", "watch-0001")
	if strings.Contains(flagsOf(path), "F") || path == "" {
		t.Fatalf("watch-0001 is %q", path)
	}
	dir, name := filepath.Split(path)
	if !strings.Contains(name, ":2,") {
		name += ":2,"
	}
	flagged := filepath.Join(filepath.Dir(filepath.Clean(dir)), "cur", name[:strings.Index(name, ":2,")+3]+maildirSorted(flagsOf(path)+"F"))
	start := time.Now()
	if err := os.Rename(path, flagged); err != nil {
		t.Fatal(err)
	}
	uid := e.serverUID(t, "INBOX", "watch-0001")
	serverFlagged := func() bool {
		for _, m := range e.srv.Messages(t, e.user, "INBOX") {
			if m.UID == uid {
				return strings.Contains(strings.Join(m.Flags, " "), `\Flagged`)
			}
		}
		return false
	}
	if !until(within, serverFlagged) {
		t.Fatalf("the client's flag did not reach the server within %v: %s", within, p.stderr.String())
	}
	t.Logf("the flag reached the server %v after the rename", time.Since(start).Round(time.Millisecond))

	// A client writes a message; it is uploaded and renamed (by mailsync).
	start = time.Now()
	writeClientMail(t, e, "INBOX", "watch-client", 2)
	uploaded := func() bool {
		n := 0
		for _, m := range e.srv.Messages(t, e.user, "INBOX") {
			if strings.HasPrefix(m.MessageID, "<watch-client-") {
				n++
			}
		}
		return n == 2
	}
	if !until(within, uploaded) {
		t.Fatalf("the client's messages did not reach the server within %v: %s", within, p.stderr.String())
	}
	t.Logf("the new messages reached the server %v after they were written", time.Since(start).Round(time.Millisecond))

	// A server message fetched by SIGUSR1 is a write of mailsync's own.
	e.srv.Append(t, e.user, "INBOX", makeMsg("watch-server", 1500))
	p.signal(syscall.SIGUSR1)
	if !until(10*time.Second, func() bool { return e.localFile(t, "INBOX", "watch-server") != "" }) {
		t.Fatalf("SIGUSR1 did not sync: %s", p.stderr.String())
	}
	// Long enough for a watch-triggered sync to start and end.
	time.Sleep(3 * time.Second)
	want := []string{"full", "local", "local", "full"}
	if got := readModes(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("syncs by mode: %v, want %v (no sync set off by mailsync's own writes)", got, want)
	}
	stopDaemon(t, p)
	e.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestDaemonSignals: each signal does what the table in the README says.
func TestDaemonSignals(t *testing.T) {
	t.Parallel()
	const total = 400

	// SIGUSR2 during a long pull: the folder is finished, no other one is
	// started, and the daemon exits 0. A paused proxy holds the pull in
	// the middle while the signal is sent.
	t.Run("SIGUSR2", func(t *testing.T) {
		t.Parallel()
		post := filepath.Join(t.TempDir(), "post")
		e := newEnv(t, envOptions{proxy: true, remoteExtra: "max_connections = 1",
			accountExtra: fmt.Sprintf("postsync_hook = %q", "echo $MAILSYNC_RESULT >> "+post)})
		e.seedServer("INBOX", seeds("usr2", total, 30000))
		e.seedServer("Later", seeds("later", 3, 1000))
		p := e.startDaemon(nil)
		if !waitFor(p, 60*time.Second, func() bool { return countLocal(e.localDir("INBOX")) >= 30 }) || p.exited() {
			t.Fatalf("could not catch the daemon in the middle of the pull: %s", p.stderr.String())
		}
		e.proxy.pause()
		p.signal(syscall.SIGUSR2)
		time.Sleep(300 * time.Millisecond)
		e.proxy.resume()
		r := p.wait(60 * time.Second)
		if r.code != 0 || r.signal != 0 {
			t.Fatalf("want exit 0 after SIGUSR2, got %s", r)
		}
		if n := e.checkComplete(t, folderPair{"INBOX", "INBOX"}); n != total {
			t.Errorf("SIGUSR2 left INBOX with %d of %d messages; the folder in progress must be finished", n, total)
		}
		if n := countLocal(e.localDir("Later")); n != 0 {
			t.Errorf("after SIGUSR2 the daemon still synced another folder (%d messages)", n)
		}
		if data, _ := os.ReadFile(post); string(data) != "ok\n" {
			t.Errorf("postsync_hook after SIGUSR2 wrote %q, want one ok", data)
		}
	})

	// SIGTERM mid-pull: a stop within 5 s, by the signal, no partial file,
	// and a rerun that converges with no duplicates.
	t.Run("SIGTERM", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		e.seedServer("INBOX", seeds("term", total, 30000))
		p := e.startDaemon(nil)
		if !waitFor(p, 60*time.Second, func() bool { return countLocal(e.localDir("INBOX")) >= 30 }) || p.exited() {
			t.Fatalf("could not catch the daemon in the middle of the pull: %s", p.stderr.String())
		}
		sent := time.Now()
		p.signal(syscall.SIGTERM)
		r := p.wait(60 * time.Second)
		if took := time.Since(sent); took > 10*time.Second {
			t.Errorf("the daemon took %v to stop after SIGTERM; the contract is 5 s", took)
		}
		if r.signal != syscall.SIGTERM {
			t.Errorf("want death by SIGTERM, got %s", r)
		}
		inbox := folderPair{"INBOX", "INBOX"}
		n := e.checkComplete(t, inbox)
		t.Logf("stopped with %d of %d messages", n, total)
		if s := parseSummary(e.mustSync("sync").stdout); s.errors != 0 || s.pulled != total-n {
			t.Errorf("rerun: pulled %d with %d errors, want %d and none", s.pulled, s.errors, total-n)
		}
		e.checkInSync(t, inbox)
	})

	// SIGHUP with a broken config keeps the old one and goes on serving;
	// SIGHUP with an added account starts it. SIGUSR1 syncs now.
	t.Run("SIGHUP", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`})
		e.seedServer("INBOX", seeds("hup", 2, 1000))
		p := e.startDaemon(nil)
		if !until(20*time.Second, func() bool { return len(e.localIDs(t, "INBOX")) == 2 }) {
			t.Fatalf("no first sync: %s", p.stderr.String())
		}
		good, err := os.ReadFile(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		broken := "autorefersh = \"1m\"\n" + string(good)
		if err := os.WriteFile(e.cfg, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		p.signal(syscall.SIGHUP)
		want := e.cfg + ":1: autorefersh: unknown key"
		if !until(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), want) }) {
			t.Fatalf("a broken config on SIGHUP: stderr does not say %q: %s", want, p.stderr.String())
		}
		e.srv.Append(t, e.user, "INBOX", makeMsg("hup-usr1", 1000))
		p.signal(syscall.SIGUSR1)
		if !until(10*time.Second, func() bool { return e.localFile(t, "INBOX", "hup-usr1") != "" }) {
			t.Fatalf("after a broken reload the daemon does not serve (SIGUSR1 synced nothing): %s", p.stderr.String())
		}

		mail2 := filepath.Join(e.dir, "Mail2")
		added := string(good) + fmt.Sprintf(`
[accounts.second]
[accounts.second.remote]
host = "127.0.0.1"
port = %d
tls = "none"
allow_plaintext = true
user = %q
password = %q
[accounts.second.local]
path = %q
`, e.srv.Port, e.user, e.srv.Password(e.user), mail2)
		if err := os.WriteFile(e.cfg, []byte(added), 0o600); err != nil {
			t.Fatal(err)
		}
		p.signal(syscall.SIGHUP)
		if !until(10*time.Second, func() bool { return countLocal(filepath.Join(mail2, "INBOX")) == 3 }) {
			t.Fatalf("the account added by SIGHUP was not synced: %s", p.stderr.String())
		}
		s := e.status(t)
		if len(s.Accounts) != 2 || s.Accounts[1].Name != "second" || s.Accounts[1].State == nil {
			t.Errorf("status after the reload: %+v", s)
		}
		stopDaemon(t, p)
	})
}

// TestDaemonServerGone: the server goes away (connections refused, the
// IDLE connection dropped): the daemon lives on, backs off, reports the
// failure once per step, and status says error. When the server is back,
// SIGUSR1 syncs at once, through the back-off.
func TestDaemonServerGone(t *testing.T) {
	t.Parallel()
	e, fp := faultEnv(t, envOptions{accountExtra: `autorefresh = "2s"` + "\n" + `idle_folders = ["INBOX"]`})
	e.seedServer("INBOX", seeds("gone", 2, 1000))
	p := e.startDaemon(nil)
	if !until(20*time.Second, func() bool { return e.status(t).state() == "idle" }) {
		t.Fatalf("the daemon did not sync and go idle: %s", p.stderr.String())
	}
	fp.Set(faultproxy.Fault{Refuse: true})
	fp.DropAll()
	gone := time.Now()
	var s statusOut
	if !until(15*time.Second, func() bool { s = e.status(t); return s.state() == "backoff" }) {
		t.Fatalf("the daemon did not back off: %+v\n%s", s, p.stderr.String())
	}
	a := s.Accounts[0]
	if a.LastResult != "error" || a.LastError == nil || a.NextSync == nil || a.NextSync.Sub(gone) < 25*time.Second {
		t.Errorf("status while the server is gone: result %q, error %v, next %v; want error and a retry 30 s or more away", a.LastResult, a.LastError, a.NextSync)
	}
	// With autorefresh at 2 s, failing syncs every 2 s would log a line
	// each; the back-off holds the next one for 30 s.
	time.Sleep(5 * time.Second)
	if p.exited() {
		t.Fatalf("the daemon exited: %s", p.res)
	}
	if n := strings.Count(p.stderr.String(), "backing off"); n != 1 {
		t.Errorf("%d back-off reports in the first 5 s, want 1:\n%s", n, p.stderr.String())
	}

	fp.PassThrough()
	e.srv.Append(t, e.user, "INBOX", makeMsg("gone-back", 1000))
	p.signal(syscall.SIGUSR1)
	if !until(10*time.Second, func() bool { return e.localFile(t, "INBOX", "gone-back") != "" }) {
		t.Fatalf("SIGUSR1 did not sync once the server was back: %s", p.stderr.String())
	}
	if !until(10*time.Second, func() bool { s = e.status(t); return s.Accounts[0].LastResult == "ok" && s.state() != "backoff" }) {
		t.Errorf("status after the server came back: %+v", s)
	}
	stopDaemon(t, p)
}

// TestDaemonSyncForward: `mailsync sync` beside a running daemon is done
// by the daemon, with a sync that starts after the command: exit 0, the
// summary printed, the change synced, no lock fought over.
func TestDaemonSyncForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`})
	e.seedServer("INBOX", seeds("fwd", 2, 1000))
	p := e.startDaemon(nil)
	if !until(20*time.Second, func() bool {
		s := e.status(t)
		return s.state() == "waiting" && s.Accounts[0].LastResult == "ok"
	}) {
		t.Fatalf("no first sync: %s", p.stderr.String())
	}
	e.srv.Append(t, e.user, "INBOX", makeMsg("fwd-server", 1000))
	writeClientMail(t, e, "INBOX", "fwd-client", 1)
	r := e.run("sync")
	if r.code != 0 || r.signal != 0 {
		t.Fatalf("mailsync sync beside the daemon: %s", r)
	}
	if s := parseSummary(r.stdout); !s.found || s.pulled != 1 || s.pushed != 1 {
		t.Errorf("want the summary of a sync that pulled 1 and pushed 1, got %s", r)
	}
	if e.localFile(t, "INBOX", "fwd-server") == "" {
		t.Errorf("the server's message is not in the Maildir after mailsync sync")
	}
	if !strings.Contains(p.stderr.String(), "pulled 1, pushed 1") {
		t.Errorf("the daemon did not do the sync:\n%s", p.stderr.String())
	}
	// A folder that exists nowhere is a usage error, as in a one-shot run.
	if r := e.run("sync", "-f", "Nowhere"); r.code != 2 || !strings.Contains(r.stderr, `no folder "Nowhere"`) {
		t.Errorf("sync -f Nowhere beside the daemon: want exit 2 naming Nowhere, got %s", r)
	}
	stopDaemon(t, p)
	e.checkInSync(t, folderPair{"INBOX", "INBOX"})
}

// TestDaemonPollsWithoutIdle: on a server that does not offer IDLE, an
// idle folder is polled with NOOP (every keepalive here, 30 s at most),
// which the log says once.
func TestDaemonPollsWithoutIdle(t *testing.T) {
	t.Parallel()
	e, fp := faultEnv(t, envOptions{accountExtra: "autorefresh = \"1h\"\nidle_folders = [\"INBOX\"]\nkeepalive = \"2s\""})
	fp.Set(faultproxy.Fault{StripCaps: []string{"IDLE", "IMAP4rev2"}})
	e.seedServer("INBOX", seeds("poll", 1, 1000))
	p := e.startDaemon(nil)
	if !until(20*time.Second, func() bool { return e.status(t).state() == "idle" }) {
		t.Fatalf("the daemon did not sync and hold INBOX: %s", p.stderr.String())
	}
	for i, id := range []string{"poll-1", "poll-2"} {
		e.srv.Append(t, e.user, "INBOX", makeMsg(id, 1000))
		if !until(6*time.Second, func() bool { return e.localFile(t, "INBOX", id) != "" }) {
			t.Fatalf("message %d was not found by polling within 6 s: %s", i+1, p.stderr.String())
		}
	}
	if n := strings.Count(p.stderr.String(), "does not offer IDLE"); n != 1 {
		t.Errorf("the log says %d times that IDLE is missing, want once:\n%s", n, p.stderr.String())
	}
	stopDaemon(t, p)
}

// TestDaemonAccountConfigError: an account whose password source fails
// (a configuration error, exit 2 in a one-shot run) fails alone; the
// daemon serves the other account.
func TestDaemonAccountConfigError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{accountExtra: `autorefresh = "1h"`})
	e.seedServer("INBOX", seeds("cfgerr", 2, 1000))
	good, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := string(good) + fmt.Sprintf(`
[accounts.broken.remote]
host = "127.0.0.1"
port = %d
tls = "none"
allow_plaintext = true
user = %q
password_command = "echo no password here >&2; exit 1"
[accounts.broken.local]
path = %q
`, e.srv.Port, e.user, filepath.Join(e.dir, "Mail2"))
	if err := os.WriteFile(e.cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("sync", "-a", "broken"); r.code != 2 || !strings.Contains(r.stderr, "accounts.broken.remote.password_command") {
		t.Errorf("one-shot sync of the broken account: want exit 2 naming the key, got %s", r)
	}
	p := e.startDaemon(nil)
	var s statusOut
	if !until(20*time.Second, func() bool {
		s = e.status(t)
		return len(s.Accounts) == 2 && s.Accounts[0].LastResult == "ok" && s.Accounts[1].LastResult == "error"
	}) {
		t.Fatalf("status: %+v\n%s", s, p.stderr.String())
	}
	// Beside the daemon the exit code is the same.
	if r := e.run("sync", "-a", "broken"); r.code != 2 || !strings.Contains(r.stderr, "accounts.broken.remote.password_command") {
		t.Errorf("sync of the broken account beside the daemon: want exit 2 naming the key, got %s", r)
	}
	if e.localFile(t, "INBOX", "cfgerr-0000") == "" {
		t.Errorf("the good account was not synced")
	}
	if s.Accounts[1].LastError == nil || !strings.Contains(*s.Accounts[1].LastError, "no password here") {
		t.Errorf("the broken account's error: %v", s.Accounts[1].LastError)
	}
	stopDaemon(t, p)
}
