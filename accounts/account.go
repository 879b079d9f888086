// Package accounts owns an account's life: opening it, running one sync
// cycle of it (hooks, lock, connection, engine, record), and, in the
// daemon, the loop that keeps it in sync and the scheduler that runs the
// loops. The one-shot command runs one cycle of each account; the daemon
// keeps the accounts open and runs cycles as its triggers fire.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	gosync "sync"
	"syscall"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/oauth"
	"mailsync/internal/remote"
	"mailsync/internal/state"
	msync "mailsync/sync"
)

// DialFunc opens a logged-in connection to acct's server; tests and the
// demo replace the real one.
type DialFunc func(ctx context.Context, acct *config.Account) (msync.Remote, error)

// OpenOptions shape an opened account.
type OpenOptions struct {
	Log zerolog.Logger
	// Dial replaces how the engine's connections are made (tests).
	Dial DialFunc
	// Activity is called whenever bytes move on one of the engine's
	// connections (see remote.Options.Activity); not on held ones.
	Activity func()
	// HookRunning is called with true when a hook starts and false when it
	// has ended.
	HookRunning func(bool)
}

// Account is an opened account: its configuration, its state store and
// its password, the last two fetched on first use and kept until Close,
// so that a daemon runs password_command once, not once per connection of
// every sync. An OAuth2 account keeps its access token instead, until
// shortly before it expires (internal/oauth).
type Account struct {
	cfg         *config.Account
	stateDir    string
	log         zerolog.Logger // with the account field
	engineLog   zerolog.Logger // without: the engine adds it
	dial        DialFunc
	activity    func()
	hookRunning func(bool)
	traceConns  connCounter // numbers the traced connections (trace.go)

	mu       gosync.Mutex
	store    *state.Store
	storeID  fileID
	password string // "" until fetched

	tokens *oauth.Source // nil without OAuth2

	// mailboxes is the config whose mailboxes_file each sync rewrites
	// (mailboxes.go); nil without one.
	mailboxes *config.Config
}

// Open prepares account name of cfg. It touches nothing on disk or on the
// network: the state is opened by the first cycle, under the lock.
func Open(cfg *config.Config, name string, o OpenOptions) (*Account, error) {
	acct, ok := cfg.Accounts[name]
	if !ok {
		return nil, fmt.Errorf("no account %q in %s (have: %v)", name, cfg.Path, cfg.AccountNames())
	}
	return &Account{
		cfg: acct, stateDir: cfg.General.StateDir, dial: o.Dial, activity: o.Activity, hookRunning: o.HookRunning,
		log:       o.Log.With().Str("account", name).Logger(),
		engineLog: o.Log,
		tokens:    TokenSource(&acct.Remote),
		mailboxes: mailboxesConfig(cfg),
	}, nil
}

// Name is the account's name.
func (a *Account) Name() string { return a.cfg.Name }

// Config is the account's configuration.
func (a *Account) Config() *config.Account { return a.cfg }

// Close closes the account's state store.
func (a *Account) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store == nil {
		return nil
	}
	err := a.store.Close()
	a.store = nil
	return err
}

// statePath is the account's state database.
func (a *Account) statePath() string { return filepath.Join(a.stateDir, a.cfg.Name+".db") }

// lockPath is the account's lock file.
func (a *Account) lockPath() string { return filepath.Join(a.stateDir, a.cfg.Name+".lock") }

// fileID tells one file from another at the same path.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, errors.New("no inode number")
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, nil
}

// Store returns the account's state store, opening it on first use. A
// store whose file was removed or replaced since (the user started the
// account afresh, as a safety stop's message may advise) is opened again:
// records written to a deleted file would be lost.
func (a *Account) Store(ctx context.Context) (*state.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	path := a.statePath()
	if a.store != nil {
		if id, err := statID(path); err == nil && id == a.storeID {
			return a.store, nil
		}
		a.log.Warn().Str("state", path).Msg("the state file was removed or replaced; opening it again")
		a.store.Close()
		a.store = nil
	}
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state_dir: %w", err)
	}
	st, err := state.Open(ctx, path, a.cfg.Local.Fsync)
	if err != nil {
		return nil, err
	}
	id, err := statID(path)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	a.store, a.storeID = st, id
	return st, nil
}

// getPassword returns the password, fetching it from the configured
// source on first use.
func (a *Account) getPassword(ctx context.Context) (string, error) {
	a.mu.Lock()
	pw := a.password
	a.mu.Unlock()
	if pw != "" {
		return pw, nil
	}
	pw, err := a.cfg.Remote.GetPassword(ctx)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.password = pw
	a.mu.Unlock()
	return pw, nil
}

// forgetPassword drops the kept password after the server refused it, so
// that the next login asks its source again: the user may have changed it.
func (a *Account) forgetPassword() {
	a.mu.Lock()
	a.password = ""
	a.mu.Unlock()
}

