package test

// Fault injection on the network: the real binary talks to Dovecot through
// internal/faultproxy, which cuts, stalls or slows down the connection at
// chosen points of the IMAP exchange. The contract, after every fault: the
// run fails with a clear message (or succeeds where it can), and a rerun
// without the fault converges with no message lost or duplicated on either
// side, checked by Message-ID plus body hash per folder (netConverged).
//
// Helpers shared with fault_server_test.go live here and are prefixed net.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsync/internal/faultproxy"
)

// netEnv is newEnv with mailsync's connections going through a fault proxy
// (pass-through until the test programs it). remoteExtra is added to the
// [accounts.acct.remote] section.
func netEnv(t *testing.T, remoteExtra string) (*env, *faultproxy.Proxy) {
	t.Helper()
	return faultEnv(t, envOptions{remoteExtra: remoteExtra})
}

// faultEnv is newEnv(o) with mailsync's connections going through a fault
// proxy, as netEnv.
func faultEnv(t *testing.T, o envOptions) (*env, *faultproxy.Proxy) {
	t.Helper()
	e := newEnv(t, o)
	p, err := faultproxy.Start(e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			for _, ev := range p.Events() {
				t.Logf("faultproxy: %s", ev)
			}
		}
	})
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	direct := fmt.Sprintf("\nport = %d\n", e.srv.Port)
	if strings.Count(string(cfg), direct) != 1 {
		t.Fatalf("cannot find %q in the config written by newEnv:\n%s", direct, cfg)
	}
	cfg = []byte(strings.Replace(string(cfg), direct, fmt.Sprintf("\nport = %d\n", p.Port()), 1))
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return e, p
}

// netTimeout is the remote config of tests where the proxy stalls: a hung
// server must be given up on after 5 s of no progress.
const netTimeout = "timeout = \"5s\"\n"

// netMsg is one message as the convergence check sees it.
type netMsg struct {
	id, hash, flags string
}

func (m netMsg) String() string { return fmt.Sprintf("%s [%s] %s", m.id, m.flags, m.hash[:12]) }

// netBodyHash is the SHA-256 of a message with CRLF normalised to LF, the
// same for the server's copy and the local file.
func netBodyHash(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(toLF(b))) }

