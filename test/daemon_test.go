package test

import (
	"strings"
	"testing"
	"time"
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
