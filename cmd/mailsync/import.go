package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"mailsync/config/importer"
	"mailsync/internal/safeio"
)

func newImportCmd(r *rootCmd) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Translate an offlineimap or mbsync configuration into mailsync's",
		Long: `Import reads the configuration of offlineimap or mbsync and prints the
equivalent mailsync configuration (TOML), or writes it with --write. The
accounts it writes adopt the other tool's Maildirs and state as they are,
so the first sync downloads nothing again; docs/migrating.md says what maps
to what.

What cannot be translated (Python the importer does not understand, an
unknown key, a behaviour mailsync does not have) is listed on stderr as
FILE:LINE: what: suggestion, and noted in the TOML beside the account.

Exit codes: 0 everything was translated; 3 something could not be (the
TOML is still printed or written); 2 usage error (--write over an existing
file); 1 the input could not be read.`,
		// Without this, cobra would print the help and exit 0 for a tool
		// it does not know.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown tool %q: mailsync imports offlineimap or mbsync", args[0])
			}
			return errors.New("name the tool: mailsync import offlineimap, or mailsync import mbsync")
		},
	}
	cmd.AddCommand(
		newImportToolCmd(r, "offlineimap", "~/.offlineimaprc, or $XDG_CONFIG_HOME/offlineimap/config when it exists",
			importer.DefaultOfflineimapPath, importer.Offlineimap),
		newImportToolCmd(r, "mbsync", "~/.mbsyncrc, or $XDG_CONFIG_HOME/isyncrc when only that exists",
			importer.DefaultMbsyncPath, importer.Mbsync),
	)
	return cmd
}

type importFunc func(path string, data []byte, opts importer.Options) (*importer.Result, error)

func newImportToolCmd(r *rootCmd, tool, defaultFrom string, defPath func(func(string) string) string, translate importFunc) *cobra.Command {
	var (
		from  string
		write bool
	)
	cmd := &cobra.Command{
		Use:   tool,
		Short: "Translate " + tool + "'s configuration",
		Long: fmt.Sprintf(`Translate %s's configuration (--from, default %s) into
mailsync's, and print it, or with --write write it to mailsync's config file
(-c, default $XDG_CONFIG_HOME/mailsync/config.toml), which must not exist
yet.`, tool, defaultFrom),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				from = defPath(os.Getenv)
			}
			data, err := os.ReadFile(from)
			if err != nil {
				return &exitError{exitFailed, fmt.Errorf("cannot read %s's configuration: %w", tool, err)}
			}
			res, err := translate(from, data, importer.Options{})
			if err != nil {
				return &exitError{exitFailed, err}
			}
			if write {
				dst := r.configFile()
				if err := writeNewConfig(dst, res.TOML); err != nil {
					return err
				}
				fmt.Fprintf(r.stderr, "mailsync: wrote %s\n", dst)
			} else if _, err := r.stdout.Write(res.TOML); err != nil {
				return &exitError{exitFailed, err}
			}
			for _, p := range res.Problems {
				fmt.Fprintln(r.stderr, p)
			}
			if len(res.Problems) > 0 {
				fmt.Fprintf(r.stderr, "mailsync: %d thing(s) in %s could not be translated; the TOML says where\n", len(res.Problems), from)
				r.code = exitUntranslated
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", tool+"'s configuration file (default "+defaultFrom+")")
	f.BoolVar(&write, "write", false, "write mailsync's config file (-c) instead of printing it; refuses to overwrite one")
	return cmd
}

// writeNewConfig writes data to path, mode 0600 (it may hold passwords),
// and never over an existing file: the file is first created exclusively,
// so that two imports, or an import and an editor, cannot both think the
// file theirs; then its content is written through safeio so that a crash
// leaves the whole file or none of it.
func writeNewConfig(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return &exitError{exitFailed, err}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &exitError{exitUsage, fmt.Errorf("%s exists already; not overwriting it (move it away, or give another file with -c)", path)}
	}
	if err != nil {
		return &exitError{exitFailed, err}
	}
	f.Close()
	if err := safeio.WriteFile(path, data, 0o600); err != nil {
		os.Remove(path)
		return &exitError{exitFailed, err}
	}
	return nil
}
