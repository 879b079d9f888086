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
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
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
	// Compress offers COMPRESS=DEFLATE after login (the imap_zlib plugin),
	// as Gmail and Fastmail do.
	Compress bool
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

// pickPort is a variable so a test can force a port collision.
var pickPort = freePort

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
	if s.opts.Compress {
		b.WriteString(`protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
`)
	}
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

// Exit codes of doveadm (sysexits.h).
const (
	exDataErr  = 65 // e.g. "Mailbox already exists"
	exNotFound = 68 // e.g. "Mailbox doesn't exist"
)

var markerSeq atomic.Uint64
