package main

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"mailsync/config"
)

// completeAccountFlags makes the -a/--account flag of every command under
// root complete the account names of the configuration (-c, or the
// default). A flag that already has a completion keeps it.
func (r *rootCmd) completeAccountFlags(root *cobra.Command) {
	if f := root.LocalFlags().Lookup("account"); f != nil {
		_ = root.RegisterFlagCompletionFunc(f.Name, r.completeAccounts)
	}
	for _, c := range root.Commands() {
		r.completeAccountFlags(c)
	}
}

// completeAccounts completes the last element of a comma-separated list of
// account names, leaving out those already given. It only reads the
// configuration, and offers nothing when it does not load.
func (r *rootCmd) completeAccounts(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, err := config.Load(r.configFile(), os.Getenv)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	done, prefix := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, prefix = toComplete[:i+1], toComplete[i+1:]
	}
	given := strings.Split(done, ",")
	if prev, err := cmd.Flags().GetStringSlice("account"); err == nil {
		given = append(given, prev...)
	}
	var comps []cobra.Completion
	for _, name := range cfg.AccountNames() {
		if strings.HasPrefix(name, prefix) && !slices.Contains(given, name) {
			comps = append(comps, cobra.CompletionWithDesc(done+name, cfg.Accounts[name].Remote.Host))
		}
	}
	return comps, cobra.ShellCompDirectiveNoFileComp
}
