package main

import (
	"os"

	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/internal/demo"
)

func newDemoCmd(r *rootCmd) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sync against a built-in in-memory IMAP server (no account needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "mailsync-demo-")
				if err != nil {
					return &exitError{accounts.ExitFailed, err}
				}
				dir = d
			}
			sig := handleSignals(&r.log)
			defer sig.finish()
			if err := demo.Run(sig.ctx, r.stdout, dir, r.log); err != nil {
				return &exitError{accounts.ExitFailed, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the Maildir and state (default: a new temp dir)")
	return cmd
}