// remoteOptions is how to reach and log in to the account's server.
func (a *Account) remoteOptions() remote.Options {
	return RemoteOptions(&a.cfg.Remote, a.getPassword, a.tokens)
}

// RemoteOptions is how to reach and log in to r's server: with the
// password from password, or, when r has OAuth2, a token from tokens.
func RemoteOptions(r *config.Remote, password func(context.Context) (string, error), tokens *oauth.Source) remote.Options {
	o := remote.Options{
		Host: r.Host, Port: r.Port, TLS: remote.TLSMode(r.TLS), User: r.User,
		Password: password, Timeout: r.Timeout,
		CAFile: r.CAFile, Fingerprints: r.Fingerprints, ServerName: r.TLSServerName,
		Mechanisms: r.AuthMechanisms, Compress: r.Compress,
	}
	if r.OAuth2 != nil && tokens != nil {
		o.Password, o.Token = nil, tokens.Token
	}
	return o
}

// TokenSource is where r's OAuth2 access tokens come from: its
// oauth2_token_command, or the built-in refresh at its token endpoint.
// nil when r logs in with a password.
func TokenSource(r *config.Remote) *oauth.Source {
	switch {
	case r.OAuth2 == nil:
		return nil
	case r.OAuth2.TokenCommand != "":
		return oauth.NewCommand(r.OAuth2Token, nil)
	}
	return oauth.NewRefresh(oauth.RefreshConfig{
		TokenURL: r.OAuth2.TokenURL, ClientID: r.OAuth2.ClientID,
		ClientSecret: r.OAuth2ClientSecret, RefreshToken: r.OAuth2RefreshToken,
		// The server's timeout suits its provider's token endpoint too.
		Timeout: r.Timeout,
	})
}

// dialRemote opens a connection for the engine; its traffic is the
// cycle's progress.
func (a *Account) dialRemote(ctx context.Context) (msync.Remote, error) {
	return a.dialAhead(ctx, nil)
}

// firstAhead is what the engine gives the first connection to send
// behind its login (sync.Options.DialAhead): the first round, and the
// SELECT next names, if it names one.
type firstAhead struct {
	round remote.Ahead
	next  msync.NextAhead
}

// dialFirst is dialRemote for the engine's first connection, which sends
// behind its login what ahead delivers; nothing if ahead is closed empty.
func (a *Account) dialFirst(ctx context.Context, ahead <-chan firstAhead) (msync.Remote, error) {
	return a.dialAhead(ctx, func(ctx context.Context) (remote.Ahead, bool) {
		select {
		case f, ok := <-ahead:
			if !ok {
				return remote.Ahead{}, false
			}
			r := f.round
			if s, ok := f.next(ctx); ok {
				r.Select = s.Select
			}
			return r, true
		case <-ctx.Done():
			return remote.Ahead{}, false
		}
	})
}

// dialAhead is dialRemote, sending behind the login what ahead gives
// (remote.Options.Ahead).
func (a *Account) dialAhead(ctx context.Context, ahead func(context.Context) (remote.Ahead, bool)) (msync.Remote, error) {
	if a.dial != nil {
		return a.dial(ctx, a.cfg)
	}
	o := a.remoteOptions()
	o.Activity = a.activity
	o.Ahead = ahead
	o.QResync = true
	c, err := a.dialWith(ctx, o)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialConn opens a logged-in connection to the account's server, to hold
// (IDLE): its traffic says nothing of a sync's progress.
func (a *Account) DialConn(ctx context.Context) (*remote.Conn, error) {
	o := a.remoteOptions()
	// A held connection carries little, and a compressor's memory would
	// stay with it for as long as it is held.
	o.Compress = false
	return a.dialWith(ctx, o)
}

func (a *Account) dialWith(ctx context.Context, o remote.Options) (*remote.Conn, error) {
	// The token this login presented, to forget if the server refuses it.
	var used string
	if get := o.Token; get != nil {
		o.Token = func(ctx context.Context) (string, error) {
			t, err := get(ctx)
			used = t
			return t, err
		}
	}
	c, err := remote.Dial(ctx, a.traced(o))
	if errors.Is(err, remote.ErrAuth) {
		a.forgetPassword()
		if a.tokens != nil && used != "" {
			a.tokens.Forget(used)
		}
	}
	return c, err
}

// Dial opens a connection to acct's server, fetching the password or token
// from its source. Tests wrap it; an opened Account keeps its password or
// token instead.
func Dial(ctx context.Context, acct *config.Account) (msync.Remote, error) {
	c, err := remote.Dial(ctx, RemoteOptions(&acct.Remote, acct.Remote.GetPassword, TokenSource(&acct.Remote)))
	if err != nil {
		return nil, err
	}
	return c, nil
}
