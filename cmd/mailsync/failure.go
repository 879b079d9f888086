package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/config"
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
			// A unit that failed on a broken config is reported too, in the
			// default state directory, without the hook the config holds.
			o := accounts.FailureOptions{StateDir: config.DefaultStateDir(os.Getenv), HookTimeout: config.DefaultHookTimeout, Log: r.log}
			if cfg, err := r.loadConfig(); err != nil {
				r.log.Error().Msgf("%v; failure_hook not run", err)
			} else {
				o = accounts.FailureOptionsOf(cfg, r.log)
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.HookTimeout+10*time.Second)
			defer cancel()
			if err := accounts.FailureReport(ctx, args[0], o); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
}
