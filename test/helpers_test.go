package test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// acct is the account name every test config uses.
const acct = "acct"

// env is one test's world: a Dovecot with one user, a config file, a local
// Maildir root and a state directory, all private to the test.
type env struct {
	t     *testing.T
	srv   *dovetest.Server
	user  string
	dir   string // the test's temp dir
	cfg   string // config file
	mail  string // local Maildir root (accounts.acct.local.path)
	state string // general.state_dir
	proxy *proxy // nil unless envOptions.proxy
}

// envOptions tweak newEnv.
type envOptions struct {
	// Extra lines for [general], [accounts.acct], [accounts.acct.remote]
	// and [accounts.acct.local].
	generalExtra, accountExtra string
	remoteExtra, localExtra    string
	// proxy puts a pausable TCP proxy between mailsync and Dovecot
	// (env.proxy), to simulate a server that stops answering.
	proxy bool
	// compress has Dovecot offer COMPRESS=DEFLATE.
	compress bool
}

// newEnv starts a Dovecot of its own for the test (so BodyFetches and the
// server state are not shared with any other test) and writes the config.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	user := "u" + strconv.Itoa(rand.Intn(1e6))
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, Compress: o.compress})
	dir := t.TempDir()
	e := &env{
		t: t, srv: srv, user: user, dir: dir,
		cfg:   filepath.Join(dir, "config.toml"),
		mail:  filepath.Join(dir, "Mail"),
		state: filepath.Join(dir, "state"),
	}
	port := srv.Port
	if o.proxy {
		e.proxy = startProxy(t, srv.Addr())
		port = e.proxy.port()
	}
	cfg := fmt.Sprintf(`[general]
state_dir = %q
%s
[accounts.%s]
%s
[accounts.%s.remote]
host = "127.0.0.1"
port = %d
tls = "none"
allow_plaintext = true
user = %q
password = %q
%s
[accounts.%s.local]
path = %q
fsync = true
%s`, e.state, o.generalExtra, acct, o.accountExtra, acct, port, user, srv.Password(user), o.remoteExtra, acct, e.mail, o.localExtra)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// ---------------------------------------------------------------------------
// Running the binary

// lockedBuffer is a bytes.Buffer that a test may read while the process
// still writes to it (a daemon's log).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// result is how a mailsync process ended.
type result struct {
	code     int            // exit code; -1 when killed by a signal
	signal   syscall.Signal // the terminating signal, 0 when it exited
	stdout   string
	stderr   string
	duration time.Duration
}

func (r result) String() string {
	how := fmt.Sprintf("exit %d", r.code)
	if r.signal != 0 {
		how = "killed by " + r.signal.String()
	}
	return fmt.Sprintf("%s after %v\n--- stdout:\n%s--- stderr:\n%s", how, r.duration.Round(time.Millisecond), r.stdout, r.stderr)
}

// proc is a running mailsync.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	start  time.Time
	done   chan struct{}
	res    result
}

// binEnv is the environment of every mailsync process: HOME and the XDG
// directories point into the test's temp dir, so nothing the user has in
// ~/.config or ~/.local/state can leak in (every test also passes -c).
func (e *env) binEnv() []string {
	h := filepath.Join(e.dir, "home")
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + h,
		"XDG_CONFIG_HOME=" + filepath.Join(h, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(h, ".local", "state"),
		"NO_COLOR=1",
		"TZ=UTC",
	}
}

// start runs `mailsync -c CONFIG args...` in the background.
func (e *env) start(args ...string) *proc {
	e.t.Helper()
	return startBin(e.t, e.binEnv(), append([]string{"-c", e.cfg}, args...)...)
}

// startBin runs the binary with exactly args.
func startBin(t *testing.T, environ []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Env = environ
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting mailsync: %v", err)
	}
	go func() {
		err := p.cmd.Wait()
		p.res.duration = time.Since(p.start)
		p.res.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.res.signal = ws.Signal()
		}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.res.stderr = "(wait: " + err.Error() + ")\n"
		}
		p.res.stdout = p.stdout.String()
		p.res.stderr += p.stderr.String()
		close(p.done)
	}()
	// Never leave a process of ours behind, whatever the test did.
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end; on timeout it kills it
// and fails the test.
func (p *proc) wait(timeout time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("mailsync did not end within %v; killed it. %s", timeout, p.res)
		return p.res
	}
}

// signal sends sig to the process (nothing if it has already been reaped).
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("sending %v: %v", sig, err)
	}
}

