package sync_test

// Scenario tests: two-way sync semantics written as small scripts with
// golden listings, in the manner of rclone bisync. Each file in
// testdata/scenarios/*.txt runs against both go-imap's in-memory server
// (fast, no CONDSTORE) and a real Dovecot (CONDSTORE, '.' delimiter), and
// both runs must produce the same NAME.golden. After the script, one more
// sync must change nothing (idempotence) and both sides must list the same
// messages with the same flags.
//
// Script lines:
//
//	config remote.KEY=VALUE | local.KEY=VALUE | account.KEY=VALUE   (before the first sync)
//	server FOLDER add LABEL [FLAGS]     append a message (FLAGS: Maildir letters, e.g. FS)
//	server FOLDER flags LABEL FLAGS     set exactly these flags ("-" for none)
//	server FOLDER delete LABEL          expunge it
//	server FOLDER create | drop         create or delete a folder
//	server FOLDER uidvalidity           renumber the folder (Dovecot only; skipped on memory)
//	local FOLDER add LABEL [FLAGS [NAME]]  write a file as a mail client would (no U=); NAME
//	                                    is put in the file name before ":2,", e.g. ",U=3"
//	                                    (mbsync) or ",U=3,FMD5=*" (offlineimap; * is the
//	                                    folder's FMD5); FLAGS "-" for none
//	local FOLDER mbsync-state LABEL:NEAR:FLAGS...  write the .mbsyncstate mbsync would
//	                                    keep: the server's message LABEL is its file U=NEAR
//	local FOLDER flags LABEL FLAGS      rename it with new flags
//	local FOLDER delete LABEL           remove it
//	local FOLDER move LABEL TOFOLDER    move the file unchanged into another folder
//	local FOLDER create | drop          make an empty Maildir folder, or remove one entirely
//	local FOLDER rmdir-new              remove the folder's new/ directory (a damaged Maildir)
//	sync [--allow-mass-delete] [--dry-run] [--quick] [--in=DURATION]
//	                                    run a sync (--in: with the clock that much ahead,
//	                                    and so on for later syncs); its counts go to the golden
//	sync-fails TEXT                     run a sync that must report an error containing TEXT
//	requires uidvalidity                run only on backends that can renumber a folder
//	sides-differ                        the two sides are expected to differ at the end (e.g. readonly)
//
// Run with -update to rewrite the golden files from the in-memory backend.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/rs/zerolog"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/dovetest"
	"mailsync/internal/maildir"
	"mailsync/internal/memserver"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

var update = flag.Bool("update", false, "rewrite golden files")

// backend is an IMAP server the scenarios run against, with one fresh user
// per scenario so that scenarios never see each other's mail.
type backend struct {
	name  string
	host  string
	port  int
	users []string
	pass  func(user string) string
	// uidvalidity renumbers a folder; nil when the backend can't.
	uidvalidity func(t *testing.T, user, folder string)
	// dropFolder deletes a folder behind mailsync's back.
	dropFolder func(t *testing.T, user, folder string)
	// trusted runs mailsync with its clock two seconds ahead, so that it
	// records directory times during the scenario and later syncs take the
	// shortcuts that trust them (a folder skipped, or planned from the
	// server's changes alone); each local change then moves the folder's
	// directory times to a value no sync has recorded.
	trusted bool
	// shortcuts counts the folders planned from the server's changes alone
	// (trusted backends), and listed those planned from a listing's
	// differences from the state, so the test can tell that the paths were
	// taken.
	shortcuts, listed *atomic.Int32
}

func (b backend) can(what string) bool {
	switch what {
	case "uidvalidity":
		return b.uidvalidity != nil
	}
	return false
}

// requirement returns the scenario's "requires" line, if any.
func requirement(t *testing.T, file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "requires "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func userNames(n int) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = fmt.Sprintf("s%02d", i)
	}
	return u
}

