package test

// Fault injection: process death. TestCrashRandomKill kills mailsync with
// SIGKILL at random points of a random two-way workload and checks that a
// rerun converges. The convergence checker in this file (crashConverged) is
// shared by the other fault_*_test.go files of this helper set.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailsync/internal/dovetest"
	"mailsync/internal/state"
)

// ---------------------------------------------------------------------------
// The convergence checker

// crashExpect is what a message must look like once both sides agree: the
// SHA-256 of its text with LF line endings and its flags (sorted Maildir
// letters of the flags mailsync syncs).
type crashExpect struct {
	hash  string
	flags string
}

// crashModel is the set of messages that must exist after a converging run:
// local folder name → Message-ID → expectation. A folder that must exist but
// be empty has an empty (non-nil) map.
type crashModel map[string]map[string]crashExpect

// add records that folder must hold the message msg (in any line-ending
// form) with the given flags.
func (m crashModel) add(folder string, msg []byte, flags string) string {
	id := crashMessageID(msg)
	if m[folder] == nil {
		m[folder] = map[string]crashExpect{}
	}
	m[folder][id] = crashExpect{hash: crashHash(msg), flags: maildirSorted(flags)}
	return id
}

// crashHash is the SHA-256 (hex) of a message with CRLF normalised to LF,
// so a server copy and a local copy of the same message hash alike.
func crashHash(b []byte) string {
	s := sha256.Sum256(toLF(b))
	return hex.EncodeToString(s[:])
}

