package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testEnv returns an Env backed by a map, so tests never see the real
// environment.
func testEnv(kv ...string) Env {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func mustFilter(t *testing.T, pats ...string) *FolderFilter {
	t.Helper()
	f, err := NewFolderFilter(pats)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const fullConfig = `# A config using every key.
[general]
state_dir = "~/state/mailsync/"
max_sync_accounts = 3
autorefresh = "10m"
idle_folders = ["INBOX"]
postsync_hook = "notmuch new"
hook_timeout = "30s"
failure_hook = "notify-send failed"

[accounts.personal]
max_age = "90d"
max_size = "25MB"
autorefresh = "2m"
quick = 10
idle_folders = ["INBOX", "Lists/go", "INBOX"]
watch_local = true
keepalive = "5m"
jitter = "30s"
presync_hook = "check-online"
newmail_hook = "notify-send mail"

[accounts.personal.remote]
host = "imap.example.org"
port = 1993
tls = "starttls"
allow_plaintext = false
user = "me@example.org"
password_command = "pass show mail"
max_connections = 8
folders = ["*", "!Spam"]
folder_map = { "[Gmail]/Sent Mail" = "Sent" }
readonly = true
sync_deletes = false
expunge = false
timeout = "2m"
compress = false

[accounts.personal.local]
path = "~/Mail/personal"
layout = "maildir++"
readonly = false
sync_deletes = false
fsync = false

[accounts.work]
max_age = 2024-01-31

[accounts.work.remote]
host = "mail.work.example"
user = "me"
password_file = "~/.mailpass"

[accounts.work.local]
path = "/srv/mail/work"
`

func TestParseFull(t *testing.T) {
	const file = "/home/u/.config/mailsync/config.toml"
	cfg, err := Parse(file, []byte(fullConfig), testEnv("HOME", "/home/u"))
	if err != nil {
		t.Fatal(err)
	}
	maxAge, _ := ParseMaxAge("90d")
	want := &Config{
		Path: file,
		General: General{
			StateDir:        "/home/u/state/mailsync",
			MaxSyncAccounts: 3,
			Schedule:        Schedule{Autorefresh: 10 * time.Minute, IdleFolders: []string{"INBOX"}, Keepalive: DefaultKeepalive},
			Hooks:           Hooks{Postsync: "notmuch new", Timeout: 30 * time.Second},
			FailureHook:     "notify-send failed",
		},
		Accounts: map[string]*Account{
			"personal": {
				Name:    "personal",
				MaxAge:  maxAge,
				MaxSize: 25_000_000,
				Schedule: Schedule{Autorefresh: 2 * time.Minute, Quick: 10, IdleFolders: []string{"INBOX", "Lists/go"},
					WatchLocal: true, Keepalive: 5 * time.Minute, Jitter: 30 * time.Second},
				Hooks: Hooks{Presync: "check-online", Postsync: "notmuch new", Newmail: "notify-send mail", Timeout: 30 * time.Second},
				Remote: Remote{
					Host:            "imap.example.org",
					Port:            1993,
					TLS:             TLSStartTLS,
					User:            "me@example.org",
					PasswordCommand: "pass show mail",
					MaxConnections:  8,
					Folders:         []string{"*", "!Spam"},
					Filter:          mustFilter(t, "*", "!Spam"),
					FolderMap:       map[string]string{"[Gmail]/Sent Mail": "Sent"},
					Readonly:        true,
					SyncDeletes:     false,
					Expunge:         false,
					Timeout:         2 * time.Minute,
					origin:          origin{file: file, account: "personal", line: 29},
				},
				Local: Local{
					Path:   "/home/u/Mail/personal",
					Layout: LayoutMaildirPP, FolderNames: FolderNamesUTF8,
				},
			},
			"work": {
				Name:     "work",
				MaxAge:   MaxAge{text: "2024-01-31", year: 2024, month: time.January, day: 31},
				Schedule: Schedule{Autorefresh: 10 * time.Minute, IdleFolders: []string{"INBOX"}, Keepalive: DefaultKeepalive},
				Hooks:    Hooks{Postsync: "notmuch new", Timeout: 30 * time.Second},
				Remote: Remote{
					Host:           "mail.work.example",
					Port:           993,
					TLS:            TLSImplicit,
					User:           "me",
					PasswordFile:   "/home/u/.mailpass",
					MaxConnections: 4,
					Folders:        []string{"*"},
					Filter:         mustFilter(t, "*"),
					SyncDeletes:    true,
					Expunge:        true,
					Timeout:        60 * time.Second,
					Compress:       true,
					origin:         origin{file: file, account: "work", line: 52},
				},
				Local: Local{
					Path:   "/srv/mail/work",
					Layout: LayoutFS, FolderNames: FolderNamesUTF8,
					SyncDeletes: true,
					Fsync:       true,
				},
			},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse mismatch\n got: %s\nwant: %s", dump(cfg), dump(want))
	}
	if got := cfg.AccountNames(); !reflect.DeepEqual(got, []string{"personal", "work"}) {
		t.Errorf("AccountNames() = %v", got)
	}
}

func dump(c *Config) string {
	s := fmt.Sprintf("%+v", c.General)
	for _, n := range c.AccountNames() {
		s += fmt.Sprintf("\n  %s: %+v", n, *c.Accounts[n])
	}
	return s
}

// TestDefaults checks each default against a minimal account.
func TestDefaults(t *testing.T) {
	const minimal = `
[accounts.a.remote]
host = "h"
user = "u"
password = "p"
%s
[accounts.a.local]
path = "/m"
`
	tests := []struct {
		name  string
		extra string
		env   Env
		check func(t *testing.T, c *Config)
	}{
		{"state_dir from XDG_STATE_HOME", "", testEnv("HOME", "/home/u", "XDG_STATE_HOME", "/xdg/state"), func(t *testing.T, c *Config) {
			eq(t, c.General.StateDir, "/xdg/state/mailsync")
		}},
		{"state_dir from HOME", "", testEnv("HOME", "/home/u"), func(t *testing.T, c *Config) {
			eq(t, c.General.StateDir, "/home/u/.local/state/mailsync")
		}},
		{"relative XDG_STATE_HOME ignored", "", testEnv("HOME", "/home/u", "XDG_STATE_HOME", "rel"), func(t *testing.T, c *Config) {
			eq(t, c.General.StateDir, "/home/u/.local/state/mailsync")
		}},
		{"max_sync_accounts", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			eq(t, c.General.MaxSyncAccounts, 2)
		}},
		{"schedule and hooks", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			a := c.Accounts["a"]
			eq(t, a.Schedule.Autorefresh, 5*time.Minute)
			eq(t, a.Schedule.Quick, 0)
			eq(t, len(a.Schedule.IdleFolders), 0)
			eq(t, a.Schedule.WatchLocal, false)
			eq(t, a.Schedule.Keepalive, 10*time.Minute)
			eq(t, a.Schedule.Jitter, time.Duration(0))
			eq(t, a.Hooks, Hooks{Timeout: 60 * time.Second})
		}},
		{"port implicit", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			r := c.Accounts["a"].Remote
			eq(t, r.TLS, TLSImplicit)
			eq(t, r.Port, 993)
		}},
		{"port starttls", `tls = "starttls"`, testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			eq(t, c.Accounts["a"].Remote.Port, 143)
		}},
		{"port none", "tls = \"none\"\nallow_plaintext = true", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			eq(t, c.Accounts["a"].Remote.Port, 143)
			eq(t, c.Accounts["a"].Remote.AllowPlaintext, true)
		}},
		{"remote defaults", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			r := c.Accounts["a"].Remote
			eq(t, r.MaxConnections, 4)
			eq(t, r.Timeout, 60*time.Second)
			eq(t, strings.Join(r.Folders, ","), "*")
			eq(t, r.Filter.Match("Archive/2024"), true)
			eq(t, r.Readonly, false)
			eq(t, r.SyncDeletes, true)
			eq(t, r.Expunge, true)
			eq(t, len(r.FolderMap), 0)
			eq(t, r.MapToLocal("x"), "x")
		}},
		{"local defaults", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			l := c.Accounts["a"].Local
			eq(t, l.Layout, LayoutFS)
			eq(t, l.Readonly, false)
			eq(t, l.SyncDeletes, true)
			eq(t, l.Fsync, true)
		}},
		{"account defaults", "", testEnv("HOME", "/h"), func(t *testing.T, c *Config) {
			a := c.Accounts["a"]
			eq(t, a.Name, "a")
			eq(t, a.MaxAge.IsZero(), true)
			eq(t, a.MaxSize, int64(0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimal, "%s", tt.extra, 1)
			c, err := Parse("", []byte(src), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseValues(t *testing.T) {
	base := func(account, remote, local string) string {
		return "[accounts.a]\n" + account + "\n[accounts.a.remote]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n" +
			remote + "\n[accounts.a.local]\npath = \"/m\"\n" + local
	}
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, a *Account)
	}{
		{"max_size int", base("max_size = 1048576", "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxSize, int64(1<<20)) }},
		{"max_size string int", base(`max_size = "1000"`, "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxSize, int64(1000)) }},
		{"max_size MiB", base(`max_size = "10MiB"`, "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxSize, int64(10<<20)) }},
		{"max_size 0", base(`max_size = 0`, "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxSize, int64(0)) }},
		{"max_age empty", base(`max_age = ""`, "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxAge.IsZero(), true) }},
		{"max_age weeks", base(`max_age = "2w"`, "", ""), func(t *testing.T, a *Account) { eq(t, a.MaxAge.String(), "2w") }},
		{"max_age quoted date", base(`max_age = "2024-01-31"`, "", ""), func(t *testing.T, a *Account) {
			eq(t, a.MaxAge, MaxAge{text: "2024-01-31", year: 2024, month: 1, day: 31})
		}},
		{"local path cleaned", strings.Replace(base("", "", ""), `"/m"`, `"/m//x/../y/"`, 1), func(t *testing.T, a *Account) {
			eq(t, a.Local.Path, "/m/y")
		}},
		{"folder_map multi-line inline table", base("", "folder_map = {\n  \"A\" = \"B\", # comment\n  'C/D' = \"E/F\",\n}", ""), func(t *testing.T, a *Account) {
			eq(t, a.Remote.MapToLocal("C/D"), "E/F")
			eq(t, a.Remote.MapToLocal("A"), "B")
		}},
		{"folder_map as table", base("", "[accounts.a.remote.folder_map]\n\"INBOX/x\" = \"x\"", ""), func(t *testing.T, a *Account) {
			eq(t, a.Remote.MapToLocal("INBOX/x"), "x")
		}},
		{"dotted keys", "accounts.a.remote.host = \"h\"\naccounts.a.remote.user = \"u\"\naccounts.a.remote.password = \"p\"\naccounts.a.local.path = \"/m\"\n",
			func(t *testing.T, a *Account) { eq(t, a.Remote.Host, "h") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("x.toml", []byte(tt.src), testEnv("HOME", "/h"))
			if err != nil {
				t.Fatalf("%v\nsource:\n%s", err, tt.src)
			}
			tt.check(t, c.Accounts["a"])
		})
	}
}

func TestErrorsType(t *testing.T) {
	src := "[accounts.a.remote]\nhost = \"h\"\nport = 0\n"
	_, err := Parse("f.toml", []byte(src), testEnv("HOME", "/h"))
	if err == nil {
		t.Fatal("no error")
	}
	var es Errors
	if !errors.As(err, &es) || len(es) < 2 {
		t.Fatalf("want Errors with several entries, got %T %v", err, err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal("errors.As(*Error) failed")
	}
	if e != es[0] {
		t.Errorf("errors.As gave %v, want the first error %v", e, es[0])
	}
	if e.Account != "a" || e.File != "f.toml" || e.Line == 0 {
		t.Errorf("first error lacks location: %+v", e)
	}
	if got, want := err.Error(), strings.Join([]string{es[0].Error(), es[1].Error()}, "\n"); !strings.HasPrefix(got, want) {
		t.Errorf("Errors.Error() = %q, want it to start with %q", got, want)
	}
}

func TestErrorRendering(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "/c.toml", Line: 12, Key: "accounts.p.remote.port", Msg: "bad"}, "/c.toml:12: accounts.p.remote.port: bad"},
		{Error{File: "/c.toml", Key: "accounts", Msg: "none"}, "/c.toml: accounts: none"},
		{Error{File: "/c.toml", Line: 3, Msg: "syntax"}, "/c.toml:3: syntax"},
		{Error{Line: 3, Key: "k", Msg: "m"}, "line 3: k: m"},
		{Error{Key: "k", Msg: "m"}, "k: m"},
		{Error{Key: "k", Err: fs.ErrNotExist}, "k: file does not exist"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{[]string{"accounts", "p", "remote"}, "accounts.p.remote"},
		{[]string{"accounts", "my acct"}, `accounts."my acct"`},
		{[]string{"folder_map", "[Gmail]/Sent \"Mail\"\\"}, `folder_map."[Gmail]/Sent \"Mail\"\\"`},
		{[]string{"a.b", ""}, `"a.b".""`},
		{[]string{"\x00\n"}, `"\u0000\n"`},
	}
	for _, tt := range tests {
		if got := keyString(tt.path); got != tt.want {
			t.Errorf("keyString(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ key, want string }{
		{"hots", "host"},
		{"Host", "host"},
		{"pasword", "password"},
		{"passwd", "password"},
		{"max_conections", "max_connections"},
		{"xyz", ""},
		{"folder", "folders"},
		{"timeout", "timeout"},
		{strings.Repeat("a", 100), ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, remoteKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	eq(t, DefaultPath(testEnv("HOME", "/home/u")), "/home/u/.config/mailsync/config.toml")
	eq(t, DefaultPath(testEnv("HOME", "/home/u", "XDG_CONFIG_HOME", "/cfg")), "/cfg/mailsync/config.toml")
	eq(t, DefaultPath(testEnv("HOME", "/home/u", "XDG_CONFIG_HOME", "rel")), "/home/u/.config/mailsync/config.toml")
	eq(t, DefaultPath(testEnv()), ".config/mailsync/config.toml")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, testEnv("HOME", "/home/u"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, c.Path, path)
	eq(t, len(c.Accounts), 2)

	missing := filepath.Join(dir, "nope.toml")
	_, err = Load(missing, testEnv("HOME", "/home/u"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	eq(t, err.Error(), missing+": cannot read config file: no such file or directory")
}

func TestStateDirWithoutHome(t *testing.T) {
	src := "[accounts.a.remote]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n[accounts.a.local]\npath = \"/m\"\n"
	_, err := Parse("c.toml", []byte(src), testEnv())
	eq(t, errString(err), "c.toml: general.state_dir: has no default because neither XDG_STATE_HOME nor HOME is set to an absolute path; set it explicitly")
	c, err := Parse("c.toml", []byte("[general]\nstate_dir = \"/s\"\n"+src), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	eq(t, c.General.StateDir, "/s")
	_, err = Parse("c.toml", []byte("[general]\nstate_dir = 5\n"+src), testEnv())
	eq(t, errString(err), "c.toml:2: general.state_dir: must be a string, not an integer")
	_, err = Parse("c.toml", []byte("general = 5\n"+src), testEnv())
	eq(t, errString(err), "c.toml:1: general: must be a table, not an integer")
	_, err = Parse("c.toml", []byte(strings.Replace(src, `"/m"`, `"~/m"`, 1)), testEnv("XDG_STATE_HOME", "/x"))
	eq(t, errString(err), `c.toml:6: accounts.a.local.path: cannot expand "~": HOME is not set to an absolute path`)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestXDGBase(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/x/state"},
		{map[string]string{"XDG_STATE_HOME": "rel/state", "HOME": "/home/u"}, "/home/u/.local/state"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state"},
		{map[string]string{"XDG_STATE_HOME": "rel", "HOME": "rel"}, ""},
		{map[string]string{}, ""},
	} {
		env := func(k string) string { return tc.env[k] }
		if got := XDGBase(env, "XDG_STATE_HOME", ".local/state"); got != tc.want {
			t.Errorf("XDGBase(%v) = %q; want %q", tc.env, got, tc.want)
		}
	}
}
