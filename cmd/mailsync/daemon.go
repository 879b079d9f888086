package main

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/control"
	"mailsync/internal/signals"
)

func newDaemonCmd(r *rootCmd) *cobra.Command {
	var accts []string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Keep accounts in sync until stopped",
		Long: `Daemon keeps the accounts in sync until a signal stops it: a sync at start,
then every autorefresh, and at once when IDLE reports a change on the server
or watch_local one in the Maildir. It is the scheduler for hosts without
systemd, and the Type=notify service of the systemd units.

Signals: SIGUSR1 syncs every account now; SIGUSR2 and SIGABRT finish the
syncs in progress and exit 0; SIGTERM and SIGINT stop within 5 s; SIGHUP
reloads the configuration (a broken one is logged and the old one kept).

` + "`mailsync sync`" + ` asks a running daemon to sync its accounts, over the control
socket in $XDG_RUNTIME_DIR/mailsync (or state_dir).

Exit codes: 0 stopped by SIGUSR2 or SIGABRT; 2 usage or config error; 75
another daemon serves these accounts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := r.accountsConfig(accts)
			if err != nil {
				return err
			}
			ln, err := controlListener(cfg, accts)
			if err != nil {
				code := exitFailed
				if errors.Is(err, control.ErrInUse) {
					code = exitLocked
				}
				return &exitError{code, err}
			}
			sig := signals.Handle(r.log)
			defer sig.Done()
			return accounts.Serve(sig.Ctx, accounts.ServeOptions{
				DaemonOptions: accounts.DaemonOptions{Config: cfg, Accounts: accts, Log: r.log, Finish: sig.Finish},
				SyncNow:       sig.SyncNow,
				Reload:        sig.Reload,
				LoadConfig:    r.readConfig,
				Control:       ln,
			})
		},
	}
	cmd.Flags().StringSliceVarP(&accts, "account", "a", nil, "serve only these accounts (comma-separated)")
	return cmd
}

// controlListener is the socket systemd passed (socket activation), or a
// new one in the first of control.Dirs.
func controlListener(cfg *config.Config, accts []string) (net.Listener, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, err
	}
	for _, ln := range lns {
		if ln != nil {
			return ln, nil
		}
	}
	dir := control.Dirs(os.Getenv("XDG_RUNTIME_DIR"), cfg.General.StateDir)[0]
	return control.ListenFor(context.Background(), dir, accts, cfg.General.StateDir)
}

// controlDirs are where `mailsync sync` and `mailsync status` look for
// running daemons.
func controlDirs(cfg *config.Config) []string {
	return control.Dirs(os.Getenv("XDG_RUNTIME_DIR"), cfg.General.StateDir)
}
