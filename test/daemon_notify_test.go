package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
)

// notifySocket is a NOTIFY_SOCKET, as systemd binds it, that keeps every
// message with the time it arrived.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []notifyMsg
}

type notifyMsg struct {
	at   time.Time
	text string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// A short path: sun_path holds 108 bytes.
	dir, err := os.MkdirTemp("", "ntf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifySocket{path: filepath.Join(dir, "notify")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			k, _, err := c.ReadFromUnix(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, notifyMsg{time.Now(), string(buf[:k])})
			n.mu.Unlock()
		}
	}()
	return n
}

// all returns the messages so far.
func (n *notifySocket) all() []notifyMsg {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notifyMsg(nil), n.msgs...)
}

// has reports whether a message has a line matching re; after limits the
// search to messages that arrived after it.
func (n *notifySocket) has(re string, after time.Time) bool {
	r := regexp.MustCompile(`(?m)^` + re + `$`)
	for _, m := range n.all() {
		if m.at.After(after) && r.MatchString(m.text) {
			return true
		}
	}
	return false
}

func (n *notifySocket) String() string {
	var b strings.Builder
	for _, m := range n.all() {
		b.WriteString(m.at.Format("15:04:05.000 ") + strings.ReplaceAll(m.text, "\n", `\n`) + "\n")
	}
	return b.String()
}

// pings returns the times of the WATCHDOG=1 messages in [from, to).
func (n *notifySocket) pings(from, to time.Time) []time.Time {
	var out []time.Time
	for _, m := range n.all() {
		if !m.at.Before(from) && m.at.Before(to) && strings.Contains(m.text, "WATCHDOG=1") {
			out = append(out, m.at)
		}
	}
	return out
}

// TestDaemonNotify: the daemon speaks sd_notify: READY=1 once its loops
// run, with a STATUS= that names the account; WATCHDOG=1 every half
// WATCHDOG_USEC, none while a sync is stuck on a stalled connection (the
// held IDLE connection's traffic does not count), again once the sync has
// failed by its timeout; RELOADING=1 with MONOTONIC_USEC and READY=1
// around a SIGHUP; STOPPING=1 on the way out, and nothing but the end
// after it.
func TestDaemonNotify(t *testing.T) {
	t.Parallel()
	e, fp := faultEnv(t, envOptions{remoteExtra: `timeout = "6s"`, accountExtra: "autorefresh = \"1h\"\nidle_folders = [\"INBOX\"]"})
	e.seedServer("INBOX", seeds("notify", 2, 1000))
	n := listenNotify(t)
	start := time.Now()
	p := e.startDaemon([]string{"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=2000000"})
	if !until(20*time.Second, func() bool { return n.has(`STATUS=acct: .*`, start) && n.has("READY=1", start) }) {
		t.Fatalf("no READY=1 and STATUS=:\n%s\n%s", n, p.stderr.String())
	}
	for _, m := range n.all() {
		if strings.Contains(m.text, "READY=1") && !strings.Contains(m.text, "STATUS=acct: ") {
			t.Errorf("READY=1 came before the account's loop: %q", m.text)
		}
	}
	if !until(20*time.Second, func() bool {
		return e.status(t).state() == "idle" && n.has(`STATUS=acct: idle \(INBOX\), synced .*`, start)
	}) {
		t.Fatalf("no READY=1 and STATUS= with the first sync: \n%s\n%s", n, p.stderr.String())
	}

	// The cadence: every half of the 2 s.
	time.Sleep(4 * time.Second)
	if got := n.pings(time.Now().Add(-4*time.Second), time.Now()); len(got) < 3 || len(got) > 5 {
		t.Errorf("%d pings in 4 s, want about 4 (WATCHDOG_USEC=2000000)", len(got))
	}

	// A sync stuck on a connection that stalls in the middle of a message.
	e.seedServer("INBOX", seeds("stall", 30, 100_000))
	fp.Set(faultproxy.Fault{Stall: &faultproxy.Trigger{Dir: faultproxy.ServerToClient, Literal: true, Nth: 5, Skip: 1000}})
	p.signal(syscall.SIGUSR1)
	if !until(10*time.Second, func() bool { return fp.Stats().Stalls > 0 }) {
		t.Fatalf("the sync did not stall: %s", p.stderr.String())
	}
	stalled := time.Now()
	// Meanwhile the held IDLE connection hears of new messages: its
	// traffic is not the stuck sync's progress.
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for i := 0; time.Since(stalled) < 5*time.Second; i++ {
			e.srv.Append(t, e.user, "INBOX", makeMsg(fmt.Sprintf("busy-%d", i), 500))
			time.Sleep(400 * time.Millisecond)
		}
	}()
	// Pings may go on for up to WATCHDOG_USEC after the last progress;
	// the sync fails by its 6 s timeout.
	if !until(15*time.Second, func() bool { return len(n.pings(stalled.Add(6*time.Second), time.Now())) > 0 }) {
		t.Fatalf("the pings did not resume after the stuck sync failed: %s", p.stderr.String())
	}
	<-busy
	if got := n.pings(stalled.Add(2500*time.Millisecond), stalled.Add(5500*time.Millisecond)); len(got) > 0 {
		t.Errorf("pings while the sync was stuck: %v after the stall", got[0].Sub(stalled))
	}
	fp.PassThrough()

	hup := time.Now()
	p.signal(syscall.SIGHUP)
	if !until(10*time.Second, func() bool {
		return n.has(`RELOADING=1\nMONOTONIC_USEC=\d+`, hup) && n.has("READY=1", hup)
	}) {
		t.Errorf("no RELOADING=1 with MONOTONIC_USEC and READY=1 after SIGHUP:\n%s", n)
	}
	bye := time.Now()
	stopDaemon(t, p)
	if !n.has("STOPPING=1", bye) {
		t.Errorf("no STOPPING=1:\n%s", n)
	}
	stopped := false
	for _, m := range n.all() {
		if stopped && (strings.Contains(m.text, "READY=1") || strings.Contains(m.text, "RELOADING=1")) {
			t.Errorf("after STOPPING=1: %q", m.text)
		}
		stopped = stopped || strings.Contains(m.text, "STOPPING=1")
	}
}