// kill9 SIGKILLs the process and waits for it. It reports whether the kill
// really interrupted it (false if it had already finished on its own).
func (p *proc) kill9() (interrupted bool) {
	p.t.Helper()
	if p.exited() {
		return false
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	r := p.wait(10 * time.Second)
	return r.signal == syscall.SIGKILL
}

// run runs `mailsync -c CONFIG args...` to completion. A normal run of these
// tests takes well under a second; the bound only turns a hang into a
// failure instead of a test timeout.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.start(args...).wait(60 * time.Second)
}

// mustSync runs `mailsync -c CONFIG args...` (args normally include "sync")
// and fails the test unless it exits 0.
func (e *env) mustSync(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 || r.signal != 0 {
		e.t.Fatalf("mailsync %s: want exit 0, got %s", strings.Join(args, " "), r)
	}
	return r
}

// noopSummary is what the summary line says when a run had nothing to do.
const noopSummary = acct + ": pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors"

// summaryRE parses the account summary line.
var summaryRE = regexp.MustCompile(`(?m)^` + acct + `: pulled (\d+), pushed (\d+), flags (\d+)↓ (\d+)↑, deleted (\d+)↓ (\d+)↑, (\d+) errors?(.*)$`)

// summary is the parsed summary line of a run.
type summary struct {
	pulled, pushed, flagsDown, flagsUp, delDown, delUp, errors int
	rest                                                       string
	found                                                      bool
}

func parseSummary(stdout string) summary {
	m := summaryRE.FindStringSubmatch(stdout)
	if m == nil {
		return summary{}
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return summary{n(1), n(2), n(3), n(4), n(5), n(6), n(7), m[8], true}
}

// ---------------------------------------------------------------------------
// Messages

// msgID is the Message-ID header value of test message id.
func msgID(id string) string { return "<" + id + "@e2e.example>" }

// makeMsg returns a message of about size bytes with CRLF line endings (the
// server's form), unique content and Message-ID msgID(id).
func makeMsg(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Sender <sender@example.org>\r\nTo: rcpt@example.org\r\n"+
		"Subject: e2e %s\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\nMessage-ID: %s\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", id, msgID(id))
	r := rand.New(rand.NewSource(int64(len(id)) * 7919))
	for _, c := range id {
		r = rand.New(rand.NewSource(r.Int63() ^ int64(c)))
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 "
	line := make([]byte, 72)
	for i := 0; b.Len() < size; i++ {
		for j := range line {
			line[j] = letters[r.Intn(len(letters))]
		}
		fmt.Fprintf(&b, "%s %05d %s\r\n", id, i, line)
	}
	b.WriteString("-- \r\nend of " + id + "\r\n")
	return b.Bytes()
}

// toLF is the local (Maildir) form of a server message.
func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// seed is a message to put on the server.
type seed struct {
	id    string
	size  int
	flags string // Maildir letters: D F P R S T
}

// seedServer stores msgs in mailbox by writing them straight into Dovecot's
// Maildir, the way an MTA delivers, and then has Dovecot index them (they get
// UIDs at that point). This is much faster than one `doveadm save` per
// message, which matters for the hundreds of messages the crash tests need;
// srv.Append is used where only a few messages are added. Flags are given in
// the Maildir file name, which Dovecot reads.
func (e *env) seedServer(mailbox string, msgs []seed) {
	e.t.Helper()
	dir := e.srv.MailboxDir(e.user, mailbox)
	if _, err := os.Stat(filepath.Join(dir, "cur")); err != nil {
		e.srv.CreateMailbox(e.t, e.user, mailbox)
	}
	before := e.srv.Status(e.t, e.user, mailbox).Messages
	for _, s := range []string{"cur", "tmp"} {
		if _, err := os.Stat(filepath.Join(dir, s)); err != nil {
			e.t.Fatalf("server mailbox %q has no %s/ at %s: %v", mailbox, s, dir, err)
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t)
	now := time.Now().Unix()
	for _, m := range msgs {
		data := makeMsg(m.id, m.size)
		name := fmt.Sprintf("%d.M%dP%d.e2e-seed", now, seedSeq.Add(1), os.Getpid())
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			e.t.Fatal(err)
		}
		if err := os.Chown(tmp, int(owner.Uid), int(owner.Gid)); err != nil {
			e.t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "cur", name+":2,"+m.flags)); err != nil {
			e.t.Fatal(err)
		}
	}
	if got := e.srv.Status(e.t, e.user, mailbox).Messages; got != before+uint32(len(msgs)) {
		e.t.Fatalf("seeding %q: server has %d messages, want %d", mailbox, got, before+uint32(len(msgs)))
	}
}