// crashMessageID is the Message-ID header value of a message text.
func crashMessageID(b []byte) string {
	hdr := b
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		hdr = b[:i]
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 && i < len(hdr) {
		hdr = b[:i]
	}
	for _, l := range strings.Split(string(hdr), "\n") {
		l = strings.TrimRight(l, "\r")
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// maildirSorted keeps the flag letters mailsync syncs (D F P R S T), sorted
// and without repeats.
func maildirSorted(flags string) string {
	var b []byte
	for _, c := range "DFPRST" {
		if strings.ContainsRune(flags, c) {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

// crashCopy is one copy of a message on one side.
type crashCopy struct {
	where string // "UID n" or the local file's sub/name
	uid   uint32 // server UID, or the local file's U= (0 if none)
	hash  string
	flags string
}

// crashLocalFolder is a local folder's name (the fs layout's path below the
// root, '/'-separated) for a server mailbox name on Dovecot's '.'
// separator.
func crashLocalFolder(remote string) string {
	if strings.EqualFold(remote, "INBOX") {
		return "INBOX"
	}
	return strings.ReplaceAll(remote, ".", "/")
}

// crashLocalFolders lists the Maildir folders under root in the fs layout:
// every directory with a cur/ subdirectory.
func crashLocalFolders(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		n := d.Name()
		if p != root && (n == "cur" || n == "new" || n == "tmp" || strings.HasPrefix(n, ".")) {
			return filepath.SkipDir
		}
		if st, err := os.Lstat(filepath.Join(p, "cur")); err == nil && st.IsDir() && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// crashLocalCopies reads every message file of a local folder (cur/ and
// new/; dot files, non-regular files and paths in ignore are left out),
// grouped by Message-ID.
func crashLocalCopies(t *testing.T, dir string, ignore map[string]bool) map[string][]crashCopy {
	t.Helper()
	out := map[string][]crashCopy{}
	for _, sub := range []string{"cur", "new"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			p := filepath.Join(dir, sub, de.Name())
			if strings.HasPrefix(de.Name(), ".") || ignore[p] || !de.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			n := parseLocalName(de.Name())
			id := crashMessageID(b)
			out[id] = append(out[id], crashCopy{where: sub + "/" + de.Name(), uid: n.uid, hash: crashHash(b), flags: n.flags})
		}
	}
	return out
}

// crashServerCopies fetches a server mailbox with bodies, grouped by
// Message-ID.
func crashServerCopies(t *testing.T, e *env, mailbox string) map[string][]crashCopy {
	t.Helper()
	out := map[string][]crashCopy{}
	for _, m := range e.srv.MessagesWithBodies(t, e.user, mailbox) {
		out[m.MessageID] = append(out[m.MessageID], crashCopy{
			where: fmt.Sprintf("UID %d", m.UID), uid: m.UID, hash: crashHash(m.Body), flags: serverLetters(m.Flags)})
	}
	return out
}

// crashConverged checks that both sides hold the same mail: every folder
// exists on both sides; in every folder, every (Message-ID, body hash) is on
// the server exactly once and locally exactly once, with the same flags and
// the local file's U= naming the server copy. When want is not nil, the
// messages are also exactly the expected ones, with the expected body and
// flags: nothing that should exist is missing (from both sides), nothing
// deleted came back. Local paths in ignore (hostile files a test left in
// place) are not looked at. It reports every problem with t.Errorf and
// returns whether there was none.
func crashConverged(t *testing.T, e *env, want crashModel, ignore ...string) bool {
	t.Helper()
	ign := map[string]bool{}
	for _, p := range ignore {
		ign[p] = true
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Folders: the server's, the local ones and the expected ones.
	folders := map[string]string{} // local name → server name
	onServer, onLocal := map[string]bool{}, map[string]bool{}
	for _, mb := range e.srv.Mailboxes(t, e.user) {
		l := crashLocalFolder(mb)
		folders[l] = mb
		onServer[l] = true
	}
	for _, l := range crashLocalFolders(t, e.mail) {
		onLocal[l] = true
		if _, ok := folders[l]; !ok {
			folders[l] = ""
		}
	}
	for l := range want {
		if _, ok := folders[l]; !ok {
			folders[l] = ""
		}
	}
	names := make([]string, 0, len(folders))
	for l := range folders {
		names = append(names, l)
	}
	sort.Strings(names)

	for _, l := range names {
		if !onServer[l] || !onLocal[l] {
			where := "on the server"
			if onServer[l] {
				where = "locally"
			} else if !onLocal[l] {
				where = "on either side"
			}
			bad("folder %q does not exist %s", l, where)
			continue
		}
		srv := crashServerCopies(t, e, folders[l])
		loc := crashLocalCopies(t, e.localDir(l), ign)
		ids := map[string]bool{}
		for id := range srv {
			ids[id] = true
		}
		for id := range loc {
			ids[id] = true
		}
		for id := range want[l] {
			ids[id] = true
		}
		sorted := make([]string, 0, len(ids))
		for id := range ids {
			sorted = append(sorted, id)
		}
		sort.Strings(sorted)
		for _, id := range sorted {
			s, lc := srv[id], loc[id]
			w, expected := want[l][id]
			switch {
			case len(s) == 0 && len(lc) == 0:
				bad("%s: %s is lost: on neither side", l, id)
				continue
			case want != nil && !expected:
				bad("%s: %s should not exist (deleted, or never created) but is on the server %v and locally %v",
					l, id, crashWheres(s), crashWheres(lc))
				continue
			case len(s) == 0:
				bad("%s: %s is only local: %v", l, id, crashWheres(lc))
				continue
			case len(lc) == 0:
				bad("%s: %s is only on the server: %v", l, id, crashWheres(s))
				continue
			}
			if len(s) > 1 {
				bad("%s: %s is on the server %d times: %v", l, id, len(s), crashWheres(s))
			}
			if len(lc) > 1 {
				bad("%s: %s is local %d times: %v", l, id, len(lc), crashWheres(lc))
			}
			sc, c := s[0], lc[0]
			if sc.hash != c.hash {
				bad("%s: %s differs: server %s body sha256 %.12s, local %s %.12s", l, id, sc.where, sc.hash, c.where, c.hash)
			}
			if sc.flags != c.flags {
				bad("%s: %s flags differ: server %s %q, local %s %q", l, id, sc.where, sc.flags, c.where, c.flags)
			}
			if c.uid != sc.uid {
				bad("%s: %s: local file %s has U=%d, the server copy is %s", l, id, c.where, c.uid, sc.where)
			}
			if expected {
				if sc.hash != w.hash {
					bad("%s: %s: server %s has body sha256 %.12s, want %.12s (the message as created)", l, id, sc.where, sc.hash, w.hash)
				}
				if c.hash != w.hash {
					bad("%s: %s: local %s has body sha256 %.12s, want %.12s (the message as created)", l, id, c.where, c.hash, w.hash)
				}
				if sc.flags != w.flags || c.flags != w.flags {
					bad("%s: %s: flags server %q, local %q; want %q", l, id, sc.flags, c.flags, w.flags)
				}
			}
		}
	}
	// The state's folder digests must match its rows whatever the crash
	// interrupted: the next sync trusts them to name the changed files.
	dbs, _ := filepath.Glob(filepath.Join(e.state, "*.db"))
	for _, path := range dbs {
		st, err := state.Open(context.Background(), path, false)
		if err != nil {
			bad("state %s: %v", path, err)
			continue
		}
		fs, err := st.Folders(context.Background())
		if err != nil {
			bad("state %s: %v", path, err)
		}
		for _, f := range fs {
			if err := st.VerifyDigest(context.Background(), f.ID); err != nil {
				bad("state %s: folder %s: %v", path, f.Name, err)
			}
		}
		st.Close()
	}
	if len(problems) == 0 {
		return true
	}
	if len(problems) > 40 {
		problems = append(problems[:40], fmt.Sprintf("... and %d more", len(problems)-40))
	}
	t.Errorf("the two sides have not converged:\n  %s", strings.Join(problems, "\n  "))
	return false
}

// crashSummaryRE is summaryRE, also matching the singular "1 error" that
// the summary line prints for a single failure.
var crashSummaryRE = regexp.MustCompile(`(?m)^` + acct + `: pulled (\d+), pushed (\d+), flags (\d+)↓ (\d+)↑, deleted (\d+)↓ (\d+)↑, (\d+) errors?(.*)$`)

// crashSummary parses the account summary line like parseSummary, whatever
// the number of errors.
func crashSummary(stdout string) summary {
	m := crashSummaryRE.FindStringSubmatch(stdout)
	if m == nil {
		return summary{}
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return summary{n(1), n(2), n(3), n(4), n(5), n(6), n(7), m[8], true}
}

func crashWheres(cs []crashCopy) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.where+" ["+c.flags+"]")
	}
	return out
}

// ---------------------------------------------------------------------------
// Random kill -9

// crashFolders are the folders of the random workload: INBOX, a nested one
// and a non-ASCII one (Dovecot's separator is '.').
var crashFolders = []folderPair{{"INBOX", "INBOX"}, {"Archive.2025", "Archive/2025"}, {"Entwürfe", "Entwürfe"}}

// crashIterations is how many seeded iterations TestCrashRandomKill runs.
func crashIterations(t *testing.T) int {
	if v := os.Getenv("MAILSYNC_FAULT_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MAILSYNC_FAULT_ITERATIONS=%q: want a positive number", v)
		}
		return n
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		return 25
	}
	return 5
}

// crashSeeds returns the iteration seeds: just MAILSYNC_FAULT_SEED when it is
// set, else n seeds drawn from the clock.
func crashSeeds(t *testing.T) []uint64 {
	if v := os.Getenv("MAILSYNC_FAULT_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MAILSYNC_FAULT_SEED=%q: want an unsigned integer", v)
		}
		return []uint64{s}
	}
	n := crashIterations(t)
	base := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	out := make([]uint64, n)
	for i := range out {
		out[i] = base.Uint64() >> 1 // fits an int64 too, for people who paste it around
	}
	return out
}

