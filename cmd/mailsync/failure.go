package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"mailsync/accounts"
)

func newFailureReportCmd(r *rootCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "failure-report UNIT",
		Short: "Report a failed systemd unit (the units' OnFailure= handler)",
		Long: `Failure-report is what mailsync-failure@.service runs when a unit of
mailsync fails: it logs the failure, records it for ` + "`mailsync status`" + `,
and runs [general] failure_hook with MAILSYNC_UNIT set to the failed unit
(and MAILSYNC_ACCOUNT for a unit of one account).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := r.loadConfig()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), cfg.General.Hooks.Timeout+10*time.Second)
			defer cancel()
			if err := accounts.FailureReport(ctx, cfg, args[0], r.log); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
}