// seedSeq makes seeded file names unique within the test process.
var seedSeq atomic.Int64

// seeds returns n seeds "prefix-0000"... of the given size; every third is
// \Seen, every seventh \Flagged, every eleventh \Answered, so files land in
// both cur/ and new/ and flags are checked.
func seeds(prefix string, n, size int) []seed {
	out := make([]seed, n)
	for i := range out {
		f := ""
		if i%7 == 0 {
			f += "F"
		}
		if i%11 == 0 {
			f += "R"
		}
		if i%3 == 0 {
			f += "S"
		}
		out[i] = seed{id: fmt.Sprintf("%s-%04d", prefix, i), size: size, flags: f}
	}
	return out
}

// serverLetters maps IMAP flags to the Maildir letters mailsync syncs.
func serverLetters(flags []string) string {
	var b []byte
	for _, f := range flags {
		switch strings.ToLower(f) {
		case `\draft`:
			b = append(b, 'D')
		case `\flagged`:
			b = append(b, 'F')
		case `$forwarded`:
			b = append(b, 'P')
		case `\answered`:
			b = append(b, 'R')
		case `\seen`:
			b = append(b, 'S')
		case `\deleted`:
			b = append(b, 'T')
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

// ---------------------------------------------------------------------------
// The local side, read without mailsync's code

// localMsg is one file in a local folder's cur/ or new/.
type localMsg struct {
	sub, file, path string
	key             string
	uid             uint32 // U=, 0 if none
	fmd5            string
	flags           string // standard flag letters, sorted
	messageID       string
}

// localDir is the directory of local folder name ('/'-separated) in the
// "fs" layout.
func (e *env) localDir(folder string) string {
	return filepath.Join(e.mail, filepath.FromSlash(folder))
}

// local lists the messages of a local folder (nil if it does not exist).
func (e *env) local(folder string) []localMsg {
	e.t.Helper()
	var out []localMsg
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(e.localDir(folder), sub)
		des, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				continue
			}
			m := parseLocalName(de.Name())
			m.sub, m.path = sub, filepath.Join(dir, de.Name())
			m.messageID = fileMessageID(e.t, m.path)
			out = append(out, m)
		}
	}
	return out
}