// TestCrashRandomKill: a random two-way workload (new messages, some of
// 100–300 KB, flag changes and deletions on both sides, in INBOX, a nested
// and a non-ASCII folder, plus a few conflicts: flags changed on both
// sides, a deletion on one side and a flag change on the other), a
// mailsync killed with SIGKILL after a random delay (about a third of the
// time, the first recovery run is killed too), then a rerun that must
// exit 0 and leave both sides converged on exactly the expected messages:
// new ones exactly once on both sides, deleted ones gone from both, every
// flag change on both sides (per-flag merge), and a last run with nothing
// left to do.
//
// Every iteration is self-contained (its own Dovecot, Maildir and state)
// and derived from its seed, so one can be replayed alone:
// MAILSYNC_FAULT_SEED=<seed> go test ./test/ -run TestCrashRandomKill -v.
// N = 5 iterations, 25 with CI=true, or MAILSYNC_FAULT_ITERATIONS.
func TestCrashRandomKill(t *testing.T) {
	t.Parallel()
	seeds := crashSeeds(t)
	t.Logf("%d iterations; seeds %v", len(seeds), seeds)
	var interrupted, finished atomic.Int32
	for i, s := range seeds {
		t.Run(fmt.Sprintf("%02d-seed-%d", i, s), func(t *testing.T) {
			t.Parallel()
			t.Logf("seed %d", s)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("FAILED with seed %d; rerun just this iteration with:\n"+
						"  MAILSYNC_FAULT_SEED=%d go test ./test/ -run '^TestCrashRandomKill$' -count=1 -v", s, s)
				}
			})
			if crashIteration(t, s) {
				interrupted.Add(1)
			} else {
				finished.Add(1)
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("%d runs killed mid-sync, %d had finished before the kill", interrupted.Load(), finished.Load())
	})
}

