package test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestQResyncSync: with Dovecot offering QRESYNC, a sync that finds
// messages gone from the server learns which from VANISHED (EARLIER),
// answered to the UID FETCH of changed flags, and never lists the folder
// with UID SEARCH; the local copies go, the changed flag arrives (on a
// message whose UID is below theirs, so that the two answers must not be
// mixed up), and the folder converges. A local deletion then goes out as UID EXPUNGE, which
// the server answers with VANISHED, not EXPUNGE. A mass deletion seen
// through VANISHED still stops.
func TestQResyncSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("qr", 40, 500))
	e.seedServer("Archive", seeds("qa", 5, 500))
	e.mustSync("sync")
	inbox := folderPair{"INBOX", "INBOX"}

	for _, id := range []string{"qr-0003", "qr-0010", "qr-0011"} {
		e.srv.Expunge(t, e.user, "INBOX", e.serverUID(t, "INBOX", id))
	}
	e.srv.AddFlags(t, e.user, "INBOX", e.serverUID(t, "INBOX", "qr-0001"), `\Flagged`)
	r := e.mustSync("--log-level", "trace", "sync")
	checkTrace(t, r.stderr,
		`TRC C: M\d+ ENABLE QRESYNC `,
		`TRC C: T\d+ UID FETCH 1:\* \(.*FLAGS.*\) \(CHANGEDSINCE \d+ VANISHED\) `,
		`TRC S: \* VANISHED \(EARLIER\) \d`)
	if regexp.MustCompile(`C: T\d+ UID SEARCH`).MatchString(r.stderr) {
		t.Errorf("the sync listed the folder with UID SEARCH although VANISHED named what went:\n%s", r.stderr)
	}
	e.checkInSync(t, inbox)
	if n := len(e.local("INBOX")); n != 37 {
		t.Errorf("INBOX has %d local messages after 3 of 40 went on the server; want 37", n)
	}

	// A local deletion: UID EXPUNGE, answered with VANISHED.
	p := e.localFile(t, "INBOX", "qr-0021")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	r = e.mustSync("--log-level", "trace", "sync")
	checkTrace(t, r.stderr, `TRC S: \* VANISHED \d`)
	e.checkInSync(t, inbox)

	// Most of the folder gone on the server: the guard stops, and keeps
	// every local copy.
	for _, m := range e.srv.Messages(t, e.user, "INBOX")[:30] {
		e.srv.Expunge(t, e.user, "INBOX", m.UID)
	}
	if r := e.run("--log-level", "trace", "sync"); r.code != 1 || !strings.Contains(r.stderr, "refusing a mass deletion") ||
		!strings.Contains(r.stderr, "VANISHED (EARLIER)") {
		t.Fatalf("want the mass-deletion guard to stop the sync seen through VANISHED, got %s", r)
	}
	if n := len(e.local("INBOX")); n != 36 {
		t.Errorf("INBOX has %d local messages after the guard stopped; want all 36 kept", n)
	}
}
