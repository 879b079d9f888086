package main

import (
	"github.com/spf13/cobra"

	"mailsync/config"
)

func newConfigCmd(r *rootCmd) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Help with the config file",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print an annotated config to start from",
		Long: `Example prints a config with every key, each with a comment, as the
README's Configure section shows it. Start from it with

  mailsync config example > ~/.config/mailsync/config.toml

then set the server, the user and the password source, and run
mailsync sync --dry-run. To start from offlineimap's or mbsync's config
instead: mailsync import offlineimap|mbsync --write.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := r.stdout.Write(config.Example())
			return err
		},
	})
	return cmd
}