// TestCrashKnownSeeds replays iterations of TestCrashRandomKill that once
// failed, with the workload generator as it is now:
//   - 4251996179407183696: a folder whose messages went, learnt from
//     VANISHED, and whose changed flags sorted in with them, deleted the
//     wrong local copy;
//   - 1107571946460363440: a UID EXPUNGE written behind an APPEND to the
//     same mailbox expunged nothing on Dovecot (it did in about 40 % of
//     runs, so the iteration runs six times).
func TestCrashKnownSeeds(t *testing.T) {
	t.Parallel()
	seeds := []uint64{4251996179407183696}
	for range 6 {
		seeds = append(seeds, 1107571946460363440)
	}
	for i, s := range seeds {
		t.Run(fmt.Sprintf("%02d-seed-%d", i, s), func(t *testing.T) {
			t.Parallel()
			crashIteration(t, s)
		})
	}
}

// crashRun is the state of one iteration.
type crashRun struct {
	t     *testing.T
	e     *env
	rng   *rand.Rand
	seed  uint64
	want  crashModel
	seq   int // numbers new messages
	large int // how many 100–300 KB messages were created
}

// crashLetters are the flags the workload sets and clears.
const crashLetters = "DFRS"

var crashIMAPFlag = map[byte]string{'D': `\Draft`, 'F': `\Flagged`, 'R': `\Answered`, 'S': `\Seen`}

// size returns a message size: a third of them 100–300 KB, so that
// transfers take long enough to be cut short, the rest 1–8 KB.
func (c *crashRun) size() int {
	if c.rng.IntN(3) == 0 {
		c.large++
		return 100_000 + c.rng.IntN(200_001)
	}
	return 1000 + c.rng.IntN(7001)
}

func (c *crashRun) flags() string {
	var b []byte
	for i := 0; i < len(crashLetters); i++ {
		if c.rng.IntN(3) == 0 {
			b = append(b, crashLetters[i])
		}
	}
	return string(b)
}

func (c *crashRun) newID(side string) string {
	c.seq++
	return fmt.Sprintf("crash-%d-%s-%03d", c.seed, side, c.seq)
}