// netServerSide lists a server mailbox as sorted netMsgs.
func netServerSide(t *testing.T, e *env, mailbox string) []netMsg {
	t.Helper()
	var out []netMsg
	for _, m := range e.srv.MessagesWithBodies(t, e.user, mailbox) {
		out = append(out, netMsg{m.MessageID, netBodyHash(m.Body), serverLetters(m.Flags)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// netLocalSide lists a local folder as sorted netMsgs.
func netLocalSide(t *testing.T, e *env, folder string) []netMsg {
	t.Helper()
	var out []netMsg
	for _, l := range e.local(folder) {
		b, err := os.ReadFile(l.path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, netMsg{l.messageID, netBodyHash(b), l.flags})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// netConverged asserts that folder f is the same on both sides: the
// multisets of (Message-ID, body hash) are equal with every element exactly
// once, flags agree, and local files carry the server's UIDs
// (checkInSync). With want set, the Message-IDs must be exactly those:
// nothing lost, nothing extra.
func netConverged(t *testing.T, e *env, f folderPair, want []string) {
	t.Helper()
	srv := netServerSide(t, e, f.remote)
	loc := netLocalSide(t, e, f.local)
	var problems []string
	count := func(side string, ms []netMsg) map[[2]string]int {
		n := map[[2]string]int{}
		for _, m := range ms {
			k := [2]string{m.id, m.hash}
			if n[k]++; n[k] == 2 {
				problems = append(problems, fmt.Sprintf("%s has %s (body %s) more than once", side, m.id, m.hash[:12]))
			}
		}
		return n
	}
	sn, ln := count("the server", srv), count("the local folder", loc)
	for k := range sn {
		if ln[k] == 0 {
			problems = append(problems, fmt.Sprintf("%s (body %s) is on the server only", k[0], k[1][:12]))
		}
	}
	for k := range ln {
		if sn[k] == 0 {
			problems = append(problems, fmt.Sprintf("%s (body %s) is local only", k[0], k[1][:12]))
		}
	}
	if len(problems) == 0 && !reflect.DeepEqual(srv, loc) {
		problems = append(problems, fmt.Sprintf("flags differ:\n    server %v\n    local  %v", srv, loc))
	}
	if want != nil {
		var got []string
		for _, m := range srv {
			got = append(got, m.id)
		}
		w := append([]string(nil), want...)
		sort.Strings(got)
		sort.Strings(w)
		if !reflect.DeepEqual(got, w) {
			problems = append(problems, fmt.Sprintf("the server has %d messages %v,\n    want %d %v", len(got), got, len(w), w))
		}
	}
	if len(problems) > 0 {
		t.Errorf("folder %q / local %q has not converged:\n  %s", f.remote, f.local, strings.Join(problems, "\n  "))
	}
	e.checkInSync(t, f)
}

// netFolderSets asserts that the server's mailboxes and the local folders
// are the same set (server names with '.' as separator, local with '/').
func netFolderSets(t *testing.T, e *env) {
	t.Helper()
	var srv []string
	for _, m := range e.srv.Mailboxes(t, e.user) {
		srv = append(srv, strings.ReplaceAll(m, ".", "/"))
	}
	var loc []string
	err := filepath.Walk(e.mail, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == "cur" {
			rel, _ := filepath.Rel(e.mail, filepath.Dir(p))
			loc = append(loc, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(srv)
	sort.Strings(loc)
	if !reflect.DeepEqual(srv, loc) {
		t.Errorf("folders differ: server %v, local %v", srv, loc)
	}
}

// netIDs returns the Message-IDs of seeds (as in the header).
func netIDs(ss []seed) []string {
	var out []string
	for _, s := range ss {
		out = append(out, msgID(s.id))
	}
	return out
}

// netClientIDs are the Message-IDs writeClientMail(…, prefix, n) creates.
func netClientIDs(prefix string, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, msgID(fmt.Sprintf("%s-%04d", prefix, i)))
	}
	return out
}

// netWithout returns ids minus drop.
func netWithout(ids []string, drop ...string) []string {
	var out []string
	for _, id := range ids {
		if !netContains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

func netContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// netLocalFile returns the local file of the message with Message-ID id.
func netLocalFile(t *testing.T, e *env, folder, id string) localMsg {
	t.Helper()
	var found []localMsg
	for _, l := range e.local(folder) {
		if l.messageID == id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("local folder %s: want one file with Message-ID %s, found %d", folder, id, len(found))
	}
	return found[0]
}

// netSetLocalFlags gives a local message new flags the way a mail client
// does: a rename into cur/ with the new info part.
func netSetLocalFlags(t *testing.T, e *env, folder, id, flags string) {
	t.Helper()
	l := netLocalFile(t, e, folder, id)
	base, _, _ := strings.Cut(l.file, ":2,")
	to := filepath.Join(e.localDir(folder), "cur", base+":2,"+maildirSorted(flags))
	if err := os.Rename(l.path, to); err != nil {
		t.Fatal(err)
	}
}

// netRemoveLocal deletes a local message, as a mail client does.
func netRemoveLocal(t *testing.T, e *env, folder, id string) {
	t.Helper()
	if err := os.Remove(netLocalFile(t, e, folder, id).path); err != nil {
		t.Fatal(err)
	}
}

// netServerUID is the UID of the server message with Message-ID id.
func netServerUID(t *testing.T, e *env, mailbox, id string) uint32 {
	t.Helper()
	for _, m := range e.srv.Messages(t, e.user, mailbox) {
		if m.MessageID == id {
			return m.UID
		}
	}
	t.Fatalf("server mailbox %s has no message %s", mailbox, id)
	return 0
}

// netConnError is how a broken connection shows in mailsync's messages
// (whatever layer reports it).
var netConnError = regexp.MustCompile(`(?i)EOF|connection|broken pipe|reset|closed|lost|truncated`)

// netMustFail asserts that r is exit 1 and that one line of its stderr
// names the account and matches every pattern (regular expressions).
func netMustFail(t *testing.T, r result, patterns ...string) {
	t.Helper()
	if r.code != 1 || r.signal != 0 {
		t.Errorf("want exit 1, got %s", r)
		return
	}
	res := []*regexp.Regexp{regexp.MustCompile(`\b` + acct + `\b`)}
	for _, p := range patterns {
		res = append(res, regexp.MustCompile(p))
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		all := true
		for _, re := range res {
			all = all && re.MatchString(line)
		}
		if all {
			return
		}
	}
	t.Errorf("no line of stderr names account %s and matches all of %q: %s", acct, patterns, r)
}

// netFolder is the pattern of a message about one folder: the log's
// folder=NAME field, or ACCOUNT/NAME.
func netFolder(name string) string {
	q := regexp.QuoteMeta(name)
	return `(folder=` + q + `\b|folder="` + q + `"|` + acct + `/` + q + `\b)`
}

// netRunBounded runs `mailsync sync` and gives up on it after bound: it
// kills the process and fails the test, but returns, so that the test can
// still check what the rerun makes of the state left behind.
func netRunBounded(t *testing.T, e *env, bound time.Duration) result {
	t.Helper()
	pr := e.start("sync")
	select {
	case <-pr.done:
	case <-time.After(bound):
		pr.kill9()
		t.Errorf("mailsync was still running after %v; killed it. %s", bound, pr.res)
	}
	return pr.res
}

// netSummaryRE is summaryRE that also reads "1 error" (singular).
var netSummaryRE = regexp.MustCompile(`(?m)^` + acct + `: pulled (\d+), pushed (\d+), flags (\d+)↓ (\d+)↑, deleted (\d+)↓ (\d+)↑, (\d+) errors?\b(.*)$`)

// netSummary parses the account summary line of a run.
func netSummary(stdout string) summary {
	m := netSummaryRE.FindStringSubmatch(stdout)
	if m == nil {
		return summary{}
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return summary{n(1), n(2), n(3), n(4), n(5), n(6), n(7), m[8], true}
}

// netRerun is the run after a fault, without it: it must succeed with 0
// errors.
func netRerun(t *testing.T, e *env, p *faultproxy.Proxy) result {
	t.Helper()
	p.PassThrough()
	r := e.mustSync("sync")
	if s := netSummary(r.stdout); !s.found || s.errors != 0 {
		t.Errorf("rerun without the fault: want 0 errors, got %s", r)
	}
	return r
}

// netRerunPulls reruns without the fault after a pull into f was cut with
// delivered of msgs in place: the rerun fetches only the bodies still
// missing, and the folder converges whole.
func netRerunPulls(t *testing.T, e *env, p *faultproxy.Proxy, f folderPair, msgs []seed, delivered int) {
	t.Helper()
	before := e.srv.BodyFetches(t, e.user)
	r := netRerun(t, e, p)
	if d := e.srv.BodyFetches(t, e.user) - before; d > len(msgs)-delivered {
		t.Errorf("the rerun fetched %d bodies; only %d messages were missing. %s", d, len(msgs)-delivered, r)
	}
	netConverged(t, e, f, netIDs(msgs))
	e.checkComplete(t, f)
	netNothingLeft(t, e)
}

// netNothingLeft asserts that one more run has nothing to do.
func netNothingLeft(t *testing.T, e *env) {
	t.Helper()
	r := e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("the run after convergence: want %q, got %s", noopSummary, r)
	}
}

// TestFaultNetCutMidFetch: the connection breaks in the middle of a
// message body while pulling. The run fails naming the folder and the
// broken connection; the two messages before the cut are delivered
// complete, the broken one leaves no file; the rerun downloads only what
// is missing.
func TestFaultNetCutMidFetch(t *testing.T) {
	t.Parallel()
	e, p := netEnv(t, "")
	inbox := folderPair{"INBOX", "INBOX"}
	const total = 12
	msgs := seeds("cutfetch", total, 50000)
	e.seedServer("INBOX", msgs)

	p.SetPlan(faultproxy.First(faultproxy.Fault{Cut: &faultproxy.Trigger{
		Dir: faultproxy.ServerToClient, Literal: true, Nth: 3, Skip: 1000}}))
	r := e.run("sync")
	netMustFail(t, r, netFolder("INBOX"), netConnError.String())
	if s := p.Stats(); s.Cuts != 1 {
		t.Fatalf("the proxy did not cut the connection (%+v); %s", s, r)
	}
	// No partial file: every file in cur/ and new/ is the server's message
	// of its U=. (On failure the test goes on, to show what the rerun
	// makes of it.)
	delivered := e.checkComplete(t, inbox)
	if delivered != 2 {
		t.Errorf("%d files delivered; want the 2 messages whose bodies arrived before the cut", delivered)
	}

	netRerunPulls(t, e, p, inbox, msgs, delivered)
}

// TestFaultNetCutMidCompressedFetch: as TestFaultNetCutMidFetch, on a
// connection compressed with COMPRESS=DEFLATE, cut in the middle of the
// compressed stream. Nothing from the broken stream is committed: every
// file delivered is its server message whole, the broken message leaves
// nothing, and the rerun fetches only what is missing.
func TestFaultNetCutMidCompressedFetch(t *testing.T) {
	t.Parallel()
	e, p := faultEnv(t, envOptions{compress: true})
	inbox := folderPair{"INBOX", "INBOX"}
	const total = 12
	msgs := seeds("cutzip", total, 50000)
	e.seedServer("INBOX", msgs)

	// The proxy sees compressed bytes, so it cuts by count: 100 kB down
	// is past the login and the folder list and inside the bodies, which
	// come to about 400 kB compressed.
	p.SetPlan(faultproxy.First(faultproxy.Fault{Cut: &faultproxy.Trigger{
		Dir: faultproxy.ServerToClient, Skip: 100_000}}))
	r := e.run("--log-level", "trace", "sync")
	netMustFail(t, r, netFolder("INBOX"), netConnError.String())
	if s := p.Stats(); s.Cuts != 1 {
		t.Fatalf("the proxy did not cut the connection (%+v); %s", s, r)
	}
	// The trace shows the conversation in clear: COMPRESS accepted, then
	// the FETCH of the bodies it carried.
	if !regexp.MustCompile(`S: M\d+ OK`).MatchString(r.stderr) || !strings.Contains(r.stderr, "COMPRESS DEFLATE") ||
		!strings.Contains(r.stderr, "UID FETCH") {
		t.Fatalf("the cut connection was not a compressed one; the trace:\n%.4000s", r.stderr)
	}
	delivered := e.checkComplete(t, inbox)
	if delivered == 0 || delivered >= total {
		t.Errorf("%d files delivered; want some, not all: the cut falls inside the bodies", delivered)
	}

	netRerunPulls(t, e, p, inbox, msgs, delivered)
}

// TestFaultNetCutMidAppend: the connection breaks while pushing new local
// mail: in the middle of the second message, or after the server stored it
// but before its OK (with the new UID) reached mailsync. The rerun must
// upload what the server did not take and find on the server what it did
// (upload journal), so that each message ends up there exactly once.
// Against a server without MULTIAPPEND the APPENDs are pipelined, so in
// the second case the messages sent after the second one may be stored
// too; with MULTIAPPEND one command carries all eight, and the server
// keeps all or none.
func TestFaultNetCutMidAppend(t *testing.T) {
	t.Parallel()
	const n = 8
	for _, c := range []struct {
		name  string
		cut   faultproxy.Trigger
		strip []string
		// how many of the n new messages the server holds after the cut
		want func(onServer int) bool
		what string
	}{
		// One APPEND per message (a server without MULTIAPPEND).
		{"MidLiteral", faultproxy.Trigger{Dir: faultproxy.ClientToServer, Literal: true, Match: "APPEND", Nth: 2, Skip: 1500},
			[]string{"MULTIAPPEND"}, func(k int) bool { return k == 1 }, "1 (the second message was cut short)"},
		{"BeforeTaggedOK", faultproxy.Trigger{Dir: faultproxy.ServerToClient, Match: "APPENDUID", Nth: 2},
			[]string{"MULTIAPPEND"}, func(k int) bool { return k >= 2 }, "at least 2 (the second one stored, unacknowledged)"},
		// One MULTIAPPEND for all: the server takes the batch whole or not at all.
		{"MultiMidLiteral", faultproxy.Trigger{Dir: faultproxy.ClientToServer, Literal: true, Nth: 2, Skip: 1500},
			nil, func(k int) bool { return k == 0 }, "0 (the command was cut short)"},
		{"MultiBeforeTaggedOK", faultproxy.Trigger{Dir: faultproxy.ServerToClient, Match: "APPENDUID"},
			nil, func(k int) bool { return k == n }, fmt.Sprintf("%d (all stored, unacknowledged)", n)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, p := netEnv(t, "")
			inbox := folderPair{"INBOX", "INBOX"}
			old := seeds("cutpush-old", 3, 2000)
			e.seedServer("INBOX", old)
			e.mustSync("sync")
			writeClientMail(t, e, "INBOX", "cutpush", n)

			p.SetPlan(faultproxy.First(faultproxy.Fault{Cut: &c.cut, StripCaps: c.strip}))
			r := e.run("sync")
			netMustFail(t, r, netFolder("INBOX"), `APPEND`, netConnError.String())
			if s := p.Stats(); s.Cuts != 1 {
				t.Fatalf("the proxy did not cut the connection (%+v); %s", s, r)
			}
			onServer := len(e.srv.Messages(t, e.user, "INBOX")) - len(old)
			t.Logf("cut with %d of %d new messages on the server", onServer, n)
			if !c.want(onServer) {
				t.Errorf("the server has %d new messages after the cut, want %s", onServer, c.what)
			}

			netRerun(t, e, p)
			netConverged(t, e, inbox, append(netIDs(old), netClientIDs("cutpush", n)...))
			netNothingLeft(t, e)
		})
	}
}

// TestFaultNetCutBeforeExpunge: local deletions are propagated with UID
// STORE +FLAGS (\Deleted) and then UID EXPUNGE, sent together; the
// connection breaks after the STORE reached the server and before the
// EXPUNGE did, so neither answer arrives. The messages stay on the server
// marked \Deleted; the rerun expunges exactly them.
func TestFaultNetCutBeforeExpunge(t *testing.T) {
	t.Parallel()
	e, p := netEnv(t, "")
	inbox := folderPair{"INBOX", "INBOX"}
	msgs := seeds("cutexp", 10, 2000)
	e.seedServer("INBOX", msgs)
	e.mustSync("sync")
	gone := []string{msgID("cutexp-0002"), msgID("cutexp-0004"), msgID("cutexp-0007")}
	for _, id := range gone {
		netRemoveLocal(t, e, "INBOX", id)
	}

	p.SetPlan(faultproxy.First(faultproxy.Fault{Cut: &faultproxy.Trigger{Dir: faultproxy.ClientToServer, Match: "EXPUNGE"}}))
	r := e.run("sync")
	// The first answer missing is the STORE's, or the EXPUNGE's when the
	// STORE was answered before the EXPUNGE reached the proxy (go-imap
	// writes each command on its own; a busy machine can delay the second).
	netMustFail(t, r, netFolder("INBOX"), `(UID STORE|EXPUNGE): `, netConnError.String())
	if s := p.Stats(); s.Cuts != 1 {
		t.Fatalf("the proxy did not cut the connection (%+v); %s", s, r)
	}
	// The STORE went through, the EXPUNGE did not.
	srv := e.srv.Messages(t, e.user, "INBOX")
	if len(srv) != len(msgs) {
		t.Fatalf("the server has %d messages after the cut, want all %d", len(srv), len(msgs))
	}
	for _, m := range srv {
		if deleted := strings.Contains(serverLetters(m.Flags), "T"); deleted != netContains(gone, m.MessageID) {
			t.Errorf("after the cut: %s has flags %v; only the locally deleted messages should be \\Deleted", m.MessageID, m.Flags)
		}
	}

	netRerun(t, e, p)
	netConverged(t, e, inbox, netWithout(netIDs(msgs), gone...))
	netNothingLeft(t, e)
}

// TestFaultNetStall: the server stops answering (the proxy forwards
// nothing, answers nothing, but keeps the connection open), right after
// login or in the middle of a message body. With timeout = "5s" the run
// gives up on its own and says it timed out. The bound on the wall time
// is 30 s: 5 s of no progress plus logout and teardown, with a wide margin
// because this runs in parallel with a dozen Dovecots on two cores; a
// mailsync that waited for go-imap's own limits or forever would take
// minutes.
func TestFaultNetStall(t *testing.T) {
	t.Parallel()
	const total = 12
	for _, c := range []struct {
		name  string
		stall faultproxy.Trigger
	}{
		// After LOGIN and CAPABILITY, the first command is LIST.
		{"AfterLogin", faultproxy.Trigger{Dir: faultproxy.ClientToServer, Match: "LIST"}},
		{"MidFetch", faultproxy.Trigger{Dir: faultproxy.ServerToClient, Literal: true, Nth: 3, Skip: 1000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, p := netEnv(t, netTimeout)
			inbox := folderPair{"INBOX", "INBOX"}
			msgs := seeds("stall", total, 50000)
			e.seedServer("INBOX", msgs)

			p.SetPlan(faultproxy.First(faultproxy.Fault{Stall: &c.stall}))
			r := netRunBounded(t, e, 30*time.Second)
			netMustFail(t, r, `(?i)timeout|timed out`)
			if r.duration < 4*time.Second {
				t.Errorf("the run ended after %v, before the 5 s timeout could have expired: %s", r.duration, r)
			}
			if s := p.Stats(); s.Stalls != 1 {
				t.Fatalf("the proxy did not stall the connection (%+v); %s", s, r)
			}
			t.Logf("gave up after %v", r.duration.Round(time.Millisecond))
			delivered := e.checkComplete(t, inbox)
			if t.Failed() {
				t.FailNow()
			}

			before := e.srv.BodyFetches(t, e.user)
			r = netRerun(t, e, p)
			if d := e.srv.BodyFetches(t, e.user) - before; d > total-delivered {
				t.Errorf("the rerun fetched %d bodies; only %d messages were missing. %s", d, total-delivered, r)
			}
			netConverged(t, e, inbox, netIDs(msgs))
			netNothingLeft(t, e)
		})
	}
}

// TestFaultNetLatency: 50 ms per round trip (25 ms each way) on a two-way
// workload with new mail, flag changes and deletions on both sides in two
// folders: the result is correct and the same as without latency.
func TestFaultNetLatency(t *testing.T) {
	t.Parallel()
	type outcome struct {
		summary string
		sides   map[string][]netMsg
		took    time.Duration
	}
	run := func(t *testing.T, latency time.Duration) outcome {
		e, p := netEnv(t, "")
		inbox, work := folderPair{"INBOX", "INBOX"}, folderPair{"Work", "Work"}
		in, wk := seeds("lat-inbox", 15, 3000), seeds("lat-work", 8, 6000)
		e.seedServer("INBOX", in)
		e.seedServer("Work", wk)
		e.mustSync("sync")

		// Server side: new mail, flags set and cleared, expunges.
		e.srv.Append(t, e.user, "INBOX", makeMsg("lat-srv-new-1", 2500), `\Flagged`)
		e.srv.Append(t, e.user, "INBOX", makeMsg("lat-srv-new-2", 2500))
		e.srv.Append(t, e.user, "Work", makeMsg("lat-srv-new-3", 2500), `\Seen`)
		e.srv.AddFlags(t, e.user, "INBOX", netServerUID(t, e, "INBOX", msgID("lat-inbox-0001")), `\Seen`, `\Answered`)
		e.srv.RemoveFlags(t, e.user, "INBOX", netServerUID(t, e, "INBOX", msgID("lat-inbox-0003")), `\Seen`)
		e.srv.Expunge(t, e.user, "INBOX", netServerUID(t, e, "INBOX", msgID("lat-inbox-0002")))
		e.srv.Expunge(t, e.user, "Work", netServerUID(t, e, "Work", msgID("lat-work-0003")))
		// Local side: new mail, flags, deletions.
		writeClientMail(t, e, "INBOX", "lat-local-inbox", 3)
		writeClientMail(t, e, "Work", "lat-local-work", 2)
		netSetLocalFlags(t, e, "INBOX", msgID("lat-inbox-0005"), "FS")
		netSetLocalFlags(t, e, "Work", msgID("lat-work-0001"), "S")
		netRemoveLocal(t, e, "INBOX", msgID("lat-inbox-0008"))
		netRemoveLocal(t, e, "Work", msgID("lat-work-0005"))

		p.Set(faultproxy.Fault{Latency: latency})
		r := e.mustSync("sync")
		if s := netSummary(r.stdout); !s.found || s.pulled != 3 || s.pushed != 5 || s.flagsDown != 2 || s.flagsUp != 2 || s.delDown != 2 || s.delUp != 2 || s.errors != 0 {
			t.Errorf("want pulled 3, pushed 5, flags 2↓ 2↑, deleted 2↓ 2↑, 0 errors; got %s", r)
		}
		p.PassThrough()
		netConverged(t, e, inbox, append(netWithout(netIDs(in), msgID("lat-inbox-0002"), msgID("lat-inbox-0008")),
			append([]string{msgID("lat-srv-new-1"), msgID("lat-srv-new-2")}, netClientIDs("lat-local-inbox", 3)...)...))
		netConverged(t, e, work, append(netWithout(netIDs(wk), msgID("lat-work-0003"), msgID("lat-work-0005")),
			append([]string{msgID("lat-srv-new-3")}, netClientIDs("lat-local-work", 2)...)...))
		netFolderSets(t, e)
		netNothingLeft(t, e)
		summary := netSummaryRE.FindString(r.stdout)
		summary = summary[:strings.LastIndex(summary, " (")] // without the duration
		return outcome{summary, map[string][]netMsg{
			"server INBOX": netServerSide(t, e, "INBOX"), "local INBOX": netLocalSide(t, e, "INBOX"),
			"server Work": netServerSide(t, e, "Work"), "local Work": netLocalSide(t, e, "Work"),
		}, r.duration}
	}
	var plain, slow outcome
	t.Run("group", func(t *testing.T) {
		t.Run("NoLatency", func(t *testing.T) { t.Parallel(); plain = run(t, 0) })
		t.Run("Latency50msRTT", func(t *testing.T) { t.Parallel(); slow = run(t, 25*time.Millisecond) })
	})
	if t.Failed() {
		return
	}
	t.Logf("the sync took %v without latency, %v with 50 ms per round trip", plain.took.Round(time.Millisecond), slow.took.Round(time.Millisecond))
	if plain.summary != slow.summary {
		t.Errorf("summaries differ: without latency %q, with %q", plain.summary, slow.summary)
	}
	for k, v := range plain.sides {
		if !reflect.DeepEqual(v, slow.sides[k]) {
			t.Errorf("%s differs with latency:\n  without %v\n  with    %v", k, v, slow.sides[k])
		}
	}
}
