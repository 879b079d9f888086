// Package dovetest starts a throwaway Dovecot IMAP server on loopback for integration tests.
//
// mailsync's correctness depends on the exact behaviour of real IMAP servers:
// UIDVALIDITY and UIDNEXT bookkeeping, CONDSTORE/QRESYNC mod-sequences,
// modified UTF-7 mailbox names, hierarchy separators, what a FETCH really
// costs. A hand-written fake would encode our own (possibly wrong)
// understanding of the protocol and so could never catch the bugs that matter
// most. Dovecot is the reference implementation most users run, it starts in a
// few tens of milliseconds, and doveadm lets a test inspect and mutate the
// server-side state without going through IMAP (and therefore without going
// through the code under test).
//
// Every Server is fully isolated: its own config, base_dir, state_dir, log
// file, mail storage and TCP port, all below one temporary directory that is
// removed on cleanup. Many servers can run in parallel tests.
//
// Server-side storage is Maildir++ (mail_location = maildir:~/Maildir) with
// mail_save_crlf = yes, so stored files, doveadm output and IMAP FETCH BODY[]
// all agree byte for byte. A consequence: messages are stored with CRLF line
// endings even if they were handed over with bare LF, so tests should compare
// against CRLF messages.
//
// Set DOVETEST_KEEP=1 to keep the temporary directory (config, log, mail)
// for post-mortem inspection; it is logged on cleanup.
package dovetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"mailsync/internal/mutf7"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	Users     []string // user names; default []string{"alice"}; password for every user is "secret-<user>"
	Separator string   // hierarchy separator; default "."
	// TLS, when set, serves TLS (tls.go); without it the server speaks
	// plain IMAP only and offers no STARTTLS.
	TLS *TLSOptions
	// OAuth2, when set, lets users log in with OAuth2 tokens (oauth2.go).
	OAuth2 *OAuth2Options
}

// Server is a running Dovecot instance. All methods are safe for concurrent
// use: the struct is immutable after Start and every operation is a separate
// doveadm process.
type Server struct {
	Host       string // "127.0.0.1"
	Port       int
	Dir        string // root temp dir
	ConfigPath string
	LogPath    string
	// With Options.TLS (tls.go): the implicit-TLS port, the certificate
	// (PEM, usable as a client's CA file) and its SHA-256 (of the DER).
	TLSPort         int
	CertFile        string
	CertFingerprint [32]byte

	opts     Options
	keyFile  string
	sep      string
	users    map[string]bool
	instance string // Dovecot instance_name; process titles are "dovecot-<instance>/<service>"
	doveadm  string // path of the doveadm binary
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the master process has been reaped
	exitErr  error         // valid after exited is closed
}

// Message is one message as doveadm sees it.
type Message struct {
	UID       uint32
	Flags     []string // system flags first, then keywords, each group sorted, e.g. ["\\Flagged", "\\Seen", "$Forwarded"]; never \Recent
	MessageID string   // Message-ID header value, with angle brackets as in the header, unfolded and trimmed
	Size      int64    // RFC822.SIZE (size with CRLF line endings)
	Body      []byte   // full message text as the server returns it (MessagesWithBodies only)
}

// Status is the IMAP STATUS of a mailbox.
type Status struct {
	Messages, UIDNext, UIDValidity uint32
	HighestModSeq                  uint64
}

const (
	host = "127.0.0.1"

	// Generous because parallel test binaries on a loaded CI box can starve
	// Dovecot for a while; a healthy start takes well under a second.
	startTimeout = 15 * time.Second
	// A doveadm call normally takes ~10ms; anything near this is a hang.
	doveadmTimeout = 60 * time.Second
	stopTimeout    = 10 * time.Second
)