// crashIteration runs one seeded iteration and reports whether the kill
// interrupted a running mailsync.
func crashIteration(t *testing.T, sd uint64) bool {
	c := &crashRun{t: t, seed: sd, rng: rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15)), want: crashModel{}}
	c.e = newEnv(t, envOptions{})
	e := c.e

	// The starting point: a few messages in each folder, synced by an
	// uninterrupted run whose duration scales the kill delays below.
	for _, f := range crashFolders {
		c.serverNew(f, 2+c.rng.IntN(6))
	}
	r := e.mustSync("sync")
	full := r.duration
	if !crashConverged(t, e, c.want) {
		t.Fatalf("the first, uninterrupted sync did not converge; %s", r)
	}

	// Random changes on both sides, each message in at most one kind of
	// change (a one-sided one, or one of the conflicts whose outcome the
	// README defines), so that the expected outcome is unambiguous.
	var ops []string
	for _, f := range crashFolders {
		ops = append(ops, c.change(f))
	}
	t.Logf("changes: %s", strings.Join(ops, "; "))

	// The killed run. The changes are about as much work as the first
	// sync, so delays from 0 to 1.25 times its duration land some kills
	// before any work, most in the middle and a few after the end.
	delay := time.Duration(c.rng.Float64() * 1.25 * float64(full))
	p := e.start("sync")
	time.Sleep(delay)
	killed := p.kill9()
	if killed {
		t.Logf("killed after %v (an uninterrupted first sync took %v); %d large messages in play",
			delay.Round(time.Millisecond), full.Round(time.Millisecond), c.large)
	} else {
		t.Logf("the run finished before the kill at %v: %s", delay.Round(time.Millisecond), p.res)
		if p.res.code != 0 {
			t.Errorf("the run that was not interrupted failed: %s", p.res)
		}
	}

	// Now and then the recovery itself is killed too: a second crash while
	// adopting files and settling the upload journal.
	if killed && c.rng.IntN(3) == 0 {
		delay2 := time.Duration(c.rng.Float64() * float64(full))
		p = e.start("sync")
		time.Sleep(delay2)
		if p.kill9() {
			t.Logf("the recovery run was killed too, after %v", delay2.Round(time.Millisecond))
		} else if p.res.code != 0 {
			t.Errorf("the recovery run, not interrupted, failed: %s", p.res)
		}
	}

	// The rerun must finish the job.
	r = e.run("sync")
	if r.code != 0 || r.signal != 0 {
		t.Fatalf("rerun after the kill: want exit 0, got %s", r)
	}
	if s := crashSummary(r.stdout); !s.found || s.errors != 0 {
		t.Errorf("rerun after the kill: want a summary with 0 errors, got %s", r)
	}
	if !crashConverged(t, e, c.want) {
		t.FailNow()
	}
	// Converged means nothing is left to do, in the state too.
	r = e.mustSync("sync")
	if !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("the run after the converging rerun still had work: want %q, got %s", noopSummary, r)
	}
	return killed
}

// serverNew delivers n new messages to the server folder f.
func (c *crashRun) serverNew(f folderPair, n int) {
	var ss []seed
	for i := 0; i < n; i++ {
		sd := seed{id: c.newID("s"), size: c.size(), flags: c.flags()}
		ss = append(ss, sd)
		c.want.add(f.local, makeMsg(sd.id, sd.size), sd.flags)
	}
	if len(ss) > 0 {
		c.e.seedServer(f.remote, ss)
	} else if c.want[f.local] == nil {
		c.e.srv.CreateMailbox(c.t, c.e.user, f.remote)
		c.want[f.local] = map[string]crashExpect{}
	}
}

