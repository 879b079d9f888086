package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/internal/control"
)

func newStatusCmd(r *rootCmd) *cobra.Command {
	var (
		accts  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each account's last sync, and a running daemon's view",
		Long: `Status shows, per account, the last sync and its result as recorded in the
state (by one-shot runs and the daemon alike), and, when a daemon serves
the account, what it is doing and when it syncs next. Folders held by a
safety stop (UIDVALIDITY, the mass-deletion guard, a vanished folder) are
listed with the command that resolves them.

--json prints {"daemon": bool, "accounts": [...]}; see the README.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := r.accountsConfig(accts)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			live := control.Find(ctx, controlDirs(cfg), cfg.General.StateDir)
			rs, err := accounts.ReadStatus(ctx, cfg, accts, live)
			if err != nil {
				return &exitError{exitFailed, err}
			}
			if asJSON {
				return accounts.WriteStatusJSON(r.stdout, rs)
			}
			accounts.WriteStatusText(r.stdout, rs, time.Now())
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&accts, "account", "a", nil, "only these accounts (comma-separated)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