// TB is what dovetest needs of a test: testing.TB has it, and so can a
// benchmark program that starts a server outside go test.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Skip(args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Start starts Dovecot and registers cleanup (stop + wait until its processes
// are gone) with t.Cleanup.
//
// If the dovecot binaries are missing the test is skipped, except when CI is
// set to true: a silently skipped integration test in CI is a hidden failure.
func Start(t TB, opts Options) *Server {
	t.Helper()

	dovecotBin := findBinary("dovecot", "/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
	doveadmBin := findBinary("doveadm", "/usr/bin/doveadm", "/usr/local/bin/doveadm")
	if dovecotBin == "" || doveadmBin == "" {
		msg := "dovetest: dovecot and/or doveadm not found in PATH, /usr/sbin or /usr/bin (install dovecot-imapd)"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg + "; refusing to skip because CI=true")
		}
		t.Skip(msg)
	}

	if len(opts.Users) == 0 {
		opts.Users = []string{"alice"}
	}
	if opts.Separator == "" {
		opts.Separator = "."
	}
	// The separator goes into the config file and must not collide with the
	// listescape escape character.
	if len(opts.Separator) != 1 || opts.Separator[0] <= ' ' || opts.Separator[0] >= 0x7f ||
		strings.ContainsAny(opts.Separator, "\\\"#{}") ||
		(opts.Separator[0] >= '0' && opts.Separator[0] <= '9') ||
		(opts.Separator[0]|0x20 >= 'a' && opts.Separator[0]|0x20 <= 'z') {
		t.Fatalf("dovetest: unsupported separator %q", opts.Separator)
	}

	acct, err := mailAccount()
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	s := &Server{
		Host:    host,
		opts:    opts,
		sep:     opts.Separator,
		users:   map[string]bool{},
		doveadm: doveadmBin,
	}
	s.Dir = makeRootDir(t)
	s.instance = filepath.Base(s.Dir)
	s.ConfigPath = filepath.Join(s.Dir, "dovecot.conf")
	s.LogPath = filepath.Join(s.Dir, "dovecot.log")
	if err := s.setupTLS(); err != nil {
		t.Fatalf("dovetest: TLS certificate: %v", err)
	}
	s.startOAuth2(t)

	var passwd strings.Builder
	for _, u := range opts.Users {
		if u == "" || strings.ContainsAny(u, ":/\n\r\t ") || s.users[u] {
			t.Fatalf("dovetest: invalid or duplicate user name %q", u)
		}
		s.users[u] = true
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", u, s.Password(u))

		// Pre-create home and Maildir so MailDir() points at something real
		// even before the first login, owned by the mail user because
		// Dovecot drops to it before touching mail.
		for _, d := range []string{"", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"} {
			p := filepath.Join(s.Dir, "home", u, d)
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatalf("dovetest: %v", err)
			}
			if err := acct.chown(p); err != nil {
				t.Fatalf("dovetest: %v", err)
			}
		}
	}
	if err := os.Chmod(filepath.Join(s.Dir, "home"), 0o755); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "users"), []byte(passwd.String()), 0o644); err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	// Ports come from the kernel, but between closing our probe listener and
	// Dovecot binding it another parallel test may grab it, so bind failures
	// are retried with a fresh port.
	var lastErr error
	for attempt := 0; attempt < 8; attempt++ {
		port, err := pickPort()
		if err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		s.Port = port
		if err := os.WriteFile(s.ConfigPath, []byte(s.config(acct)), 0o644); err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		err = s.launch(dovecotBin)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("dovetest: starting dovecot failed: %v\n%s", lastErr, s.logTail(40))
	return nil
}

var errAddrInUse = errors.New("port already in use")

// launch runs the master in the foreground (-F) so it is our direct child: we
// learn about its death through Wait, and nothing is left to a pid file.
func (s *Server) launch(dovecotBin string) error {
	// A previous attempt's "Address already in use" must not be misread.
	_ = os.Remove(s.LogPath)
	outPath := filepath.Join(s.Dir, "master.out")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(dovecotBin, "-F", "-c", s.ConfigPath)
	// A file rather than a pipe: Go's test runner waits for the test's
	// stdout/stderr pipes to close, and Dovecot's children inherit them.
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Dir = s.Dir
	// If the test binary dies without running cleanups (panic, -timeout,
	// SIGKILL), the kernel sends the master SIGTERM (Linux) and it shuts
	// down its children. Pdeathsig fires when the *thread* that forked
	// exits, so the fork happens on a locked thread that lives exactly as
	// long as the master: it blocks in Wait, and exits (locked) right after.
	cmd.SysProcAttr = deathSignal()
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.exitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return err
	}

	deadline := time.Now().Add(startTimeout)
	for {
		if err := s.greet(); err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			// Dovecot reports bind failures on stderr before the log process
			// exists, and sometimes in the log file.
			b, _ := os.ReadFile(outPath)
			l, _ := os.ReadFile(s.LogPath)
			msg := strings.TrimSpace(string(b) + "\n" + string(l))
			killInstance(s.instance)
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("%w: %d", errAddrInUse, s.Port)
			}
			return fmt.Errorf("dovecot exited (%v): %s", s.exitErr, msg)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			killInstance(s.instance)
			return fmt.Errorf("no IMAP greeting on %s within %v", s.Addr(), startTimeout)
		}
	}
}

