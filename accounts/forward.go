package accounts

import (
	"context"
	"maps"
	"slices"

	"mailsync/internal/control"
)

// forward asks the running daemons that serve some of names to sync them
// now, and returns their results and the names left to sync here. A daemon
// that cannot do it (it is stopping, it went away) leaves its accounts to
// be synced here.
func forward(ctx context.Context, o Options, names []string) (done []Result, rest []string) {
	served := control.Find(ctx, o.ControlDirs, o.Config.General.StateDir)
	if len(served) == 0 {
		return nil, names
	}
	bySocket := map[string][]string{}
	for _, n := range names {
		if s, ok := served[n]; ok {
			bySocket[s.Socket] = append(bySocket[s.Socket], n)
		} else {
			rest = append(rest, n)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(bySocket)) {
		accts := bySocket[p]
		reply, err := control.Ask(ctx, p, control.Request{
			Op: control.OpSync, Accounts: accts,
			Folders: o.Request.Folders, Quick: o.Request.Quick, AllowMassDelete: o.Request.AllowMassDelete,
		})
		if err == nil && reply.Error != "" {
			err = replyError(reply.Error)
		}
		if err != nil || len(reply.Results) != len(accts) {
			o.Log.Info().Err(err).Str("socket", p).Msg("the daemon did not sync; syncing here")
			rest = append(rest, accts...)
			continue
		}
		for i := range reply.Results {
			if reply.Results[i].Kind == control.KindStopping {
				rest = append(rest, accts[i])
				continue
			}
			done = append(done, Result{Account: accts[i], Forwarded: &reply.Results[i]})
		}
	}
	return done, rest
}

type replyError string

func (e replyError) Error() string { return string(e) }
