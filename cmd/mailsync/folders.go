package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"mailsync/accounts"
)

func newFoldersCmd(r *rootCmd) *cobra.Command {
	var (
		acct   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "folders -a ACCOUNT",
		Short: "List an account's server and local folders side by side",
		Long: `Folders lists the account's server folders and local folders side by side,
paired as a sync pairs them (folders patterns, folder_map, layout), with
each side's message count and the folder's sync status as the state
records it: synced, failed, stopped (a safety stop), never-synced,
excluded, or unmappable. It changes nothing.

--json prints one JSON document (docs/json.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := r.accountsConfig([]string{acct})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rows, err := accounts.ListFolders(ctx, cfg, acct, r.log)
			if err != nil {
				return &exitError{exitFailed, err}
			}
			if asJSON {
				return accounts.WriteFoldersJSON(r.stdout, acct, rows)
			}
			accounts.WriteFoldersText(r.stdout, rows)
			return nil
		},
	}
	cmd.Flags().StringVarP(&acct, "account", "a", "", "the account")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document on stdout")
	_ = cmd.MarkFlagRequired("account")
	return cmd
}
