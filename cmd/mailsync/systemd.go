package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/systemd"
)

func newSystemdCmd(r *rootCmd) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "systemd",
		Short: "Install mailsync's systemd user units",
		Long: `The systemd commands install, print and remove mailsync's units for the
systemd user manager (contrib/systemd; see its README.md): oneshot services
and timers, the daemon's service, per-account templates, mail.target, the
failure handler and the path unit.`,
	}
	cmd.AddCommand(newSystemdInstallCmd(r), newSystemdUninstallCmd(r), newSystemdPrintCmd(r))
	return cmd
}

// unitDir is $XDG_CONFIG_HOME/systemd/user, or ~/.config/systemd/user.
func unitDir() (string, error) {
	base := config.XDGBase(nil, "XDG_CONFIG_HOME", ".config")
	if base == "" {
		return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set to an absolute path; give --dir")
	}
	return filepath.Join(base, "systemd", "user"), nil
}

// docPath is where the README the units name goes: $XDG_DATA_HOME, or
// ~/.local/share, /doc/mailsync/systemd.md; "" without either (the units
// then name the packaged path).
func docPath() string {
	base := config.XDGBase(nil, "XDG_DATA_HOME", ".local/share")
	if base == "" {
		return ""
	}
	return filepath.Join(base, "doc", "mailsync", "systemd.md")
}

// unitOptions are the rendering options of this binary and config.
func (r *rootCmd) unitOptions() (systemd.Options, error) {
	bin, err := binaryPath()
	if err != nil {
		return systemd.Options{}, err
	}
	if err := systemd.CheckBinary(bin); err != nil {
		return systemd.Options{}, err
	}
	o := systemd.Options{Binary: bin, Doc: docPath()}
	if r.configPath != "" {
		if o.Config, err = filepath.Abs(r.configPath); err != nil {
			return o, err
		}
	}
	return o, nil
}

// binaryPath is the absolute path this binary was run by: the path given
// (a symlink such as /usr/local/bin/mailsync stays one, so that an upgrade
// behind it is picked up), or the executable the kernel ran.
func binaryPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	arg := os.Args[0]
	if !strings.Contains(arg, "/") {
		if arg, err = exec.LookPath(arg); err != nil {
			return exe, nil
		}
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return exe, nil
	}
	a, aerr := os.Stat(abs)
	b, berr := os.Stat(exe)
	if aerr == nil && berr == nil && os.SameFile(a, b) {
		return abs, nil
	}
	return exe, nil
}

// unitAccounts are the accounts named (all if none), with their folders.
func unitAccounts(cfg *config.Config, names []string) []systemd.Account {
	if len(names) == 0 {
		names = cfg.AccountNames()
	}
	var out []systemd.Account
	for _, n := range names {
		a := systemd.Account{Name: n}
		folders, _ := accounts.LocalFolders(cfg.Accounts[n])
		for _, f := range folders {
			a.Dirs = append(a.Dirs, f.Dir)
		}
		out = append(out, a)
	}
	return out
}

func newSystemdInstallCmd(r *rootCmd) *cobra.Command {
	var (
		accts               []string
		timer, daemon       bool
		online, enable, now bool
		force               bool
		dir                 string
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Write the units into the user unit directory, and enable or start them",
		Long: `Install writes mailsync's systemd units into $XDG_CONFIG_HOME/systemd/user
(~/.config/systemd/user) or --dir, with ExecStart= set to this binary (and
-c FILE when a config other than the default is used), and the path units'
directories from the config; then it reloads the user manager. With
--enable it enables, and with --now also starts, over D-Bus:

  --timer             mailsync-oneshot.timer (every account, one process)
  --timer -a ACCT     mailsync-oneshot@ACCT.timer
  --daemon            mailsync.service
  --daemon -a ACCT    mailsync@ACCT.service

and mail.target, which they are part of. --online-target makes the daemon
units follow internet-online.target (see contrib/systemd/README.md).

It prints each file written and each unit enabled or started; run again, it
changes nothing. A unit that was edited since it was installed is left
alone unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if timer && daemon {
				return &exitError{exitUsage, errors.New("--timer and --daemon exclude each other")}
			}
			cfg, err := r.accountsConfig(accts)
			if err != nil {
				return err
			}
			o, err := r.unitOptions()
			if err != nil {
				return &exitError{exitFailed, err}
			}
			io := systemd.InstallOptions{Options: o, Dir: dir, Accounts: unitAccounts(cfg, accts), Named: len(accts) > 0,
				Online: online, Enable: enable || now, Now: now, Force: force, Out: r.stdout}
			if dir == "" {
				if io.Dir, err = unitDir(); err != nil {
					return &exitError{exitUsage, err}
				}
				io.DefaultDir = true
			}
			switch {
			case timer:
				io.Mode = systemd.ModeTimer
			case daemon:
				io.Mode = systemd.ModeDaemon
			}
			if err := systemd.Install(context.Background(), io); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&accts, "account", "a", nil, "install for these accounts (comma-separated): their templated instances and path units")
	f.BoolVar(&timer, "timer", false, "enable or start the oneshot timer")
	f.BoolVar(&daemon, "daemon", false, "enable or start the daemon's service")
	f.BoolVar(&online, "online-target", false, "make the daemon follow internet-online.target")
	f.BoolVar(&enable, "enable", false, "enable the units")
	f.BoolVar(&now, "now", false, "enable and start the units")
	f.StringVar(&dir, "dir", "", "write the units into this directory instead")
	f.BoolVar(&force, "force", false, "replace units edited since they were installed")
	return cmd
}

func newSystemdUninstallCmd(r *rootCmd) *cobra.Command {
	var accts []string
	var dir string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop, disable and remove what install set up",
		Long: `Uninstall stops and disables mailsync's units and removes the files install
wrote (never another file). With -a, only those accounts' instances and
path units go; the templates stay for the other accounts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			uo := systemd.UninstallOptions{Dir: dir, Accounts: accts, Out: r.stdout}
			if dir == "" {
				d, err := unitDir()
				if err != nil {
					return &exitError{exitUsage, err}
				}
				uo.Dir, uo.DefaultDir = d, true
			}
			if err := systemd.Uninstall(context.Background(), uo); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&accts, "account", "a", nil, "remove only these accounts' units (comma-separated)")
	cmd.Flags().StringVar(&dir, "dir", "", "the directory install wrote into")
	return cmd
}

func newSystemdPrintCmd(r *rootCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "print UNIT",
		Short: "Print a unit as install would write it",
		Long: `Print prints UNIT (mailsync.service, mailsync-oneshot@work.timer, …) as
install would write it; for mailsync-push@ACCOUNT.path, with the drop-in
that holds its directories.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := r.unitOptions()
			if err != nil {
				return &exitError{exitFailed, err}
			}
			var accts []systemd.Account
			if cfg, err := r.loadConfig(); err == nil {
				accts = unitAccounts(cfg, nil)
			} else if r.configPath != "" {
				return err
			}
			out, err := systemd.Print(args[0], o, accts)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			_, err = fmt.Fprint(r.stdout, string(out))
			return err
		},
	}
}