func memoryBackend(t *testing.T, n int) backend {
	users := userNames(n)
	srv, err := memserver.Start(users, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	host, port := splitAddr(t, srv.Addr)
	return backend{name: "memory", host: host, port: port, users: users, pass: func(string) string { return "pw" }}
}

func dovecotBackend(t *testing.T, n int) backend {
	users := userNames(n)
	srv := dovetest.Start(t, dovetest.Options{Users: users})
	host, port := splitAddr(t, srv.Addr())
	b := backend{name: "dovecot", host: host, port: port, users: users, pass: srv.Password,
		shortcuts: new(atomic.Int32), listed: new(atomic.Int32)}
	b.uidvalidity = func(t *testing.T, user, folder string) {
		name := strings.ReplaceAll(folder, "/", ".")
		st := srv.Status(t, user, name)
		srv.SetUIDValidity(t, user, name, st.UIDValidity+1000)
	}
	b.dropFolder = func(t *testing.T, user, folder string) {
		srv.DeleteMailbox(t, user, strings.ReplaceAll(folder, "/", "."))
	}
	return b
}

func splitAddr(t *testing.T, addr string) (string, int) {
	var port int
	host, p, _ := strings.Cut(addr, ":")
	if _, err := fmt.Sscan(p, &port); err != nil {
		t.Fatal(err)
	}
	return host, port
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	trustedDovecot := func(t *testing.T, n int) backend {
		b := dovecotBackend(t, n)
		b.name, b.trusted = "dovecot-trusted", true
		return b
	}
	for _, mk := range []func(*testing.T, int) backend{memoryBackend, dovecotBackend, trustedDovecot} {
		b := mk(t, len(files))
		t.Run(b.name, func(t *testing.T) {
			for i, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".txt")
				if need := requirement(t, f); need != "" && !b.can(need) {
					// Not a skip: the scenario is defined only for servers
					// that can do this, and the other backend runs it.
					t.Logf("%s: needs %s, which the %s backend lacks", name, need, b.name)
					continue
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					runScenario(t, b, b.users[i], f)
				})
			}
		})
		if b.trusted && b.shortcuts.Load() == 0 {
			t.Errorf("%s: no sync planned a folder from the server's changes alone; the variant tests nothing", b.name)
		}
		if b.listed != nil && b.listed.Load() == 0 {
			t.Errorf("%s: no sync planned a folder from a listing's differences from the state", b.name)
		}
	}
}

type scenario struct {
	t       *testing.T
	b       backend
	user    string
	dir     string
	cfgTOML map[string]string
	out     strings.Builder
	ctx     context.Context
	log     zerolog.Logger
	imap    *imapclient.Client
	touches int
	// clock moves mailsync's clock ahead (sync --in=DURATION).
	clock time.Duration
}

