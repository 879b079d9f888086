// Package config loads and validates mailsync's TOML configuration.
//
// It owns the schema, the defaults and every check that can be made without
// touching the network or the mail store, so that the rest of mailsync can
// trust a *Config blindly: a Config returned without error has every default
// filled in, every path expanded and absolute, and every enumerated value
// checked. Bad input is reported as Errors, a list of *Error values that each
// name the file, the line, the full key (accounts.NAME...) and the account, so
// that a user can go straight to the offending line.
//
// The file is first parsed into a generic tree and then walked by hand rather
// than decoded into tagged structs: the reflection decoder stops at the first
// type mismatch and words its messages in Go terms, whereas a user fixing a
// config file wants every problem at once, in file order, in TOML terms.
package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"time"
)

// Config is a fully validated configuration with all defaults applied.
type Config struct {
	Path     string // file it was loaded from ("" if parsed from bytes without a path)
	General  General
	Accounts map[string]*Account
}

// AccountNames returns the account names in sorted order, so that anything
// iterating over accounts (logs, status output, scheduling) is deterministic.
func (c *Config) AccountNames() []string {
	names := make([]string, 0, len(c.Accounts))
	for name := range c.Accounts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// General holds the [general] table.
type General struct {
	StateDir        string // absolute, expanded
	MaxSyncAccounts int
	// Schedule and Hooks are the defaults of every account's own keys.
	Schedule Schedule
	Hooks    Hooks
	// FailureHook (sh -c) runs when a systemd unit of mailsync fails
	// (`mailsync failure-report`), with Hooks.Timeout.
	FailureHook string
	// Mailboxes is the list of local folders written for mail clients.
	Mailboxes Mailboxes
}

// Account is one [accounts.NAME] table.
type Account struct {
	Name     string
	MaxAge   MaxAge
	MaxSize  int64 // bytes; 0 = no limit
	Schedule Schedule
	Hooks    Hooks
	Remote   Remote
	Local    Local
}

// Schedule is how the daemon keeps an account in sync: the keys
// autorefresh, quick, idle_folders, watch_local, keepalive and jitter of
// [accounts.NAME], each defaulting to the same key in [general]. One-shot
// runs ignore it.
type Schedule struct {
	Autorefresh time.Duration // between syncs
	// Quick is the number of quick syncs between full ones: 0 never
	// quick, -1 always quick.
	Quick       int
	IdleFolders []string // canonical remote names, held in IMAP IDLE
	WatchLocal  bool     // sync a folder soon after a local change
	// Keepalive bounds how long a held connection goes without a NOOP or
	// a fresh IDLE.
	Keepalive time.Duration
	Jitter    time.Duration // random delay added to each scheduled sync
}

// Hooks are shell commands (sh -c) run around an account's syncs, in the
// daemon and in one-shot runs: presync_hook, postsync_hook, newmail_hook
// and hook_timeout, each defaulting to the same key in [general].
type Hooks struct {
	Presync, Postsync, Newmail string // "" for none
	Timeout                    time.Duration
}

// TLSMode selects how the IMAP connection is secured.
type TLSMode string

// TLS modes accepted in accounts.NAME.remote.tls.
const (
	TLSImplicit TLSMode = "implicit"
	TLSStartTLS TLSMode = "starttls"
	TLSNone     TLSMode = "none"
)

// Remote is the [accounts.NAME.remote] table: the IMAP side.
type Remote struct {
	Host           string
	Port           int
	TLS            TLSMode
	AllowPlaintext bool
	User           string

	// Exactly one of these is set in a Config returned by Load or Parse; see
	// GetPassword.
	Password, PasswordCommand, PasswordFile string

	MaxConnections int
	Folders        []string
	Filter         *FolderFilter // compiled from Folders
	FolderMap      map[string]string

	Readonly, SyncDeletes, Expunge bool
	Timeout                        time.Duration
	// Compress asks the server for COMPRESS=DEFLATE when it offers it.
	Compress bool

	// CAFile holds extra PEM roots, trusted beside the system's.
	CAFile string
	// Fingerprints pin certificates by the SHA-256 of their DER: with any
	// set, a chain that contains one of them is trusted, and nothing else.
	Fingerprints [][32]byte
	// TLSServerName is the name the certificate must carry; "" is Host.
	TLSServerName string

	// AuthMechanisms are the SASL mechanisms the account may use, best
	// first (upper case): the first the server offers is used. nil means
	// mailsync's order among those the credentials fit.
	AuthMechanisms []string
	// Provider is a known service (ProviderGmail, ProviderOutlook) whose
	// host, token endpoint and folder defaults fill in unset keys.
	Provider string
	// OAuth2, when set, is how the account logs in instead of a password.
	OAuth2 *OAuth2

	// origin lets GetPassword, which runs long after loading, still point at
	// the config line the failing password source came from.
	origin origin
}

// OAuth2 is where an account's OAuth2 access token comes from: either
// TokenCommand, which prints one (oama, pizauth, gcloud), or the built-in
// refresh, which trades a refresh token for access tokens at TokenURL.
type OAuth2 struct {
	TokenCommand string

	ClientID string
	// At most one of each pair is set; a public client has no secret.
	ClientSecret, ClientSecretCommand string
	RefreshToken, RefreshTokenCommand string
	TokenURL                          string
}

// Providers accepted in accounts.NAME.remote.provider.
const (
	ProviderGmail   = "gmail"
	ProviderOutlook = "outlook"
)

// origin records where a Remote was defined. It is unexported so that
// Remotes built by hand (in other packages' tests) remain plain literals.
type origin struct {
	file    string
	account string
	line    int // line of the password source key
	// lines of the oauth2_* keys, for errors from their commands
	oauth2Lines map[string]int
}

// Layout selects how local folder names map to directories.
type Layout string

// Layouts accepted in accounts.NAME.local.layout.
const (
	LayoutFS        Layout = "fs"
	LayoutMaildirPP Layout = "maildir++"
	// LayoutDotted is offlineimap's default (sep = "."): "A/B" at PATH/A.B.
	LayoutDotted Layout = "dotted"
	// LayoutMbsyncLegacy is mbsync's "SubFolders Legacy": "A/B/C" at
	// PATH/A/.B/.C.
	LayoutMbsyncLegacy Layout = "mbsync-legacy"
)

// FolderNames selects how non-ASCII folder names are written on disk.
type FolderNames string

// Folder name encodings accepted in accounts.NAME.local.folder_names.
const (
	// FolderNamesUTF8 writes them as they read ("Entwürfe").
	FolderNamesUTF8 FolderNames = "utf8"
	// FolderNamesIMAPUTF7 keeps IMAP's modified UTF-7 ("Entw&APw-rfe"), as
	// offlineimap and mbsync 1.4 do by default.
	FolderNamesIMAPUTF7 FolderNames = "imap-utf7"
)

// Tools accepted in accounts.NAME.local.previous_tool.
const (
	PreviousOfflineimap = "offlineimap"
	PreviousMbsync      = "mbsync"
)

// Local is the [accounts.NAME.local] table: the Maildir side.
type Local struct {
	Path        string // absolute, expanded, cleaned
	Layout      Layout
	FolderNames FolderNames
	// PreviousTool is the tool that kept this Maildir before mailsync
	// (PreviousOfflineimap, PreviousMbsync, or ""), and PreviousState where
	// its state is: offlineimap's account directory
	// (~/.offlineimap/Account-NAME), or mbsync's SyncState directory ("":
	// in each folder). A folder's first sync takes the flags it recorded
	// as the base of the merge, and never rewrites them.
	PreviousTool  string
	PreviousState string
	Readonly      bool
	SyncDeletes   bool
	Fsync         bool
}

// Env abstracts the environment for tests: it is asked for "HOME",
// "XDG_STATE_HOME" and "XDG_CONFIG_HOME". A nil Env means os.Getenv.
type Env func(key string) string

func (e Env) get(key string) string {
	if e == nil {
		return os.Getenv(key)
	}
	return e(key)
}

// Defaults. They are named so that documentation, tests and callers that
// build a Remote by hand agree with the loader.
const (
	DefaultMaxSyncAccounts = 2
	DefaultMaxConnections  = 4
	DefaultTimeout         = 60 * time.Second
	DefaultPortImplicit    = 993
	DefaultPortPlain       = 143
	DefaultAutorefresh     = 5 * time.Minute
	MinAutorefresh         = time.Second
	DefaultKeepalive       = 10 * time.Minute
	// MaxKeepalive: RFC 9051 lets a server log out a client that has been
	// idle for 30 minutes; a NOOP or a fresh IDLE must come before that.
	// keepalive must be under it.
	MaxKeepalive       = 29 * time.Minute
	DefaultHookTimeout = 60 * time.Second
)

// DefaultSchedule and DefaultHooks are what an account gets when neither
// its table nor [general] sets a key.
func DefaultSchedule() Schedule {
	return Schedule{Autorefresh: DefaultAutorefresh, Keepalive: DefaultKeepalive}
}

func DefaultHooks() Hooks { return Hooks{Timeout: DefaultHookTimeout} }

// DefaultPath returns $XDG_CONFIG_HOME/mailsync/config.toml, with
// XDG_CONFIG_HOME defaulting to $HOME/.config. As the XDG base directory
// spec requires, a relative XDG_CONFIG_HOME is ignored. If HOME is unset
// too, the result is relative (".config/mailsync/config.toml"), which
// still produces a sensible "cannot read" error naming the file.
func DefaultPath(env Env) string {
	base := env.get("XDG_CONFIG_HOME")
	if !filepath.IsAbs(base) {
		base = filepath.Join(env.get("HOME"), ".config")
	}
	return filepath.Join(base, "mailsync", "config.toml")
}

// DefaultStateDir is state_dir when the config does not set it:
// $XDG_STATE_HOME/mailsync, or ~/.local/state/mailsync; "" means neither
// XDG_STATE_HOME nor HOME is usable.
func DefaultStateDir(env Env) string {
	base := XDGBase(env, "XDG_STATE_HOME", ".local/state")
	if base == "" {
		return ""
	}
	return filepath.Join(base, "mailsync")
}

// XDGBase is an XDG base directory: the variable when it holds an absolute
// path (the spec says to ignore a relative one), else homeRel under $HOME
// (".config" for XDG_CONFIG_HOME); "" when HOME is not absolute either.
func XDGBase(env Env, variable, homeRel string) string {
	if base := env.get(variable); filepath.IsAbs(base) {
		return base
	}
	if home := env.get("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, homeRel)
	}
	return ""
}

// Load reads and parses the file at path. On failure the error is always of
// type Errors; errors.Is(err, fs.ErrNotExist) reports a missing file.
func Load(path string, env Env) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The path is already in the rendered prefix; don't repeat it.
			msg = pe.Err.Error()
		}
		return nil, Errors{{File: path, Msg: "cannot read config file: " + msg, Err: err}}
	}
	return Parse(path, data, env)
}

// Parse parses and validates data as if read from path; path is used only
// in messages and Config.Path. On failure the error is always of type
// Errors, holding every problem found, in file order.
func Parse(path string, data []byte, env Env) (*Config, error) {
	d := newDecoder(path, data, env)
	cfg := d.decode()
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return cfg, nil
}

// SameAs reports whether a and b configure the account identically,
// wherever in their files they were written: a daemon reloading its
// configuration restarts only the accounts that changed.
func (a *Account) SameAs(b *Account) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Remote.origin, y.Remote.origin = origin{}, origin{}
	return reflect.DeepEqual(x, y)
}
