package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"mailsync/accounts"
)

func newCheckCmd(r *rootCmd) *cobra.Command {
	var (
		accts  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config, connect and log in, and show the folder mapping",
		Long: `Check validates the configuration, then, for each account (or those named
with -a), connects with TLS and logs in, and prints the TLS version, the
server certificate's subject, issuer, expiry and SHA-256 fingerprint, the
server's capabilities (marking those mailsync uses), and the folder
mapping, server name → local directory, after the folders patterns and
folder_map, marking excluded folders and local folders with no server
counterpart.

Each problem comes with what to change. Check changes nothing: it creates
no state file and no folder.

Exit codes: 0 no problem; 1 some problem found; 2 usage error (an unknown
account). --json prints one JSON document (docs/json.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := r.configFile()
			cfg, err := r.readConfig()
			var (
				cfgProblems []accounts.Problem
				reports     []accounts.CheckReport
			)
			if err != nil {
				cfgProblems = accounts.ConfigProblems(err)
			} else {
				if err := accounts.CheckNames(cfg, accts); err != nil {
					return &exitError{exitUsage, err}
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if reports, err = accounts.CheckAll(ctx, cfg, accts, r.log); err != nil {
					return &exitError{exitFailed, err}
				}
			}
			if !accounts.CheckOK(cfgProblems, reports) {
				r.code = exitFailed
			}
			if asJSON {
				return accounts.WriteCheckJSON(r.stdout, path, cfgProblems, reports)
			}
			accounts.WriteCheckText(r.stdout, path, cfgProblems, reports)
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&accts, "account", "a", nil, "only these accounts (comma-separated)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document on stdout")
	return cmd
}