func runScenario(t *testing.T, b backend, user, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, b: b, user: user, dir: t.TempDir(), ctx: context.Background(), cfgTOML: map[string]string{},
		log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if b.listed != nil {
		s.log = s.log.Level(zerolog.DebugLevel).Hook(zerolog.HookFunc(func(_ *zerolog.Event, _ zerolog.Level, msg string) {
			switch msg {
			case msync.IncrementalMsg:
				b.shortcuts.Add(1)
			case msync.ListedMsg:
				b.listed.Add(1)
			}
		}))
	}
	s.connect()
	differ := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		where := fmt.Sprintf("%s:%d: %s", file, line, text)
		switch f[0] {
		case "config":
			k, v, _ := strings.Cut(f[1], "=")
			s.cfgTOML[k] = v
		case "server":
			s.server(where, f[1:])
		case "local":
			s.local(where, f[1:])
		case "sync":
			fmt.Fprintf(&s.out, "> %s\n", text)
			sum, errs := s.sync(f[1:]...)
			for _, e := range errs {
				t.Errorf("%s: unexpected error: %v", where, e)
			}
			fmt.Fprintf(&s.out, "%s\n", countsLine(sum.Counts))
		case "sync-fails":
			fmt.Fprintf(&s.out, "> %s\n", text)
			want := strings.Join(f[1:], " ")
			_, errs := s.sync()
			found := false
			for _, e := range errs {
				if strings.Contains(e.Error(), want) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: want an error containing %q, got %v", where, want, errs)
			}
		case "requires":
			// Handled by TestScenarios.
		case "sides-differ":
			differ = true
		default:
			t.Fatalf("%s: unknown command", where)
		}
	}
	srv, loc := s.listServer(), s.listLocal()
	fmt.Fprintf(&s.out, "== server\n%s== local\n%s", srv, loc)
	if !differ && srv != loc {
		t.Errorf("sides differ after the scenario:\nserver:\n%slocal:\n%s", srv, loc)
	}
	if !t.Failed() {
		// Idempotence: one more sync changes nothing on either side.
		sum, _ := s.sync()
		if sum.Counts != (msync.Counts{}) {
			t.Errorf("an extra sync was not a no-op: %s", countsLine(sum.Counts))
		}
		if again := s.listServer(); again != srv {
			t.Errorf("server changed on the extra sync:\n%s", again)
		}
		if again := s.listLocal(); again != loc {
			t.Errorf("local side changed on the extra sync:\n%s", again)
		}
	}
	golden := strings.TrimSuffix(file, ".txt") + ".golden"
	// The memory backend writes goldens; a scenario it can't run (UIDVALIDITY)
	// gets its golden from Dovecot.
	if _, statErr := os.Stat(golden); *update && (s.b.name == "memory" || os.IsNotExist(statErr)) {
		if err := os.WriteFile(golden, []byte(s.out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := s.out.String(); got != string(want) {
		t.Errorf("%s: golden mismatch on %s\n--- got\n%s--- want\n%s", golden, s.b.name, got, want)
	}
}

func countsLine(c msync.Counts) string {
	return fmt.Sprintf("pulled %d, pushed %d, flags %d↓ %d↑, deleted %d↓ %d↑, skipped %d",
		c.Pulled, c.Pushed, c.FlagsDown, c.FlagsUp, c.DeletedDown, c.DeletedUp, c.Skipped)
}

func (s *scenario) config() *config.Config {
	remoteKeys := []string{}
	localKeys := []string{}
	acctKeys := []string{}
	for k, v := range s.cfgTOML {
		side, key, _ := strings.Cut(k, ".")
		switch side {
		case "remote":
			remoteKeys = append(remoteKeys, key+" = "+v)
		case "local":
			localKeys = append(localKeys, key+" = "+v)
		case "account":
			acctKeys = append(acctKeys, key+" = "+v)
		}
	}
	sort.Strings(remoteKeys)
	sort.Strings(localKeys)
	sort.Strings(acctKeys)
	return accountConfig(s.t, s.dir, s.b.host, s.b.port, s.user, s.b.pass(s.user), extraKeys{
		account: strings.Join(acctKeys, "\n"),
		remote:  strings.Join(append([]string{"max_connections = 2"}, remoteKeys...), "\n"),
		local:   strings.Join(localKeys, "\n"),
	})
}

func (s *scenario) sync(args ...string) (*msync.Summary, []error) {
	opts := msync.Options{Log: s.log}
	var req msync.Request
	ahead := time.Duration(0)
	if s.b.trusted {
		ahead = 2 * time.Second
	}
	for _, a := range args {
		if d, ok := strings.CutPrefix(a, "--in="); ok {
			dur, err := time.ParseDuration(d)
			if err != nil {
				s.t.Fatalf("sync %s: %v", a, err)
			}
			s.clock += dur
			continue
		}
		switch a {
		case "--allow-mass-delete":
			req.AllowMassDelete = true
		case "--dry-run":
			opts.DryRun = true
		case "--quick":
			req.Quick = true
		default:
			s.t.Fatalf("unknown sync flag %q", a)
		}
	}
	if ahead += s.clock; ahead != 0 {
		opts.Now = func() time.Time { return time.Now().Add(ahead) }
	}
	rs := accounts.Run(s.ctx, accounts.Options{Config: s.config(), Log: s.log, Engine: opts, Request: req})
	s.verifyDigests()
	r := rs[0]
	var errs []error
	if r.Err != nil {
		errs = append(errs, r.Err)
	}
	sum := r.Summary
	if sum == nil {
		sum = &msync.Summary{}
	}
	for _, e := range sum.Errors {
		if e != r.Err {
			errs = append(errs, e)
		}
	}
	return sum, errs
}

// verifyDigests checks that every folder's digest in the state matches its
// rows: the partial merge trusts it to name the changed files.
func (s *scenario) verifyDigests() {
	path := filepath.Join(s.dir, "state", "t.db")
	if _, err := os.Stat(path); err != nil {
		return // no sync got as far as creating it
	}
	st, err := state.Open(s.ctx, path, false)
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	fs, err := st.Folders(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, f := range fs {
		if err := st.VerifyDigest(s.ctx, f.ID); err != nil {
			s.t.Errorf("folder %s: %v", f.Name, err)
		}
	}
}

// ---- server side, through a separate IMAP connection, as another client would.

func (s *scenario) connect() {
	c, err := imapclient.DialInsecure(fmt.Sprintf("%s:%d", s.b.host, s.b.port), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	if err := c.Login(s.user, s.b.pass(s.user)).Wait(); err != nil {
		s.t.Fatal(err)
	}
	s.imap = c
	// go-imap's memory server has no INBOX until it is created.
	_ = c.Create("INBOX", nil).Wait()
}

func (s *scenario) serverName(folder string) string {
	if strings.HasPrefix(s.b.name, "dovecot") {
		return strings.ReplaceAll(folder, "/", ".")
	}
	return folder
}

func scenarioMessage(label string) []byte {
	return []byte("From: scenario@example.org\r\nTo: you@example.org\r\nSubject: " + label +
		"\r\nMessage-ID: <" + label + "@scenario.test>\r\nDate: Mon, 02 Jun 2025 10:00:00 +0000\r\n\r\nBody of " + label + ".\r\n")
}

func imapFlags(letters string) []imap.Flag {
	var out []imap.Flag
	m := map[rune]imap.Flag{'D': imap.FlagDraft, 'F': imap.FlagFlagged, 'P': imap.FlagForwarded,
		'R': imap.FlagAnswered, 'S': imap.FlagSeen, 'T': imap.FlagDeleted}
	for _, c := range letters {
		if f, ok := m[c]; ok {
			out = append(out, f)
		}
	}
	return out
}

// findUID returns the UID of label in the selected folder.
func (s *scenario) findUID(where, folder, label string) imap.UID {
	if _, err := s.imap.Select(s.serverName(folder), nil).Wait(); err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	d, err := s.imap.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + label + "@"}}}, nil).Wait()
	if err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	uids := d.AllUIDs()
	if len(uids) != 1 {
		s.t.Fatalf("%s: %d messages labelled %s on the server", where, len(uids), label)
	}
	return uids[0]
}

