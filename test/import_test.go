package test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsync/config"
	"mailsync/internal/dovetest"
)

// `mailsync import offlineimap|mbsync`, end to end: a realistic
// configuration of several accounts (hooks, filters, renames, OAuth2, a
// password command), one of them on the test's Dovecot, which the real
// tool syncs first. The import must translate it all (exit 0), the TOML
// must load, --dry-run must connect with it, and a real sync must take
// over the tool's Maildir without a download, a new folder or a rename
// on either side: a folder_map, layout or folder_names that the importer
// got wrong would show up as exactly that.

// importEnv is newEnv's world with a server whose hierarchy separator is
// "/", as the tools' configs below name folders ("Lists/go"), and without
// a mailsync config of its own: the import writes it.
func importEnv(t *testing.T) *env {
	t.Helper()
	user := "u" + strconv.Itoa(rand.Intn(1e6))
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, Separator: "/"})
	dir := t.TempDir()
	e := &env{t: t, srv: srv, user: user, dir: dir,
		cfg:   filepath.Join(dir, "imported.toml"),
		mail:  filepath.Join(dir, "Mail"),
		state: filepath.Join(dir, "home", ".local", "state", "mailsync"),
	}
	for _, d := range []string{e.mail, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.seedServer("INBOX", seeds("in", 6, 2000))
	e.seedServer("Sent", seeds("sent", 3, 1500))
	e.seedServer("Lists/go", seeds("go", 4, 1200))
	e.seedServer("Entwürfe", seeds("draft", 2, 800))
	e.seedServer("Trash", seeds("trash", 2, 800))
	e.seedServer("Archive/2023", seeds("old", 2, 800))
	return e
}

// importHome is HOME of the tools and of mailsync in these tests.
func importHome(e *env) string { return filepath.Join(e.dir, "home") }

// runImport runs `mailsync [-c cfg] import tool args...`.
func runImport(e *env, args ...string) result {
	e.t.Helper()
	return startBin(e.t, e.binEnv(), args...).wait(30 * time.Second)
}

