package accounts

import (
	"maps"
	"slices"

	msync "mailsync/sync"
)

// work is what an account's loop has been asked to sync and has not
// started yet. Requests that arrive while the loop is busy are merged into
// one: the next cycle covers all of them.
type work struct {
	all     bool            // every folder
	folders map[string]bool // else these (canonical or local names)
	full    bool            // compare flags everywhere (a full sync, not quick)
	idle    bool            // asked for by IDLE (else by the local watch), when not all
	// force runs it now, through a back-off (SIGUSR1, `mailsync sync`, a
	// resume).
	force           bool
	allowMassDelete bool
	// waiters get the result of the cycle that does the work.
	waiters []chan<- Result
}

func (w *work) empty() bool { return !w.all && len(w.folders) == 0 }

// merge adds o to w.
func (w *work) merge(o work) {
	if o.all {
		w.all = true
	}
	for f := range o.folders {
		if w.folders == nil {
			w.folders = map[string]bool{}
		}
		w.folders[f] = true
	}
	w.full = w.full || o.full
	w.idle = w.idle || o.idle
	w.force = w.force || o.force
	w.allowMassDelete = w.allowMassDelete || o.allowMassDelete
	w.waiters = append(w.waiters, o.waiters...)
}

// cycle is the cycle that does w. Its mode is what its hooks are told:
// full or quick for a scheduled sync or one that was asked for, idle or
// local for the folders IDLE or the local watch reported.
func (w *work) cycle() (Mode, msync.Request) {
	req := msync.Request{Quick: !w.full, AllowMassDelete: w.allowMassDelete}
	if !w.all {
		req.Folders = slices.Sorted(maps.Keys(w.folders))
	}
	switch {
	case !w.all && len(w.waiters) == 0 && w.idle:
		return ModeIdle, req
	case !w.all && len(w.waiters) == 0:
		return ModeLocal, req
	case req.Quick:
		return ModeQuick, req
	}
	return ModeFull, req
}

func folderSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
