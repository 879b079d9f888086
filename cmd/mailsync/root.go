package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/logging"
)

// exitError carries an exit code out of a cobra command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

type rootCmd struct {
	cmd        *cobra.Command
	stdout     io.Writer
	stderr     io.Writer
	configPath string
	logOpts    logging.Options
	log        zerolog.Logger
	code       int
	cpuProfile string
	memProfile string
	stopProf   func()
}

func newRootCmd(stdout, stderr io.Writer) *rootCmd {
	r := &rootCmd{stdout: stdout, stderr: stderr}
	r.cmd = &cobra.Command{
		Use:   "mailsync",
		Short: "Two-way IMAP ↔ Maildir synchronisation",
		Long: `mailsync keeps IMAP accounts and local Maildirs in sync in both
directions: once (sync), or continuously (daemon, or systemd units from
mailsync systemd install). Start with mailsync config example, or
mailsync import offlineimap|mbsync; then mailsync check, and
mailsync sync --dry-run.

The config file is $XDG_CONFIG_HOME/mailsync/config.toml unless -c names
another. Exit codes: 0 success; 1 some account or folder failed; 2 usage
or config error; 3 (import) something could not be translated; 75 another
mailsync holds an account's lock.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			log, err := logging.New(stderr, r.logOpts)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			r.log = log
			return r.startProfiles()
		},
		PersistentPostRunE: func(cmd *cobra.Command, args []string) error {
			return r.stopProfiles()
		},
	}
	r.cmd.SetOut(stdout)
	r.cmd.SetErr(stderr)
	r.cmd.Version = version()
	r.cmd.SetVersionTemplate("{{.Version}}")
	f := r.cmd.PersistentFlags()
	f.StringVarP(&r.configPath, "config", "c", "", "config file (default $XDG_CONFIG_HOME/mailsync/config.toml)")
	f.StringVar(&r.logOpts.Level, "log-level", "", "log level: trace, debug, info, warn, error (default warn)")
	f.StringVar(&r.logOpts.Format, "log-format", "", "log format: console, json or journal (default journal when stderr is the systemd journal, else console)")
	f.BoolVarP(&r.logOpts.Quiet, "quiet", "q", false, "print only errors: no summaries, no warnings")
	// For developers measuring mailsync (see docs/benchmarks.md).
	f.StringVar(&r.cpuProfile, "cpu-profile", "", "write a CPU profile to this file")
	f.StringVar(&r.memProfile, "mem-profile", "", "write a heap profile to this file at exit")
	_ = f.MarkHidden("cpu-profile")
	_ = f.MarkHidden("mem-profile")
	r.cmd.AddCommand(newSyncCmd(r), newDaemonCmd(r), newStatusCmd(r), newSystemdCmd(r), newFailureReportCmd(r), newDemoCmd(r), newImportCmd(r), newConfigCmd(r), newManCmd(r), newCheckCmd(r), newFoldersCmd(r))
	r.completeAccountFlags(r.cmd)
	return r
}

// execute runs the command line and returns the process exit code.
func (r *rootCmd) execute() (int, error) {
	err := r.cmd.Execute()
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code, ee.err
	case err != nil:
		// cobra's own errors: unknown command or flag, bad arguments.
		return exitUsage, err
	}
	return r.code, nil
}

// configFile is the configuration file in use: -c, or the default.
func (r *rootCmd) configFile() string {
	if r.configPath != "" {
		return r.configPath
	}
	return config.DefaultPath(os.Getenv)
}

// accountsConfig loads the configuration and checks that it has the
// accounts named with -a.
func (r *rootCmd) accountsConfig(accts []string) (*config.Config, error) {
	cfg, err := r.loadConfig()
	if err != nil {
		return nil, err
	}
	if err := accounts.CheckNames(cfg, accts); err != nil {
		return nil, &exitError{exitUsage, err}
	}
	return cfg, nil
}

func (r *rootCmd) loadConfig() (*config.Config, error) {
	cfg, err := r.readConfig()
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	return cfg, nil
}

// readConfig loads the config and warns of secrets others can read, at
// each load (the daemon's reloads too).
func (r *rootCmd) readConfig() (*config.Config, error) {
	cfg, err := config.Load(r.configFile(), os.Getenv)
	if _, serr := os.Stat(r.configFile()); errors.Is(serr, fs.ErrNotExist) && err != nil {
		return nil, fmt.Errorf("%w\nStart from an example (mailsync config example > %s), or from offlineimap's or mbsync's config (mailsync import offlineimap --write, or import mbsync --write)", err, r.configFile())
	}
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.SecretWarnings() {
		r.log.Warn().Msg(w)
	}
	return cfg, nil
}

func (r *rootCmd) startProfiles() error {
	if r.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(r.cpuProfile)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return &exitError{exitUsage, err}
	}
	r.stopProf = func() { pprof.StopCPUProfile(); f.Close() }
	return nil
}

func (r *rootCmd) stopProfiles() error {
	if r.stopProf != nil {
		r.stopProf()
	}
	if r.memProfile == "" {
		return nil
	}
	f, err := os.Create(r.memProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}
