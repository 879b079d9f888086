package main

import (
	"io"

	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/internal/signals"
	msync "mailsync/sync"
)

func newSyncCmd(r *rootCmd) *cobra.Command {
	var (
		accts, folders  []string
		dryRun, quick   bool
		allowMassDelete bool
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Sync accounts once, then exit",
		Long: `Sync brings each configured account's IMAP folders and local Maildir into
agreement in both directions, then exits.

When a running daemon serves an account, the daemon syncs it, with a sync
that starts after this command did, and this command prints its summary
and exits as if it had synced the account itself.

Exit codes: 0 all accounts synced; 1 some account or folder failed (the
others still ran); 2 usage or config error; 75 another mailsync holds an
account's lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := r.accountsConfig(accts)
			if err != nil {
				return err
			}
			sig := signals.Handle(r.log)
			defer sig.Done()
			var summary io.Writer = r.stdout
			if r.logOpts.Quiet {
				summary = nil
			}
			rs := accounts.Run(sig.Ctx, accounts.Options{
				Config:   cfg,
				Accounts: accts,
				Log:      r.log,
				Summary:  summary,
				Engine:   msync.Options{DryRun: dryRun, Stop: sig.Finish, Log: r.log, Out: r.stdout},
				Request:  msync.Request{Folders: folders, Quick: quick, AllowMassDelete: allowMassDelete},
				// Accounts a running daemon serves are synced by it.
				ControlDirs: controlDirs(cfg),
			})
			r.code = exitCode(rs)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&accts, "account", "a", nil, "sync only these accounts (comma-separated)")
	f.StringSliceVarP(&folders, "folder", "f", nil, "sync only these folders (comma-separated, server or local names)")
	f.BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
	f.BoolVar(&quick, "quick", false, "trust folder status and directory times; skip flag checks of unchanged folders")
	f.BoolVar(&allowMassDelete, "allow-mass-delete", false, "allow deleting more than half of a folder")
	return cmd
}