// parseImported loads the TOML as mailsync does, with the test's HOME.
func parseImported(t *testing.T, e *env, toml []byte) *config.Config {
	t.Helper()
	env := func(k string) string {
		for _, kv := range e.binEnv() {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	cfg, err := config.Parse(e.cfg, toml, env)
	if err != nil {
		t.Fatalf("the imported TOML does not load:\n%v\n%s", err, toml)
	}
	return cfg
}

// localDirs lists the directories under root, relative, to see that a
// sync made no folder of its own.
func localDirs(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// switchOver syncs account "dove" with the imported config and checks that
// mailsync took the tool's Maildir over as it is.
func switchOver(t *testing.T, e *env) {
	t.Helper()
	if r := e.run("sync", "--dry-run", "-a", "dove"); r.code != 0 {
		t.Fatalf("sync --dry-run with the imported config: want exit 0, got %s", r)
	}
	boxes := e.srv.Mailboxes(t, e.user)
	dirs := localDirs(t, e.mail)
	bodies := e.srv.BodyFetches(t, e.user)
	e.mustSync("sync", "-a", "dove")
	if n := e.srv.BodyFetches(t, e.user) - bodies; n != 0 {
		t.Errorf("the first sync fetched %d message bodies; the tool's Maildir should have been taken over", n)
	}
	if after := e.srv.Mailboxes(t, e.user); !reflect.DeepEqual(after, boxes) {
		t.Errorf("the sync changed the server's folders:\nbefore %q\nafter  %q", boxes, after)
	}
	if after := localDirs(t, e.mail); !reflect.DeepEqual(after, dirs) {
		t.Errorf("the sync changed the local folders:\nbefore %q\nafter  %q", dirs, after)
	}
	if r := e.mustSync("sync", "-a", "dove"); !strings.Contains(r.stdout, "dove: pulled 0, pushed 0, flags 0↓ 0↑, deleted 0↓ 0↑, 0 errors") {
		t.Errorf("the second sync was not a no-op:\n%s", r)
	}
}

// checkWrite checks --write: the same TOML as printed, mode 0600, and a
// refusal (exit 2, naming the file) to overwrite it.
func checkWrite(t *testing.T, e *env, tool, rc string, printed string) {
	t.Helper()
	dst := filepath.Join(e.dir, "xdg", "mailsync", "config.toml")
	r := runImport(e, "-c", dst, "import", tool, "--from", rc, "--write")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, dst) {
		t.Fatalf("import --write: want exit 0, nothing on stdout and the file named on stderr, got %s", r)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the written config has mode %04o, want 0600 (it may hold secrets)", fi.Mode().Perm())
	}
	if got := string(readFile(t, dst)); got != printed {
		t.Errorf("--write wrote something else than the import printed:\n%s", got)
	}
	if err := os.WriteFile(dst, []byte("# edited by the user\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runImport(e, "-c", dst, "import", tool, "--from", rc, "--write")
	if r.code != 2 || !strings.Contains(r.stderr, dst) {
		t.Errorf("a second import --write: want exit 2 naming %s, got %s", dst, r)
	}
	if got := string(readFile(t, dst)); got != "# edited by the user\n" {
		t.Errorf("the refused import changed the file: %q", got)
	}
}

// pyCheck has Python's configparser read rc as offlineimap does and
// compiles every value offlineimap evaluates as Python, so that the
// accounts the test does not run through offlineimap are valid too.
func pyCheck(t *testing.T, rc string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		return // offlineimap3 depends on python3: without it there is no offlineimap either
	}
	script := `
import configparser, sys
c = configparser.ConfigParser()
c.read(sys.argv[1])
for s in c.sections():
    for k in c[s]:
        v = c.get(s, k)
        if k in ("folderfilter", "nametrans", "idlefolders", "remotepasseval", "newmail_hook", "folderincludes") or k.endswith("_eval"):
            compile(v, s + "/" + k, "eval")
`
	if out, err := exec.Command(py, "-c", script, rc).CombinedOutput(); err != nil {
		t.Fatalf("Python cannot read %s as offlineimap would: %v\n%s", rc, err, out)
	}
}

// TestImportOfflineimap: see the top of the file.
func TestImportOfflineimap(t *testing.T) {
	t.Parallel()
	offlineimap := needTool(t, "offlineimap")
	e := importEnv(t)
	home := importHome(e)
	passFile := filepath.Join(e.dir, "dove.pass")
	writeFileT(t, passFile, e.srv.Password(e.user)+"\n")
	pyFile := filepath.Join(home, ".offlineimap.py")
	writeFileT(t, pyFile, "import os\nimport subprocess\n")
	meta := filepath.Join(e.dir, "offlineimap-state")
	rc := filepath.Join(home, ".offlineimaprc")
	writeFileT(t, rc, fmt.Sprintf(`# offlineimap: three accounts, one of them on the test's server.
[general]
accounts = dove, gmail, work
maxsyncaccounts = 1
pythonfile = ~/.offlineimap.py
metadata = %[1]s
socktimeout = 60

[Account dove]
localrepository = dove-local
remoterepository = dove-remote
autorefresh = 1.5
quick = 5
presynchook = true
postsynchook = true
maxsize = 10000000

[Repository dove-local]
type = Maildir
localfolders = %[2]s
nametrans = lambda folder: {'sent-mail': 'Sent'}.get(folder, folder)

[Repository dove-remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %[3]d
remoteuser = %[4]s
remotepasseval = subprocess.check_output(["cat", "%[5]s"]).strip().decode()
ssl = no
starttls = no
folderfilter = lambda folder: folder not in ['Trash'] and not re.search('^Archive/', folder)
nametrans = lambda folder: {'Sent': 'sent-mail'}.get(folder, folder)
idlefolders = ['INBOX']
holdconnectionopen = yes
keepalive = 120
newmail_hook = lambda: os.system("true")

[Account gmail]
localrepository = gmail-local
remoterepository = gmail-remote
synclabels = no

[Repository gmail-local]
type = Maildir
localfolders = ~/Mail/gmail
nametrans = lambda f: {'sent': '[Gmail]/Sent Mail', 'archive': '[Gmail]/All Mail'}.get(f, f)

[Repository gmail-remote]
type = Gmail
remoteuser = someone@gmail.com
oauth2_client_id = 123-abc.apps.googleusercontent.com
oauth2_client_secret_eval = subprocess.check_output("pass show gmail/secret", shell=True).decode().strip()
oauth2_refresh_token_eval = os.popen("pass show gmail/refresh").read().strip()
nametrans = lambda f: {'[Gmail]/Sent Mail': 'sent', '[Gmail]/All Mail': 'archive'}.get(f, f)
folderfilter = lambda f: f in ['INBOX', '[Gmail]/Sent Mail', '[Gmail]/All Mail']

[Account work]
localrepository = work-local
remoterepository = work-remote
maxage = 180
utf8foldernames = yes

[Repository work-local]
type = Maildir
localfolders = ~/Mail/work
sep = /

[Repository work-remote]
type = IMAP
remotehost = imap.work.example
remoteuser = jdoe
remotepassfile = ~/.work-pass
sslcacertfile = OS-DEFAULT
cert_fingerprint = 9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08
maxconnections = 2
auth_mechanisms = PLAIN
`, meta, e.mail, e.srv.Port, e.user, passFile))
	pyCheck(t, rc)

	// offlineimap syncs the account it can reach, with this very config.
	cmd := exec.Command(offlineimap, "-o", "-u", "quiet", "-a", "dove")
	cmd.Env = append(os.Environ(), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("offlineimap: %v\n%s", err, out)
	}
	for _, d := range []string{"INBOX", "sent-mail", "Lists.go", "Entw&APw-rfe"} {
		if _, err := os.Stat(filepath.Join(e.mail, d, "cur")); err != nil {
			t.Fatalf("offlineimap did not make the folder %s: %v", d, err)
		}
	}

	// The default --from is ~/.offlineimaprc.
	r := runImport(e, "import", "offlineimap")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("import offlineimap: want exit 0 and nothing on stderr, got %s", r)
	}
	cfg := parseImported(t, e, []byte(r.stdout))
	if got := cfg.AccountNames(); !reflect.DeepEqual(got, []string{"dove", "gmail", "work"}) {
		t.Fatalf("accounts %q", got)
	}
	dove, gmail, work := cfg.Accounts["dove"], cfg.Accounts["gmail"], cfg.Accounts["work"]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"dove layout", dove.Local.Layout, config.LayoutDotted},
		{"dove folder_names", dove.Local.FolderNames, config.FolderNamesIMAPUTF7},
		{"dove previous_tool", dove.Local.PreviousTool, "offlineimap"},
		{"dove previous_state", dove.Local.PreviousState, filepath.Join(meta, "Account-dove")},
		{"dove folder_map", dove.Remote.FolderMap, map[string]string{"Sent": "sent-mail"}},
		{"dove password_command", dove.Remote.PasswordCommand, "cat " + passFile},
		{"dove tls", dove.Remote.TLS, config.TLSNone},
		{"dove timeout", dove.Remote.Timeout, time.Minute},
		{"dove autorefresh", dove.Schedule.Autorefresh, 90 * time.Second},
		{"dove quick", dove.Schedule.Quick, 5},
		{"dove idle_folders", dove.Schedule.IdleFolders, []string{"INBOX"}},
		{"dove keepalive", dove.Schedule.Keepalive, 2 * time.Minute},
		{"dove hooks", [3]string{dove.Hooks.Presync, dove.Hooks.Postsync, dove.Hooks.Newmail}, [3]string{"true", "true", "true"}},
		{"dove max_size", dove.MaxSize, int64(10000000)},
		{"max_sync_accounts", cfg.General.MaxSyncAccounts, 1},
		{"gmail provider", gmail.Remote.Provider, config.ProviderGmail},
		{"gmail folder_map", gmail.Remote.FolderMap, map[string]string{"[Gmail]/Sent Mail": "sent", "[Gmail]/All Mail": "archive"}},
		{"gmail folders", gmail.Remote.Folders, []string{"INBOX", "[Gmail]/Sent Mail", "[Gmail]/All Mail"}},
		{"gmail oauth2", *gmail.Remote.OAuth2, config.OAuth2{ClientID: "123-abc.apps.googleusercontent.com",
			ClientSecretCommand: "pass show gmail/secret", RefreshTokenCommand: "pass show gmail/refresh", TokenURL: "https://oauth2.googleapis.com/token"}},
		{"work layout", work.Local.Layout, config.LayoutFS},
		{"work folder_names", work.Local.FolderNames, config.FolderNamesUTF8},
		{"work max_age", work.MaxAge.String(), "180d"},
		{"work password_file", work.Remote.PasswordFile, filepath.Join(home, ".work-pass")},
		{"work pins", len(work.Remote.Fingerprints), 1},
		{"work auth", work.Remote.AuthMechanisms, []string{"PLAIN"}},
		{"work max_connections", work.Remote.MaxConnections, 2},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	for name, want := range map[string]bool{"INBOX": true, "Sent": true, "Lists/go": true, "Entwürfe": true, "Trash": false, "Archive/2023": false} {
		if got := dove.Remote.Filter.Match(name); got != want {
			t.Errorf("dove folders match %q: %v, want %v (offlineimap's folderfilter)", name, got, want)
		}
	}
	if head := strings.Join(strings.SplitN(r.stdout, "\n", 3)[:2], " "); !strings.HasPrefix(head, "# mailsync configuration imported by `mailsync import offlineimap`") || !strings.Contains(head, rc) {
		t.Errorf("the TOML does not start by saying where it came from:\n%s", r.stdout)
	}

	writeFileT(t, e.cfg, r.stdout)
	switchOver(t, e)
	checkWrite(t, e, "offlineimap", rc, r.stdout)
}

// TestImportMbsync: see the top of the file.
func TestImportMbsync(t *testing.T) {
	t.Parallel()
	mbsync := needTool(t, "mbsync")
	e := importEnv(t)
	home := importHome(e)
	passFile := filepath.Join(e.dir, "dove.pass")
	writeFileT(t, passFile, e.srv.Password(e.user)+"\n")
	caFile := filepath.Join(home, "work-ca.pem")
	writeFileT(t, caFile, string(readFile(t, "../config/importer/testdata/home/certs/ca.pem")))
	rc := filepath.Join(home, ".mbsyncrc")
	writeFileT(t, rc, fmt.Sprintf(`# mbsync: three accounts, one of them on the test's server.
Create Both
Expunge Both
SyncState *
FSync yes

IMAPAccount dove
Host 127.0.0.1
Port %[1]d
User %[2]s
PassCmd "cat %[3]s"
SSLType None
AuthMechs LOGIN

IMAPStore dove-remote
Account dove

MaildirStore dove-local
Path %[4]s/
Inbox %[4]s/Inbox
SubFolders Legacy

Channel dove-inbox
Far :dove-remote:
Near :dove-local:

Channel dove-sent
Far :dove-remote:Sent
Near :dove-local:sent

Channel dove-rest
Far :dove-remote:
Near :dove-local:
# mbsync matches the patterns against both sides' names: the Maildir's
# "sent" belongs to dove-sent.
Patterns * !INBOX !Sent !sent !Trash !Archive*

Group dove
Channels dove-inbox dove-sent dove-rest

IMAPAccount gmail
Host imap.gmail.com
User someone@gmail.com
PassCmd "oama access someone@gmail.com"
AuthMechs XOAUTH2
SSLType IMAPS

IMAPStore gmail-remote
Account gmail

MaildirStore gmail-local
Path ~/Mail/gmail/
Inbox ~/Mail/gmail/INBOX
SubFolders Verbatim

Channel gmail
Far :gmail-remote:
Near :gmail-local:
Patterns * ![Gmail]/Spam "![Gmail]/All Mail"

IMAPStore work
Host imap.work.example
User jdoe
PassCmd +"gpg -qd ~/.work-pass.gpg"
SSLType IMAPS
CertificateFile ~/work-ca.pem
Timeout 45

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
Flatten .
MaxSize 20m

Channel work
Far :work:
Near :work-local:
Patterns INBOX Projects Projects/*
SyncState ~/.local/state/mbsync/
`, e.srv.Port, e.user, passFile, e.mail))

	// mbsync reads the whole file (a config error stops it before any
	// sync) and syncs the account it can reach.
	cmd := exec.Command(mbsync, "-q", "-c", rc, "dove")
	cmd.Env = append(os.Environ(), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	for _, d := range []string{"Inbox", "sent", "Lists/.go", "Entw&APw-rfe"} {
		if _, err := os.Stat(filepath.Join(e.mail, d, "cur")); err != nil {
			t.Fatalf("mbsync did not make the folder %s: %v", d, err)
		}
	}

	r := runImport(e, "import", "mbsync")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("import mbsync: want exit 0 and nothing on stderr, got %s", r)
	}
	cfg := parseImported(t, e, []byte(r.stdout))
	if got := cfg.AccountNames(); !reflect.DeepEqual(got, []string{"dove", "gmail", "work"}) {
		t.Fatalf("accounts %q", got)
	}
	dove, gmail, work := cfg.Accounts["dove"], cfg.Accounts["gmail"], cfg.Accounts["work"]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"dove layout", dove.Local.Layout, config.LayoutMbsyncLegacy},
		{"dove path", dove.Local.Path, e.mail},
		{"dove folder_names", dove.Local.FolderNames, config.FolderNamesIMAPUTF7},
		{"dove previous_tool", dove.Local.PreviousTool, "mbsync"},
		{"dove previous_state", dove.Local.PreviousState, ""},
		{"dove folder_map", dove.Remote.FolderMap, map[string]string{"INBOX": "Inbox", "Sent": "sent"}},
		{"dove password_command", dove.Remote.PasswordCommand, "cat " + passFile},
		{"dove tls", [2]any{dove.Remote.TLS, dove.Remote.AllowPlaintext}, [2]any{config.TLSNone, true}},
		{"dove auth", dove.Remote.AuthMechanisms, []string{"LOGIN"}},
		{"dove fsync", dove.Local.Fsync, true},
		{"gmail oauth2", *gmail.Remote.OAuth2, config.OAuth2{TokenCommand: "oama access someone@gmail.com"}},
		{"gmail folders", gmail.Remote.Folders, []string{"*", "![Gmail]/Spam", "![Gmail]/All Mail"}},
		{"gmail tls", gmail.Remote.TLS, config.TLSImplicit},
		{"work layout", work.Local.Layout, config.LayoutDotted},
		{"work previous_state", work.Local.PreviousState, filepath.Join(home, ".local/state/mbsync")},
		{"work ca_file", work.Remote.CAFile, caFile},
		{"work password_command", work.Remote.PasswordCommand, "gpg -qd ~/.work-pass.gpg"},
		{"work timeout", work.Remote.Timeout, 45 * time.Second},
		{"work max_size", work.MaxSize, int64(20 << 20)},
		{"work folders", work.Remote.Folders, []string{"INBOX", "Projects", "Projects/*"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	for name, want := range map[string]bool{"INBOX": true, "Sent": true, "Lists/go": true, "Entwürfe": true, "Trash": false, "Archive/2023": false} {
		if got := dove.Remote.Filter.Match(name); got != want {
			t.Errorf("dove folders match %q: %v, want %v (the channels' mailboxes and Patterns)", name, got, want)
		}
	}

	writeFileT(t, e.cfg, r.stdout)
	switchOver(t, e)
	checkWrite(t, e, "mbsync", rc, r.stdout)
}

// problemLineRE is how an untranslatable item is reported on stderr.
var problemLineRE = regexp.MustCompile(`^(.+):(\d+): (.+): (.+)$`)

// TestImportUntranslatable: what cannot be translated is listed on stderr
// as FILE:LINE: what: suggestion, the exit code is 3, and the TOML is
// still printed, loads, and names the problems beside the account.
func TestImportUntranslatable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool, rc string
		want     map[int]string // line → a word of the problem reported there
	}{
		{"offlineimap", `[general]
accounts = main
frobnicate = yes

[Account main]
localrepository = local
remoterepository = remote
synclabels = yes

[Repository local]
type = Maildir
localfolders = ~/Mail

[Repository remote]
type = IMAP
remotehost = imap.example.org
remoteuser = me
remotepasseval = get_password("imap.example.org")
folderfilter = lambda f: len(f) < 20
cert_fingerprint = bbfe29cf97acb204591edbafe0aa8c8f914287c9
`, map[int]string{3: "frobnicate", 8: "synclabels", 18: "get_password", 19: "folderfilter", 20: "SHA-1"}},
		{"mbsync", `MaxMessages 100
Create Near
Expunge Both

IMAPStore remote
Host imap.example.org
User me
PassCmd "pass show mail"
Tunnel "ssh -q mailhost /usr/lib/dovecot/imap"
Colour blue

MaildirStore local
Path ~/Mail/
Inbox ~/Mail/INBOX
SubFolders Verbatim

Channel main
Far :remote:
Near :local:
Patterns *
SyncState *
`, map[int]string{1: "MaxMessages", 2: "Create", 9: "Tunnel", 10: "Colour"}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "imported.toml")}
			rc := filepath.Join(dir, tc.tool+".rc")
			writeFileT(t, rc, tc.rc)
			r := runImport(e, "import", tc.tool, "--from", rc)
			if r.code != 3 {
				t.Fatalf("want exit 3, got %s", r)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, "could not be translated") {
				t.Errorf("the last line should count the problems: %q", last)
			}
			got := map[int]string{}
			for _, l := range lines[:len(lines)-1] {
				m := problemLineRE.FindStringSubmatch(l)
				if m == nil || m[1] != rc {
					t.Errorf("not FILE:LINE: what: suggestion: %q", l)
					continue
				}
				n, _ := strconv.Atoi(m[2])
				got[n] += l
			}
			for line, word := range tc.want {
				if !strings.Contains(got[line], word) {
					t.Errorf("want a problem about %q at line %d; got %q", word, line, got[line])
				}
			}
			if !bytes.Contains([]byte(r.stdout), []byte("NOT TRANSLATED")) {
				t.Errorf("the TOML does not note what was not translated:\n%s", r.stdout)
			}
			// The TOML loads as it is: status reads the config and no server.
			writeFileT(t, e.cfg, r.stdout)
			if s := startBin(t, e.binEnv(), "-c", e.cfg, "status").wait(30 * time.Second); s.code != 0 {
				t.Errorf("mailsync status with the TOML of a partial import: want exit 0, got %s\n%s", s, r.stdout)
			}
		})
	}
}