// greet waits for our greeting. A successful TCP connect alone only proves
// someone listens; the greeting proves imap-login is up and has its auth
// connection, so logins will not race startup, and its text (login_greeting
// names the instance) proves that it is our Dovecot and not whoever else
// took the port. Short timeouts: the caller retries.
func (s *Server) greet() error {
	c, err := net.DialTimeout("tcp", s.Addr(), 250*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(250 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, s.instance) {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	_, _ = c.Write([]byte("a LOGOUT\r\n"))
	return nil
}

func (s *Server) stop(t TB) {
	if t.Failed() {
		// Dumped before stopping, while the log barrier still works.
		_ = s.logBarrier()
		t.Logf("dovetest: last lines of %s:\n%s", s.LogPath, s.logTail(60))
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	// On its own the master takes over a second to exit: it waits for its
	// log process, which lingers until it gives up on its clients. So we
	// terminate the other processes ourselves and the log process last, and
	// a stop takes milliseconds.
	logPrefix := "dovecot-" + s.instance + "/log"
	termed := map[int]bool{}
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		var others, logs []int
		for _, p := range instanceProcs(s.instance) {
			if strings.HasPrefix(p.title, logPrefix) {
				logs = append(logs, p.pid)
			} else {
				others = append(others, p.pid)
			}
		}
		if len(others) == 0 {
			for _, pid := range logs {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
			break
		}
		for _, pid := range others {
			if !termed[pid] {
				termed[pid] = true
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case <-s.exited:
	case <-time.After(time.Until(deadline)):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if left := killInstance(s.instance); len(left) > 0 {
		t.Errorf("dovetest: dovecot processes still running after stop: %v", left)
	}
}

// killInstance waits for processes of the instance to disappear, SIGKILLing
// stragglers after a grace period. It returns the pids that would not die.
func killInstance(instance string) []int {
	deadline := time.Now().Add(stopTimeout)
	grace := time.Now().Add(3 * time.Second)
	for {
		var pids []int
		for _, p := range instanceProcs(instance) {
			pids = append(pids, p.pid)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return pids
		}
		if time.Now().After(grace) {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type proc struct {
	pid   int
	title string
}

// instanceProcs finds processes by their title "dovecot-<instance>/...".
// The instance name embeds our unique temp dir name, so this never matches
// another test's (or the system's) Dovecot. Zombies have an empty cmdline
// and are ignored: they are already dead. Without /proc (non-Linux) it
// finds nothing, and stopping degrades to waiting for the master.
func instanceProcs(instance string) []proc {
	prefix := []byte("dovecot-" + instance + "/")
	ents, _ := os.ReadDir("/proc")
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.HasPrefix(b, prefix) {
			ps = append(ps, proc{pid: pid, title: string(bytes.TrimRight(b, "\x00"))})
		}
	}
	return ps
}

func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mailAcct is the OS account Dovecot uses for mail and its internal
// services. Dovecot refuses to access mail as root, so when we are root we
// borrow the "dovecot" system user; otherwise everything runs as ourselves.
type mailAcct struct {
	user, group string
	uid, gid    int
	root        bool
	loginUser   string
}

func mailAccount() (mailAcct, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return mailAcct{}, err
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return mailAcct{}, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return mailAcct{user: u.Username, group: g.Name, uid: uid, gid: gid, loginUser: u.Username}, nil
	}
	u, err := user.Lookup("dovecot")
	if err != nil {
		return mailAcct{}, fmt.Errorf("running as root needs the 'dovecot' system user: %v", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return mailAcct{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	login := "dovenull"
	if _, err := user.Lookup(login); err != nil {
		login = u.Username
	}
	return mailAcct{user: u.Username, group: g.Name, uid: uid, gid: gid, root: true, loginUser: login}, nil
}

func (a mailAcct) chown(p string) error {
	if !a.root {
		return nil
	}
	return os.Chown(p, a.uid, a.gid)
}

// makeRootDir creates the server's directory. Not t.TempDir: its path embeds
// the test name and can push Dovecot's unix socket paths past the 108-byte
// sun_path limit, and its 0700 parent is not traversable by the dovecot user.
func makeRootDir(t TB) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 || strings.ContainsAny(base, " \t\"'\\#{}$%") || !worldTraversable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "dovetest-")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	// Registered before the stop cleanup, so it runs after it (LIFO).
	t.Cleanup(func() {
		if keep, _ := strconv.ParseBool(os.Getenv("DOVETEST_KEEP")); keep {
			t.Logf("dovetest: DOVETEST_KEEP set, leaving %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("dovetest: %v", err)
		}
	})
	return dir
}

func worldTraversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// pickPort is a variable so a test can force a port collision.
var pickPort = freePort

func freePort() (int, error) {
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func findBinary(name string, fallbacks ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// /usr/sbin is often not in a non-root PATH.
	for _, f := range fallbacks {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return f
		}
	}
	return ""
}

func (s *Server) config(a mailAcct) string {
	d := s.Dir
	var b strings.Builder
	fmt.Fprintf(&b, `# Generated by mailsync/internal/dovetest. Throwaway test server.
instance_name = %[2]s
base_dir = %[1]s/run
state_dir = %[1]s/state
# info and debug logs default to log_path: one file keeps lines in order.
log_path = %[1]s/dovecot.log
# BodyFetches tells open sessions by the "[user ip]" in imap process titles.
verbose_proctitle = yes
# BodyFetches' log barrier: imap-login logs this ID field.
imap_id_log = x-dovetest-marker
# Lets Start recognise its own server behind the port.
login_greeting = %[2]s ready.

listen = %[3]s
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Wrong-password tests must not take seconds. auth_failure_delay = 0 leaves
# only the auth process's 0.5s failure batching. The per-IP brute-force
# penalty (4s, 8s, 15s for *every* later login from 127.0.0.1, correct ones
# included) has no switch in 2.3; moving anvil's penalty socket away makes
# the auth process find none at startup, and then it skips penalties.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    path = anvil-auth-penalty-disabled
  }
}

default_internal_user = %[4]s
default_internal_group = %[5]s
default_login_user = %[6]s
mail_uid = %[4]s
mail_gid = %[5]s
# System users like dovecot have uids below the default of 500.
first_valid_uid = 1
first_valid_gid = 1

mail_location = maildir:~/Maildir
# listescape lets tests use any name: with separator "/" Maildir++ would
# otherwise reject "Archive.2024", with "." it would reject "a/b".
mail_plugins = listescape
# Store CRLF so the files, doveadm fetch text, and IMAP BODY[] are identical.
mail_save_crlf = yes
# Tests poke at the Maildir behind the server's back; without a list index
# every LIST reads the file system, so such changes are always seen.
mailbox_list_index = no
mail_fsync = never
# Parallel connections of one test would otherwise hit the default of 10.
mail_max_userip_connections = 1000
# BodyFetches parses body_count from these lines (this is 2.3's default
# format, pinned here because the harness depends on it).
imap_logout_format = in=%%i out=%%o deleted=%%{deleted} expunged=%%{expunged} trashed=%%{trashed} hdr_count=%%{fetch_hdr_count} hdr_bytes=%%{fetch_hdr_bytes} body_count=%%{fetch_body_count} body_bytes=%%{fetch_body_bytes}

namespace inbox {
  inbox = yes
  separator = "%[7]s"
  prefix =
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[4]s gid=%[5]s home=%[1]s/home/%%u
}

# One process per session (the default, pinned): BodyFetches relies on a
# session's process exiting right after it logged its logout line.
service imap {
  service_count = 1
}
service imap-login {
  inet_listener imap {
    port = %[8]d
  }
  inet_listener imaps {
    port = 0
  }
}
`, d, s.instance, host, a.user, a.group, a.loginUser, s.sep, s.Port)
	// Later settings override earlier ones, and sections of the same name
	// merge.
	b.WriteString(s.tlsConfig())
	b.WriteString(s.oauth2Config())
	if !a.root {
		// Unprivileged Dovecot cannot chroot.
		b.WriteString(`service imap-login {
  chroot =
}
service anvil {
  chroot =
}
`)
	}
	return b.String()
}

// Addr returns "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Password returns the password of user.
func (s *Server) Password(user string) string { return "secret-" + user }

// MailDir returns the server-side Maildir root of user (for tests that poke
// the server's files, e.g. rename a folder behind its back). The layout is
// Maildir++; use MailboxDir for the directory of a particular mailbox.
func (s *Server) MailDir(user string) string {
	return filepath.Join(s.Dir, "home", user, "Maildir")
}

// MailboxDir returns the server-side Maildir (the directory holding cur/,
// new/, tmp/) of mailbox; see MaildirName. INBOX is the Maildir root itself.
func (s *Server) MailboxDir(user, mailbox string) string {
	return filepath.Join(s.MailDir(user), MaildirName(mailbox, s.sep))
}

// MaildirName returns the directory, relative to a user's Maildir root, in
// which Dovecot stores mailbox ("" for INBOX): Maildir++ ("." + the name with
// the hierarchy separator sep replaced by "."), modified UTF-7 for
// non-ASCII, and listescape's \xx escapes for '.', '/', '\' and a leading
// '~' inside a level.
func MaildirName(mailbox, sep string) string {
	if strings.EqualFold(mailbox, "INBOX") {
		return ""
	}
	var b strings.Builder
	b.WriteByte('.')
	for i, level := range strings.Split(mailbox, sep) {
		if i > 0 {
			b.WriteByte('.')
		}
		enc := mutf7.Encode(level)
		for j := 0; j < len(enc); j++ {
			c := enc[j]
			if c == '.' || c == '/' || c == '\\' || (c == '~' && j == 0 && i == 0) {
				fmt.Fprintf(&b, "\\%02x", c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func (s *Server) checkUser(t TB, user string) {
	t.Helper()
	if !s.users[user] {
		// doveadm would answer "user doesn't exist" with a less obvious error.
		t.Fatalf("dovetest: unknown user %q (configured: %v)", user, s.userList())
	}
}

func (s *Server) userList() []string {
	var us []string
	for u := range s.users {
		us = append(us, u)
	}
	sort.Strings(us)
	return us
}

// doveadmError carries doveadm's exit code so callers can distinguish
// expected failures (mailbox exists / doesn't exist) from real ones.
type doveadmError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *doveadmError) Error() string {
	return fmt.Sprintf("doveadm %s: %v: %s", strings.Join(e.args, " "), e.err, strings.TrimSpace(e.stderr))
}

// Exit codes of doveadm (sysexits.h).
const (
	exDataErr  = 65 // e.g. "Mailbox already exists"
	exNotFound = 68 // e.g. "Mailbox doesn't exist"
)

func (s *Server) run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), doveadmTimeout)
	defer cancel()
	full := append([]string{"-c", s.ConfigPath}, args...)
	cmd := exec.CommandContext(ctx, s.doveadm, full...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Dir = s.Dir
	if err := cmd.Run(); err != nil {
		de := &doveadmError{args: args, stderr: stderr.String(), err: err, code: -1}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			de.code = ee.ExitCode()
		}
		return stdout.Bytes(), de
	}
	return stdout.Bytes(), nil
}

func exitCode(err error) int {
	var de *doveadmError
	if errors.As(err, &de) {
		return de.code
	}
	return -1
}

// Doveadm runs `doveadm -c CONFIG args...`, fails the test with its stderr
// on error, returns stdout.
func (s *Server) Doveadm(t TB, args ...string) string {
	t.Helper()
	out, err := s.run(nil, args...)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	return string(out)
}

// Append saves msg into mailbox of user (creating the mailbox if missing)
// via doveadm save and returns its exact UID. Bare LFs are stored as CRLF.
// Flags (system flags and keywords) are set afterwards with doveadm flags
// add, as doveadm save cannot set them, so they cost a modseq of their own.
func (s *Server) Append(t TB, user, mailbox string, msg []byte, flags ...string) uint32 {
	t.Helper()
	s.checkUser(t, user)
	st, err := s.status(user, mailbox)
	if exitCode(err) == exNotFound {
		if _, err := s.run(nil, "mailbox", "create", "-s", "-u", user, mailbox); err != nil && exitCode(err) != exDataErr {
			t.Fatalf("dovetest: %v", err)
		}
		st, err = s.status(user, mailbox)
	}
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if _, err := s.run(msg, "save", "-u", user, "-m", mailbox); err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	// doveadm save does not report the UID. Everything at or above the old
	// UIDNEXT is new; if something else (an IMAP client of the test) appended
	// concurrently, pick ours by content.
	query := []string{"mailbox", mailbox, "uid", fmt.Sprintf("%d:*", st.UIDNext)}
	msgs, err := s.fetch(user, false, query...)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	var cands []Message
	for _, m := range msgs {
		if m.UID >= st.UIDNext {
			cands = append(cands, m)
		}
	}
	var uid uint32
	switch len(cands) {
	case 0:
		t.Fatalf("dovetest: saved message not found in %q (uidnext was %d)", mailbox, st.UIDNext)
	case 1:
		uid = cands[0].UID
	default:
		full, err := s.fetch(user, true, query...)
		if err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		want := toCRLF(msg)
		var match []uint32
		for _, m := range full {
			if m.UID >= st.UIDNext && bytes.Equal(m.Body, want) {
				match = append(match, m.UID)
			}
		}
		if len(match) != 1 {
			t.Fatalf("dovetest: cannot identify saved message in %q: candidates with identical content: %v", mailbox, match)
		}
		uid = match[0]
	}
	if len(flags) > 0 {
		s.AddFlags(t, user, mailbox, uid, flags...)
	}
	return uid
}

// toCRLF mirrors what mail_save_crlf does to a saved message.
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/20)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// CreateMailbox creates (and subscribes) a mailbox. Parents are not
// created: in Maildir++ "A.B" needs no "A", which IMAP LIST then reports as
// \NonExistent and Mailboxes omits.
func (s *Server) CreateMailbox(t TB, user, name string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "create", "-s", "-u", user, name)
}

// DeleteMailbox deletes (and unsubscribes) a mailbox including its messages.
func (s *Server) DeleteMailbox(t TB, user, name string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "delete", "-s", "-u", user, name)
}

// RenameMailbox renames a mailbox (and its subscription). Children move along.
func (s *Server) RenameMailbox(t TB, user, from, to string) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "rename", "-s", "-u", user, from, to)
}

// Mailboxes lists mailbox names (UTF-8, with the configured separator),
// sorted. Only mailboxes that exist are listed: a parent that is merely
// implied by a child (\NonExistent / \NoSelect in IMAP LIST, e.g. "A" for
// "A.B" created alone) is omitted. Subscriptions do not matter.
func (s *Server) Mailboxes(t TB, user string) []string {
	t.Helper()
	s.checkUser(t, user)
	// "mailbox status" iterates only selectable mailboxes, unlike
	// "mailbox list" which also prints implied parents.
	rows, err := s.tabRows(nil, "-f", "tab", "mailbox", "status", "-u", user, "uidvalidity", "*")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		names = append(names, r["mailbox"])
	}
	sort.Strings(names)
	return names
}

// tabRows runs doveadm with the tab formatter and returns one map per row.
func (s *Server) tabRows(stdin []byte, args ...string) ([]map[string]string, error) {
	out, err := s.run(stdin, args...)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(l, "\t")
		if len(vals) != len(head) {
			return nil, fmt.Errorf("doveadm %s: cannot parse row %q (header %q)", strings.Join(args, " "), l, lines[0])
		}
		r := make(map[string]string, len(head))
		for i, h := range head {
			r[h] = vals[i]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (s *Server) status(user, mailbox string) (Status, error) {
	rows, err := s.tabRows(nil, "-f", "tab", "mailbox", "status", "-u", user,
		"messages uidnext uidvalidity highestmodseq", mailbox)
	if err != nil {
		return Status{}, err
	}
	// The name is a pattern to doveadm ('*' and '%' are wildcards), so pick
	// the exact row.
	for _, r := range rows {
		if r["mailbox"] != mailbox && !(strings.EqualFold(mailbox, "INBOX") && r["mailbox"] == "INBOX") {
			continue
		}
		var st Status
		var errs []error
		u32 := func(k string) uint32 {
			v, err := strconv.ParseUint(r[k], 10, 32)
			errs = append(errs, err)
			return uint32(v)
		}
		st.Messages = u32("messages")
		st.UIDNext = u32("uidnext")
		st.UIDValidity = u32("uidvalidity")
		var e error
		st.HighestModSeq, e = strconv.ParseUint(r["highestmodseq"], 10, 64)
		if err := errors.Join(append(errs, e)...); err != nil {
			return Status{}, fmt.Errorf("parsing status of %q: %v (row %v)", mailbox, err, r)
		}
		return st, nil
	}
	return Status{}, &doveadmError{args: []string{"mailbox", "status", mailbox}, code: exNotFound,
		err: errors.New("no such mailbox"), stderr: fmt.Sprintf("rows: %v", rows)}
}

// Status returns the mailbox's STATUS; the test fails if it does not exist.
func (s *Server) Status(t TB, user, mailbox string) Status {
	t.Helper()
	s.checkUser(t, user)
	st, err := s.status(user, mailbox)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	return st
}

// Messages lists the mailbox's messages sorted by UID (no bodies). The test
// fails if the mailbox does not exist.
func (s *Server) Messages(t TB, user, mailbox string) []Message {
	t.Helper()
	return s.messages(t, user, mailbox, false)
}

// MessagesWithBodies is Messages plus Body.
func (s *Server) MessagesWithBodies(t TB, user, mailbox string) []Message {
	t.Helper()
	return s.messages(t, user, mailbox, true)
}

func (s *Server) messages(t TB, user, mailbox string, bodies bool) []Message {
	t.Helper()
	s.checkUser(t, user)
	msgs, err := s.fetch(user, bodies, "mailbox", mailbox, "all")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if len(msgs) == 0 {
		// doveadm fetch succeeds silently on a missing mailbox; a typo in a
		// test must not look like "mailbox is empty".
		s.Status(t, user, mailbox)
	}
	return msgs
}

// fetch runs doveadm fetch with the pager formatter. Field order matters for
// parsing: text (if any) is read by length (size.physical), and the only
// free-form single-line-ish field, hdr.message-id, is last in each record.
func (s *Server) fetch(user string, bodies bool, query ...string) ([]Message, error) {
	fields := "uid flags size.virtual hdr.message-id"
	if bodies {
		fields = "uid flags size.virtual size.physical text hdr.message-id"
	}
	args := append([]string{"-f", "pager", "fetch", "-u", user, fields}, query...)
	out, err := s.run(nil, args...)
	if err != nil {
		return nil, err
	}
	msgs, err := parseFetch(out, bodies)
	if err != nil {
		return nil, fmt.Errorf("doveadm %s: %v", strings.Join(args, " "), err)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs, nil
}

// parseFetch parses pager output: "key: value\n" per field, records
// separated by "\f\n". Stream fields (text) are printed as "key:\n" followed
// by the raw bytes with nothing appended, so they are read by length.
func parseFetch(out []byte, bodies bool) ([]Message, error) {
	p := &pagerParser{b: out}
	var msgs []Message
	for p.pos < len(p.b) {
		var m Message
		uid, err := p.line("uid")
		if err != nil {
			return nil, err
		}
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad uid %q", uid)
		}
		m.UID = uint32(u)
		flags, err := p.line("flags")
		if err != nil {
			return nil, err
		}
		m.Flags = normalizeFlags(strings.Fields(flags))
		vsize, err := p.line("size.virtual")
		if err != nil {
			return nil, err
		}
		if m.Size, err = strconv.ParseInt(vsize, 10, 64); err != nil {
			return nil, fmt.Errorf("bad size.virtual %q", vsize)
		}
		if bodies {
			psize, err := p.line("size.physical")
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(psize)
			if err != nil {
				return nil, fmt.Errorf("bad size.physical %q", psize)
			}
			if m.Body, err = p.stream("text", n); err != nil {
				return nil, err
			}
		}
		mid, err := p.last("hdr.message-id")
		if err != nil {
			return nil, err
		}
		m.MessageID = unfold(mid)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

type pagerParser struct {
	b   []byte
	pos int
}

func (p *pagerParser) key(k string) error {
	if !bytes.HasPrefix(p.b[p.pos:], []byte(k+":")) {
		rest := p.b[p.pos:]
		if len(rest) > 60 {
			rest = rest[:60]
		}
		return fmt.Errorf("expected field %q at offset %d, got %q", k, p.pos, rest)
	}
	p.pos += len(k) + 1
	return nil
}

func (p *pagerParser) line(k string) (string, error) {
	if err := p.key(k); err != nil {
		return "", err
	}
	rest := p.b[p.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return "", fmt.Errorf("unterminated field %q", k)
	}
	p.pos += i + 1
	return strings.TrimSpace(string(rest[:i])), nil
}

func (p *pagerParser) stream(k string, n int) ([]byte, error) {
	if err := p.key(k); err != nil {
		return nil, err
	}
	if p.pos < len(p.b) && p.b[p.pos] == '\n' {
		p.pos++
	} else if p.pos < len(p.b) && p.b[p.pos] == ' ' {
		p.pos++
	}
	if p.pos+n > len(p.b) {
		return nil, fmt.Errorf("field %q: want %d bytes, have %d", k, n, len(p.b)-p.pos)
	}
	v := append([]byte(nil), p.b[p.pos:p.pos+n]...)
	p.pos += n
	return v, nil
}

// last reads the final field of a record: its value may span lines (a folded
// header), so it extends to the record separator or the end of output.
func (p *pagerParser) last(k string) (string, error) {
	if err := p.key(k); err != nil {
		return "", err
	}
	rest := p.b[p.pos:]
	if i := bytes.Index(rest, []byte("\n\f\nuid:")); i >= 0 {
		p.pos += i + 3
		return string(rest[:i]), nil
	}
	p.pos = len(p.b)
	return strings.TrimSuffix(string(rest), "\n"), nil
}

// unfold undoes RFC 5322 header folding and trims.
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// normalizeFlags drops \Recent (a per-session flag that depends on which
// process looked first) and orders system flags before keywords, each
// group sorted, the order Dovecot itself prints them in.
func normalizeFlags(fs []string) []string {
	out := []string{}
	for _, f := range fs {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := strings.HasPrefix(out[i], `\`), strings.HasPrefix(out[j], `\`)
		if si != sj {
			return si
		}
		return out[i] < out[j]
	})
	return out
}

func (s *Server) uidQuery(mailbox string, uid uint32) []string {
	return []string{"mailbox", mailbox, "uid", strconv.FormatUint(uint64(uid), 10)}
}

// AddFlags adds flags (system flags like \Seen or keywords) to one message.
func (s *Server) AddFlags(t TB, user, mailbox string, uid uint32, flags ...string) {
	t.Helper()
	s.changeFlags(t, "add", user, mailbox, uid, flags)
}

// RemoveFlags removes flags from one message.
func (s *Server) RemoveFlags(t TB, user, mailbox string, uid uint32, flags ...string) {
	t.Helper()
	s.changeFlags(t, "remove", user, mailbox, uid, flags)
}

func (s *Server) changeFlags(t TB, op, user, mailbox string, uid uint32, flags []string) {
	t.Helper()
	s.checkUser(t, user)
	if len(flags) == 0 {
		return
	}
	args := append([]string{"flags", op, "-u", user, strings.Join(flags, " ")}, s.uidQuery(mailbox, uid)...)
	s.Doveadm(t, args...)
}

// Expunge removes one message immediately (no \Deleted step needed).
func (s *Server) Expunge(t TB, user, mailbox string, uid uint32) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, append([]string{"expunge", "-u", user}, s.uidQuery(mailbox, uid)...)...)
}

// SetUIDValidity changes a mailbox's UIDVALIDITY (doveadm mailbox update
// --uid-validity N) — used to simulate a server reset. Messages keep their
// UIDs.
func (s *Server) SetUIDValidity(t TB, user, mailbox string, v uint32) {
	t.Helper()
	s.checkUser(t, user)
	s.Doveadm(t, "mailbox", "update", "-u", user, "--uid-validity", strconv.FormatUint(uint64(v), 10), mailbox)
}

// BodyFetches returns the sum of body_count over the logout lines of user's
// IMAP sessions so far, i.e. how many message bodies (BODY[], BODY[TEXT],
// RFC822, ...) were fetched over IMAP. Use it to assert "nothing was
// downloaded". doveadm operations are not counted.
//
// Caveat: Dovecot logs these numbers only when a session ends, so sessions
// that are still open are not counted; log out (or close the connection)
// first. BodyFetches waits up to about a second for the server side of
// sessions the client already closed to finish (each session is one imap
// process), so calling it with a session deliberately left open costs that
// second.
func (s *Server) BodyFetches(t TB, user string) int {
	t.Helper()
	s.checkUser(t, user)
	// The imap process writes its logout line after the client has seen the
	// LOGOUT reply, then exits. Once it is gone the line is at least in the
	// log pipe.
	grace := time.Now().Add(time.Second)
	for len(s.imapProcs(user)) > 0 && time.Now().Before(grace) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.logBarrier(); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	for i := 0; ; i++ {
		logins, logouts, bodies, err := s.scanLog(user)
		if err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		// Every session without a logout line should be a live process; if
		// not, its line is still on the way (see logBarrier).
		if logins-logouts <= len(s.imapProcs(user)) || i >= 20 {
			return bodies
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// imapProcs returns the live post-login imap processes that may belong to
// user (verbose_proctitle puts "[user ip]" in the title; a process that has
// not set it yet might be user's too).
func (s *Server) imapProcs(user string) []int {
	prefix := "dovecot-" + s.instance + "/imap"
	var pids []int
	for _, p := range instanceProcs(s.instance) {
		if p.title == prefix || strings.HasPrefix(p.title, prefix+" ["+user+" ") {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

var markerSeq atomic.Uint64

// logBarrier returns once everything written to Dovecot's log pipes before
// the call is in LogPath. Dovecot's processes do not write the log file
// themselves: one log process drains all their pipes, and under load (a
// busy CI machine) it lags by a second or more. A pre-login ID command makes
// imap-login log a unique marker (imap_id_log); once the marker is in the
// file, so is everything queued before it.
func (s *Server) logBarrier() error {
	marker := fmt.Sprintf("m%d-%d", os.Getpid(), markerSeq.Add(1))
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	untilTagged := func(tag string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("log barrier: %v", err)
			}
			if strings.HasPrefix(line, tag+" ") {
				return nil
			}
		}
	}
	if _, err := r.ReadString('\n'); err != nil { // greeting
		return fmt.Errorf("log barrier: %v", err)
	}
	fmt.Fprintf(c, "a ID (\"x-dovetest-marker\" \"%s\")\r\n", marker)
	if err := untilTagged("a"); err != nil {
		return err
	}
	fmt.Fprintf(c, "b LOGOUT\r\n")
	if err := untilTagged("b"); err != nil {
		return err
	}
	want := []byte("x-dovetest-marker=" + marker + ":")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(s.LogPath)
		if err != nil {
			return err
		}
		if bytes.Contains(b, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("log barrier: marker %s did not reach %s", marker, s.LogPath)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) scanLog(user string) (logins, logouts, bodies int, err error) {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return 0, 0, 0, err
	}
	loginTag := "Login: user=<" + user + ">"
	sessTag := " imap(" + user + ")"
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(l, " imap-login: ") && strings.Contains(l, loginTag):
			logins++
		case strings.Contains(l, sessTag) && strings.Contains(l, " body_count="):
			logouts++
			i := strings.Index(l, " body_count=") + len(" body_count=")
			j := i
			for j < len(l) && l[j] >= '0' && l[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(l[i:j])
			if err != nil {
				return 0, 0, 0, fmt.Errorf("cannot parse body_count in log line %q", l)
			}
			bodies += n
		}
	}
	return logins, logouts, bodies, nil
}