// server runs a server command.
func (s *scenario) server(where string, f []string) {
	c := s.imap
	folder, verb := f[0], f[1]
	var err error
	switch verb {
	case "create":
		err = c.Create(s.serverName(folder), nil).Wait()
	case "drop":
		if s.b.dropFolder != nil {
			s.b.dropFolder(s.t, s.user, folder)
		} else {
			err = c.Delete(s.serverName(folder)).Wait()
		}
	case "uidvalidity":
		if s.b.uidvalidity == nil {
			s.t.Fatalf("%s: add \"requires uidvalidity\" to the scenario", where)
		}
		s.b.uidvalidity(s.t, s.user, folder)
	case "add":
		flags := ""
		if len(f) > 3 {
			flags = f[3]
		}
		msg := scenarioMessage(f[2])
		_ = c.Create(s.serverName(folder), nil).Wait()
		ac := c.Append(s.serverName(folder), int64(len(msg)), &imap.AppendOptions{Flags: imapFlags(flags),
			Time: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)})
		if _, err = ac.Write(msg); err == nil {
			if err = ac.Close(); err == nil {
				_, err = ac.Wait()
			}
		}
	case "flags":
		uid := s.findUID(where, folder, f[2])
		err = c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: imapFlags(f[3])}, nil).Close()
	case "delete":
		uid := s.findUID(where, folder, f[2])
		if err = c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err == nil {
			err = c.UIDExpunge(imap.UIDSetNum(uid)).Close()
		}
	default:
		s.t.Fatalf("%s: unknown server verb", where)
	}
	if err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	// Leave no mailbox selected: an error only means none was.
	_ = c.Unselect().Wait()
}