// TestImportUsage: the input errors and the default input paths.
func TestImportUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	home := importHome(e)
	if err := os.MkdirAll(filepath.Join(home, ".config"), 0o700); err != nil {
		t.Fatal(err)
	}

	// No config where the tool keeps it: exit 1, naming the file.
	for tool, want := range map[string]string{
		"offlineimap": filepath.Join(home, ".offlineimaprc"),
		"mbsync":      filepath.Join(home, ".mbsyncrc"),
	} {
		r := runImport(e, "import", tool)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("import %s without its config: want exit 1 naming %s, got %s", tool, want, r)
		}
	}

	// A file the tool itself could not read: exit 1 with FILE:LINE.
	bad := filepath.Join(dir, "bad.rc")
	writeFileT(t, bad, "[general]\naccounts = a\nthis line has no value\n")
	if r := runImport(e, "import", "offlineimap", "--from", bad); r.code != 1 || !strings.Contains(r.stderr, bad+":3:") {
		t.Errorf("a broken offlineimap config: want exit 1 naming %s:3, got %s", bad, r)
	}
	writeFileT(t, bad, "IMAPStore x\nPass \"unterminated\n")
	if r := runImport(e, "import", "mbsync", "--from", bad); r.code != 1 || !strings.Contains(r.stderr, bad+":2:") {
		t.Errorf("a broken mbsync config: want exit 1 naming %s:2, got %s", bad, r)
	}

	// offlineimap prefers $XDG_CONFIG_HOME/offlineimap/config; mbsync 1.4
	// reads ~/.mbsyncrc, and the importer falls back to 1.5's isyncrc.
	xdgRC := filepath.Join(home, ".config", "offlineimap", "config")
	if err := os.MkdirAll(filepath.Dir(xdgRC), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, xdgRC, "[general]\naccounts = x\n")
	writeFileT(t, filepath.Join(home, ".offlineimaprc"), "[general]\naccounts = y\n")
	if r := runImport(e, "import", "offlineimap"); !strings.Contains(r.stderr, xdgRC) {
		t.Errorf("import offlineimap should read %s first, got %s", xdgRC, r)
	}
	writeFileT(t, filepath.Join(home, ".config", "isyncrc"), "Frobnicate yes\n")
	if r := runImport(e, "import", "mbsync"); !strings.Contains(r.stderr, filepath.Join(home, ".config", "isyncrc")+":1:") {
		t.Errorf("import mbsync should fall back to isyncrc, got %s", r)
	}

	// Unknown flags and arguments are usage errors.
	for _, args := range [][]string{{"import", "mbsync", "--bogus"}, {"import", "mbsync", "extra"}, {"import", "pine"}} {
		if r := runImport(e, args...); r.code != 2 {
			t.Errorf("mailsync %s: want exit 2, got %s", strings.Join(args, " "), r)
		}
	}
}