// change applies random changes to folder f on both sides and records the
// expected outcome. It returns a description for the log.
func (c *crashRun) change(f folderPair) string {
	t, e := c.t, c.e
	srvMsgs := map[string]dovetest.Message{}
	for _, m := range e.srv.Messages(t, e.user, f.remote) {
		srvMsgs[m.MessageID] = m
	}
	locMsgs := map[string]localMsg{}
	for _, l := range e.local(f.local) {
		locMsgs[l.messageID] = l
	}
	// Messages to touch, each in one kind of change, in a seeded order.
	var pool []string
	for id := range c.want[f.local] {
		pool = append(pool, id)
	}
	sort.Strings(pool)
	c.rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	take := func(max int) []string {
		n := c.rng.IntN(max + 1)
		if n > len(pool) {
			n = len(pool)
		}
		out := pool[:n]
		pool = pool[n:]
		return out
	}
	srvFlag, srvDel, locFlag, locDel := take(3), take(2), take(3), take(2)
	// Conflicts with a defined outcome: flags changed on both sides merge
	// per flag; a deletion wins over a flag change on the other side.
	both, delVsFlag, flagVsDel := take(1), take(1), take(1)

	srvToggle, locToggle := map[string]byte{}, map[string]byte{}
	letter := func() byte { return crashLetters[c.rng.IntN(len(crashLetters))] }
	for _, id := range crashConcat(srvFlag, both, delVsFlag) {
		srvToggle[id] = letter()
	}
	for _, id := range crashConcat(locFlag, both, flagVsDel) {
		locToggle[id] = letter()
	}
	srvGone, locGone := crashConcat(srvDel, flagVsDel), crashConcat(locDel, delVsFlag)

	// Server: flag toggles, grouped into one doveadm call per (op, flag).
	type group struct {
		op, flag string
	}
	groups := map[group][]string{}
	var order []group
	for _, id := range crashConcat(srvFlag, both, delVsFlag) {
		m, ok := srvMsgs[id]
		if !ok {
			t.Fatalf("%s: %s is in the model but not on the server", f.remote, id)
		}
		l := srvToggle[id]
		g := group{"add", crashIMAPFlag[l]}
		if strings.IndexByte(serverLetters(m.Flags), l) >= 0 {
			g.op = "remove"
		}
		if groups[g] == nil {
			order = append(order, g)
		}
		groups[g] = append(groups[g], strconv.FormatUint(uint64(m.UID), 10))
	}
	for _, g := range order {
		e.srv.Doveadm(t, "flags", g.op, "-u", e.user, g.flag, "mailbox", f.remote, "uid", strings.Join(groups[g], ","))
	}
	// Server: expunges.
	var uids []string
	for _, id := range srvGone {
		uids = append(uids, strconv.FormatUint(uint64(srvMsgs[id].UID), 10))
	}
	if len(uids) > 0 {
		e.srv.Doveadm(t, "expunge", "-u", e.user, "mailbox", f.remote, "uid", strings.Join(uids, ","))
	}

	// Local: flag toggles, as a mail client renames the file (into cur/).
	dir := e.localDir(f.local)
	for _, id := range crashConcat(locFlag, both, flagVsDel) {
		l, ok := locMsgs[id]
		if !ok {
			t.Fatalf("%s: %s is in the model but has no local file", f.local, id)
		}
		base, _, _ := strings.Cut(l.file, ":2,")
		to := filepath.Join(dir, "cur", base+":2,"+crashToggle(l.flags, locToggle[id]))
		if err := os.Rename(l.path, to); err != nil {
			t.Fatal(err)
		}
	}
	// Local: deletions.
	for _, id := range locGone {
		if err := os.Remove(locMsgs[id].path); err != nil {
			t.Fatal(err)
		}
	}

	// The expected outcome: both sides started from the same flags (the
	// model's); a letter toggled on both sides is one change, made twice.
	for id, l := range srvToggle {
		exp := c.want[f.local][id]
		exp.flags = crashToggle(exp.flags, l)
		c.want[f.local][id] = exp
	}
	for id, l := range locToggle {
		if sl, ok := srvToggle[id]; ok && sl == l {
			continue
		}
		exp := c.want[f.local][id]
		exp.flags = crashToggle(exp.flags, l)
		c.want[f.local][id] = exp
	}
	for _, id := range crashConcat(srvGone, locGone) {
		delete(c.want[f.local], id)
	}

	// Server: new messages.
	nSrvNew := c.rng.IntN(4)
	c.serverNew(f, nSrvNew)

	// Local: new messages written by a mail client: LF line endings, a
	// name without U=, mostly in new/, some already read in cur/.
	nLocNew := c.rng.IntN(4)
	for i := 0; i < nLocNew; i++ {
		id := c.newID("l")
		msg := toLF(makeMsg(id, c.size()))
		name := fmt.Sprintf("%d.%d_%d.crashhost", time.Now().Unix(), c.seed%100000, c.seq)
		sub, flags := "new", ""
		if c.rng.IntN(3) == 0 {
			sub, flags = "cur", maildirSorted("S"+c.flags())
			name += ":2," + flags
		}
		if err := os.WriteFile(filepath.Join(dir, sub, name), msg, 0o600); err != nil {
			t.Fatal(err)
		}
		c.want.add(f.local, msg, flags)
	}
	return fmt.Sprintf("%s: server +%d ~%d -%d, local +%d ~%d -%d, conflicts: flags on both sides %d, deleted locally/flagged on server %d, expunged/flagged locally %d",
		f.local, nSrvNew, len(srvFlag), len(srvDel), nLocNew, len(locFlag), len(locDel), len(both), len(delVsFlag), len(flagVsDel))
}

