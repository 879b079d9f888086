package main

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/internal/logging"
	"mailsync/internal/progress"
	"mailsync/internal/signals"
	msync "mailsync/sync"
)

func newSyncCmd(r *rootCmd) *cobra.Command {
	var (
		accts, folders  []string
		dryRun, quick   bool
		allowMassDelete bool
		asJSON          bool
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
			// --json: one document on stdout at the end, and nothing else
			// there; a dry run's report goes to stderr.
			var summary, out io.Writer = r.stdout, r.stdout
			if r.logOpts.Quiet || asJSON {
				summary = nil
			}
			if asJSON {
				out = r.stderr
			}
			log := r.log
			var events func(msync.Event)
			// A dry run moves nothing and prints its report as it is
			// made; --json wants a quiet terminal: no bars.
			bars := r.progress(!r.logOpts.Quiet && !dryRun && !asJSON)
			if bars != nil {
				// Whatever else reaches the terminal while the bars
				// are drawn goes around them: log lines above them,
				// summary lines after them.
				defer bars.Stop()
				if l, err := logging.New(bars.Log(), r.logOpts); err == nil {
					log = l
				}
				events = bars.Event
				if summary != nil {
					summary = bars.Hold(summary)
				}
			}
			sig := signals.Handle(log)
			defer sig.Done()
			rs := accounts.Run(sig.Ctx, accounts.Options{
				Config:   cfg,
				Accounts: accts,
				Log:      log,
				Summary:  summary,
				Engine:   msync.Options{DryRun: dryRun, Stop: sig.Finish, Log: log, Out: out, Events: events},
				Request:  msync.Request{Folders: folders, Quick: quick, AllowMassDelete: allowMassDelete},
				// Accounts a running daemon serves are synced by it.
				ControlDirs: controlDirs(cfg),
			})
			if bars != nil {
				bars.Stop()
			}
			r.code = exitCode(rs)
			if asJSON {
				return accounts.WriteSyncJSON(r.stdout, rs, r.code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&accts, "account", "a", nil, "sync only these accounts (comma-separated)")
	f.StringSliceVarP(&folders, "folder", "f", nil, "sync only these folders (comma-separated, server or local names)")
	f.BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
	f.BoolVar(&quick, "quick", false, "trust folder status and directory times; skip flag checks of unchanged folders")
	f.BoolVar(&allowMassDelete, "allow-mass-delete", false, "allow deleting more than half of a folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON document on stdout at the end (docs/json.md)")
	return cmd
}

// progress returns the live progress display for a sync, or nil: it is
// drawn only when wanted and stderr is a terminal, so that cron mail and
// the journal get no escape codes.
func (r *rootCmd) progress(wanted bool) *progress.Display {
	f, ok := r.stderr.(*os.File)
	if !wanted || !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return progress.New(f, progress.Options{})
}