// countLocal counts the files in a local folder's cur/ and new/ cheaply
// (readdir only), for polling while mailsync runs.
func countLocal(dir string) int {
	n := 0
	for _, sub := range []string{"cur", "new"} {
		f, err := os.Open(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		names, _ := f.Readdirnames(-1)
		f.Close()
		n += len(names)
	}
	return n
}

func parseLocalName(name string) localMsg {
	m := localMsg{file: name}
	base, info, hasInfo := strings.Cut(name, ":2,")
	parts := strings.Split(base, ",")
	m.key = parts[0]
	for _, p := range parts[1:] {
		switch {
		case strings.HasPrefix(p, "U="):
			u, _ := strconv.ParseUint(p[2:], 10, 32)
			m.uid = uint32(u)
		case strings.HasPrefix(p, "FMD5="):
			m.fmd5 = p[5:]
		}
	}
	if hasInfo {
		var b []byte
		for i := 0; i < len(info); i++ {
			if strings.IndexByte("DFPRST", info[i]) >= 0 {
				b = append(b, info[i])
			}
		}
		sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
		m.flags = string(b)
	}
	return m
}

// fileMessageID reads the Message-ID header of a message file.
func fileMessageID(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// tree lists every file below root (relative path → size), for before/after
// comparisons.
func tree(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if info.IsDir() {
			out[rel+"/"] = 0
		} else {
			out[rel] = info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stateHashes maps every file in the state directory to the SHA-256 of its
// content, leaving out lock files (they hold the pid of the last run).
func stateHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// Checks

// folderPair is one folder's server name and local name.
type folderPair struct{ remote, local string }

// checkInSync asserts that the local folder holds exactly the server's
// messages: every server Message-ID exactly once locally and vice versa,
// with the same flags, with the local file's U= equal to the server UID.
func (e *env) checkInSync(t *testing.T, f folderPair) {
	t.Helper()
	srv := e.srv.Messages(t, e.user, f.remote)
	loc := e.local(f.local)
	srvBy := map[string][]dovetest.Message{}
	for _, m := range srv {
		srvBy[m.MessageID] = append(srvBy[m.MessageID], m)
	}
	locBy := map[string][]localMsg{}
	for _, m := range loc {
		locBy[m.messageID] = append(locBy[m.messageID], m)
	}
	var problems []string
	for id, ms := range srvBy {
		if len(ms) != 1 {
			problems = append(problems, fmt.Sprintf("server has %s %d times (UIDs %v)", id, len(ms), uidsOf(ms)))
		}
		ls := locBy[id]
		switch {
		case len(ls) == 0:
			problems = append(problems, fmt.Sprintf("%s (server UID %d) is missing locally", id, ms[0].UID))
			continue
		case len(ls) > 1:
			problems = append(problems, fmt.Sprintf("%s is %d times locally: %v", id, len(ls), filesOf(ls)))
		}
		l, s := ls[0], ms[0]
		if l.uid != s.UID {
			problems = append(problems, fmt.Sprintf("%s: local file %s has U=%d, server UID is %d", id, l.file, l.uid, s.UID))
		}
		if l.fmd5 != folderMD5(f.local) {
			problems = append(problems, fmt.Sprintf("%s: local file %s has FMD5=%s, want %s (md5 of %q)", id, l.file, l.fmd5, folderMD5(f.local), f.local))
		}
		if sf := serverLetters(s.Flags); sf != l.flags {
			problems = append(problems, fmt.Sprintf("%s: local flags %q (%s), server flags %q %v", id, l.flags, l.file, sf, s.Flags))
		}
	}
	for id, ls := range locBy {
		if len(srvBy[id]) == 0 {
			problems = append(problems, fmt.Sprintf("%s is local only: %v", id, filesOf(ls)))
		}
	}
	if len(srv) != len(loc) {
		problems = append(problems, fmt.Sprintf("server has %d messages, local folder %d files", len(srv), len(loc)))
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		t.Errorf("folder %q / local %q not in sync:\n  %s", f.remote, f.local, strings.Join(problems, "\n  "))
	}
}

// checkComplete asserts that every file in the local folder is a complete
// message: it carries U= and its content is exactly the server's message of
// that UID (in LF form). It returns the number of files.
func (e *env) checkComplete(t *testing.T, f folderPair) int {
	t.Helper()
	bodies := map[uint32][]byte{}
	for _, m := range e.srv.MessagesWithBodies(t, e.user, f.remote) {
		bodies[m.UID] = toLF(m.Body)
	}
	loc := e.local(f.local)
	bad := 0
	for _, l := range loc {
		got, err := os.ReadFile(l.path)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := bodies[l.uid]
		switch {
		case l.uid == 0:
			t.Errorf("local file %s has no U=", l.path)
		case !ok:
			t.Errorf("local file %s: U=%d is not on the server", l.path, l.uid)
		case !bytes.Equal(got, want):
			t.Errorf("local file %s is not the server's message %d: %d bytes, want %d (partial or wrong file)", l.path, l.uid, len(got), len(want))
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatalf("too many bad files")
		}
	}
	return len(loc)
}

// folderMD5 is the FMD5= value of a local folder name.
func folderMD5(local string) string {
	sum := md5.Sum([]byte(local))
	return hex.EncodeToString(sum[:])
}

func uidsOf(ms []dovetest.Message) []uint32 {
	var u []uint32
	for _, m := range ms {
		u = append(u, m.UID)
	}
	return u
}

func filesOf(ls []localMsg) []string {
	var f []string
	for _, l := range ls {
		f = append(f, l.sub+"/"+l.file)
	}
	return f
}

// waitFor polls cond every few milliseconds until it is true, p has exited
// or timeout passes. It returns whether cond became true.
func waitFor(p *proc, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		if p != nil && p.exited() {
			return cond()
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// ---------------------------------------------------------------------------
// A pausable TCP proxy

// proxy forwards connections to target. While paused it forwards nothing in
// either direction (connections stay open): to mailsync the server has
// hung, the case where stopping is slowest.
type proxy struct {
	ln     net.Listener
	target string
	gate   sync.RWMutex // held for writing while paused
	mu     sync.Mutex
	conns  []net.Conn
	paused bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		p.resume()
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock() // blocks while paused
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pause stops all forwarding until resume.
func (p *proxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.gate.Lock()
	}
}

func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		p.gate.Unlock()
	}
}