// crashToggle adds letter to flags, or removes it if present.
func crashToggle(flags string, letter byte) string {
	if strings.IndexByte(flags, letter) >= 0 {
		return strings.ReplaceAll(flags, string(letter), "")
	}
	return maildirSorted(flags + string(letter))
}

func crashConcat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestCrashKilledPullThenServerExpunge: mailsync is killed in the middle of
// a pull, after it delivered some files but before it recorded them in the
// state (the window the README's "adopted on the next run" covers). Before
// the next run, another client expunges some of those messages on the
// server, as well as some that were recorded and some that were never
// downloaded. The server deletion must win for all of them: after the rerun
// they are gone from both sides, and nothing else is lost or duplicated.
func TestCrashKilledPullThenServerExpunge(t *testing.T) {
	t.Parallel()
	const total = 150
	e := newEnv(t, envOptions{})
	inbox := folderPair{"INBOX", "INBOX"}
	want := crashModel{}
	diskSeedModel(e, want, inbox, seeds("zombie", total, 30000))

	// Records are committed every 256 messages or once a second, so a
	// kill after a few dozen files leaves them delivered but unrecorded.
	p := e.start("sync")
	dir := e.localDir("INBOX")
	reached := waitFor(p, 60*time.Second, func() bool { return countLocal(dir) >= 20 })
	if !reached || !p.kill9() {
		t.Fatalf("could not kill mailsync after 20 delivered files (%d files): %s", countLocal(dir), p.res)
	}
	e.checkComplete(t, inbox)
	recorded := map[string]bool{}
	for _, r := range diskStateRows(t, e) {
		recorded[r.key] = true
	}
	var unrecorded, recordedUIDs []uint32
	delivered := map[uint32]bool{}
	for _, l := range e.local("INBOX") {
		delivered[l.uid] = true
		if recorded[l.key] {
			recordedUIDs = append(recordedUIDs, l.uid)
		} else {
			unrecorded = append(unrecorded, l.uid)
		}
	}
	sort.Slice(unrecorded, func(i, j int) bool { return unrecorded[i] < unrecorded[j] })
	t.Logf("killed with %d files delivered, %d of them not yet recorded in the state", len(delivered), len(unrecorded))
	if len(unrecorded) < 3 {
		t.Fatalf("the kill left only %d delivered but unrecorded files; the test needs 3", len(unrecorded))
	}

	// Expunge 3 delivered-but-unrecorded messages, 2 recorded ones (if
	// any) and 2 that were never downloaded.
	expunge := append([]uint32{}, unrecorded[:3]...)
	if len(recordedUIDs) >= 2 {
		expunge = append(expunge, recordedUIDs[:2]...)
	}
	srv := e.srv.Messages(t, e.user, "INBOX")
	for i := len(srv) - 1; i >= 0 && len(expunge) < 7; i-- {
		if !delivered[srv[i].UID] {
			expunge = append(expunge, srv[i].UID)
		}
	}
	byUID := map[uint32]string{}
	for _, m := range srv {
		byUID[m.UID] = m.MessageID
	}
	var list []string
	for _, u := range expunge {
		list = append(list, strconv.FormatUint(uint64(u), 10))
		delete(want["INBOX"], byUID[u])
	}
	e.srv.Doveadm(t, "expunge", "-u", e.user, "mailbox", "INBOX", "uid", strings.Join(list, ","))
	t.Logf("expunged UIDs %v on the server (the first 3 delivered but unrecorded)", expunge)

	r := e.mustSync("sync")
	if s := crashSummary(r.stdout); s.pushed != 0 {
		t.Errorf("the rerun pushed %d messages, but no new local mail was written: "+
			"messages deleted on the server were uploaded again. %s", s.pushed, r)
	}
	crashConverged(t, e, want)
}