func (s *scenario) listServer() string {
	var b strings.Builder
	boxes, err := s.imap.List("", "*", nil).Collect()
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, m := range boxes {
		if slicesContainsFold(m.Attrs, imap.MailboxAttrNoSelect) || slicesContainsFold(m.Attrs, imap.MailboxAttrNonExistent) {
			continue // a parent that only exists as a name: nothing to list
		}
		name := m.Mailbox
		if strings.HasPrefix(s.b.name, "dovecot") {
			name = strings.ReplaceAll(name, ".", "/")
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := s.imap.Select(s.serverName(name), &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			s.t.Fatal(err)
		}
		msgs, err := s.imap.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader,
				HeaderFields: []string{"Message-ID"}, Peek: true}}}).Collect()
		if err != nil {
			s.t.Fatal(err)
		}
		var lines []string
		for _, m := range msgs {
			var hdr []byte
			for _, bs := range m.BodySection {
				hdr = bs.Bytes
			}
			lines = append(lines, name+" "+labelOf(remote.ParseMessageID(hdr))+" "+flagLetters(m.Flags))
		}
		if len(lines) == 0 {
			lines = append(lines, name+" (empty)")
		}
		sort.Strings(lines)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func slicesContainsFold(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func labelOf(msgID string) string {
	l := strings.TrimPrefix(msgID, "<")
	l, _, _ = strings.Cut(l, "@")
	if l == "" {
		return "(no label)"
	}
	return l
}

func flagLetters(flags []imap.Flag) string {
	m := map[string]byte{`\draft`: 'D', `\flagged`: 'F', `$forwarded`: 'P', `\answered`: 'R', `\seen`: 'S', `\deleted`: 'T'}
	var b []byte
	for _, f := range flags {
		if c, ok := m[strings.ToLower(string(f))]; ok {
			b = append(b, c)
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// ---- local side, acting as a mail client.

func (s *scenario) mailDir(folder string) *maildir.Folder {
	return &maildir.Folder{Dir: filepath.Join(s.dir, "Mail", filepath.FromSlash(folder))}
}

func (s *scenario) findLocal(where, folder, label string) maildir.Entry {
	f := s.mailDir(folder)
	es, _, _, err := f.Scan()
	if err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	var found []maildir.Entry
	for _, e := range es {
		if localLabel(e.Path(f.Dir)) == label {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		s.t.Fatalf("%s: %d local files labelled %s", where, len(found), label)
	}
	return found[0]
}

func localLabel(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable)"
	}
	hdr, _, _ := strings.Cut(string(b), "\n\n")
	return labelOf(remote.ParseMessageID([]byte(hdr + "\n\n")))
}

func (s *scenario) local(where string, f []string) {
	folder, verb := f[0], f[1]
	md := s.mailDir(folder)
	var err error
	switch verb {
	case "create":
		err = md.Create()
	case "drop":
		err = os.RemoveAll(md.Dir)
	case "rmdir-new":
		err = os.RemoveAll(filepath.Join(md.Dir, "new"))
	case "add":
		flags := ""
		if len(f) > 3 {
			flags = f[3]
		}
		if err = md.Create(); err != nil {
			break
		}
		sub, name := "new", fmt.Sprintf("%d.client-%s.host", time.Now().UnixNano(), f[2])
		if len(f) > 4 {
			name += strings.ReplaceAll(f[4], "*", maildir.FolderMD5(folder))
		}
		if flags == "-" {
			sub, name = "cur", name+":2,"
		} else if flags != "" {
			sub, name = "cur", name+":2,"+flags
		}
		msg := strings.ReplaceAll(string(scenarioMessage(f[2])), "\r\n", "\n")
		err = os.WriteFile(filepath.Join(md.Dir, sub, name), []byte(msg), 0o600)
	case "mbsync-state":
		err = s.writeMbsyncState(where, folder, f[2:])
	case "flags":
		e := s.findLocal(where, folder, f[2])
		n := e.Name
		n.Flags = strings.ReplaceAll(f[3], "-", "")
		_, err = md.Rename(e, n)
	case "delete":
		e := s.findLocal(where, folder, f[2])
		err = os.Remove(e.Path(md.Dir))
	case "move":
		e := s.findLocal(where, folder, f[2])
		to := s.mailDir(f[3])
		if err = to.Create(); err == nil {
			err = os.Rename(e.Path(md.Dir), filepath.Join(to.Dir, string(e.Sub), e.File))
		}
	default:
		s.t.Fatalf("%s: unknown local verb", where)
	}
	if err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	if s.b.trusted {
		s.touch(folder)
		if verb == "move" {
			s.touch(f[3])
		}
	}
}

// writeMbsyncState writes the state mbsync 1.4 keeps in a folder
// (SyncState *): the server's UIDVALIDITY, then "FAR NEAR FLAGS" per pair.
func (s *scenario) writeMbsyncState(where, folder string, pairs []string) error {
	st, err := s.imap.Status(s.serverName(folder), &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FarUidValidity %d\nNearUidValidity 1\nMaxPulledUid 0\nMaxPushedUid 0\n\n", st.UIDValidity)
	for _, p := range pairs {
		parts := strings.Split(p, ":")
		if len(parts) != 3 {
			s.t.Fatalf("%s: want LABEL:NEAR:FLAGS, got %q", where, p)
		}
		fmt.Fprintf(&b, "%d %s %s\n", s.findUID(where, folder, parts[0]), parts[1], strings.ReplaceAll(parts[2], "-", ""))
	}
	return os.WriteFile(filepath.Join(s.mailDir(folder).Dir, ".mbsyncstate"), []byte(b.String()), 0o600)
}

// touch gives a folder's cur/ and new/ a time no sync has recorded (an hour
// back, a millisecond apart per call), as a later change by a mail client
// would on any file system, however coarse its clock.
func (s *scenario) touch(folder string) {
	s.touches++
	at := time.Now().Add(-time.Hour + time.Duration(s.touches)*time.Millisecond)
	md := s.mailDir(folder)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(md.Dir, sub), at, at); err != nil && !os.IsNotExist(err) {
			s.t.Fatal(err)
		}
	}
}

func (s *scenario) listLocal() string {
	root := filepath.Join(s.dir, "Mail")
	names, err := (maildir.FS{}).List(root)
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range names {
		f := s.mailDir(name)
		es, problems, _, err := f.Scan()
		if err != nil {
			var pe *os.PathError
			if !errors.As(err, &pe) {
				s.t.Fatal(err)
			}
			b.WriteString(name + " (damaged: " + filepath.Base(pe.Path) + " missing)\n")
			continue
		}
		for _, p := range problems {
			s.t.Errorf("local problem: %v", p)
		}
		var lines []string
		for _, e := range es {
			fl := e.Name.Flags
			if fl == "" {
				fl = "-"
			}
			lines = append(lines, name+" "+localLabel(e.Path(f.Dir))+" "+fl)
		}
		if len(lines) == 0 {
			lines = append(lines, name+" (empty)")
		}
		sort.Strings(lines)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
