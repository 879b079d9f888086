package sync

import (
	"fmt"
)

func (fs *folderSync) report(format string, args ...any) {
	if fs.e.opts.DryRun {
		fmt.Fprintf(fs.e.opts.Out, "%s/%s: would %s\n", fs.e.acct.Name, fs.t.canonical, fmt.Sprintf(format, args...))
	}
}

func (fs *folderSync) reportPlan(p *plan) {
	flagsUp, flagsDown := len(p.push), len(p.pull)
	for _, f := range p.push {
		if f.pull {
			flagsDown++
		}
	}
	fs.c = Counts{Pulled: len(p.download), Pushed: len(p.upload), FlagsUp: flagsUp, FlagsDown: flagsDown,
		DeletedDown: len(p.deleteLocal), DeletedUp: len(p.deleteRemote), Skipped: fs.c.Skipped}
	if p.empty() {
		return
	}
	fs.report("pull %d, push %d, flags %d↓ %d↑, delete %d↓ %d↑", fs.c.Pulled, fs.c.Pushed,
		fs.c.FlagsDown, fs.c.FlagsUp, fs.c.DeletedDown, fs.c.DeletedUp)
	for _, u := range p.download {
		fs.report("  pull uid %d", u)
	}
	for _, e := range p.upload {
		fs.report("  push %s", e.File)
	}
	for _, d := range p.deleteLocal {
		fs.report("  delete local %s (uid %d gone from server)", d.entry.File, d.row.UID)
	}
	for _, r := range p.deleteRemote {
		fs.report("  delete server uid %d (local file gone)", r.UID)
	}
}
