package sync

import (
	"slices"

	"mailsync/internal/maildir"
	"mailsync/internal/state"
)

// sidePolicy is what may be done to, and propagated from, one side.
type sidePolicy struct {
	readOnly    bool // never change this side
	syncDeletes bool // deletions made on this side are propagated
}

// planInput is everything the merge looks at for one folder. It is a pure
// value so the merge can be table-tested without a server or a disk.
type planInput struct {
	state []state.Message
	local []maildir.Entry
	// remoteUIDs is every UID on the server. remoteFlags holds flags for
	// the UIDs whose flags are known to have changed (CONDSTORE) or for all
	// UIDs (without it); a UID missing from it has the flags in the state.
	remoteUIDs  map[uint32]bool
	remoteFlags map[uint32]flagSet
	folderMD5   string
	localSide   sidePolicy
	remoteSide  sidePolicy
	// fetchedByUs holds the UIDs that an interrupted run was downloading, as
	// its journal recorded them (same UIDVALIDITY only).
	fetchedByUs map[uint32]bool
	// localIncomplete is set when the local listing may have missed files
	// (a mail client renamed them while it was read): then a missing file
	// is not evidence of a deletion.
	localIncomplete bool
	// paired holds the keys of the files that pairing before the merge
	// (pairFirst) considered: one it left unpaired is a new message,
	// whatever U= its name carries.
	paired map[string]bool
}

// flagPush stores add/del on the server; with pull set, the local file also
// gets target. newFlags is what the state records as agreed.
type flagPush struct {
	row       state.Message
	add, del  flagSet
	newFlags  flagSet
	target    flagSet
	localFrom maildir.Entry
	pull      bool
}

// flagPull gives the local file target and records newFlags as agreed. They
// differ when the server is read-only: the file gets the merge result while
// the state keeps the server's flags, so the local change stays visible.
type flagPull struct {
	row      state.Message
	entry    maildir.Entry
	target   flagSet
	newFlags flagSet
}

type adoption struct {
	entry  maildir.Entry
	uid    uint32
	remote flagSet
	// row is set when the state already pairs uid with "no local copy" (a
	// local deletion that was not propagated) and the file came back, e.g.
	// restored from a backup: it is re-paired, not uploaded as a duplicate.
	row *state.Message
}

// plan is what a folder sync will do. Every state row lands in exactly one
// bucket (or none, when nothing is to be done for it).
type plan struct {
	download     []uint32        // server UIDs with no local copy yet
	upload       []maildir.Entry // local files with no server copy yet
	adopt        []adoption      // U= files of this folder found on the server but not in the state
	push         []flagPush      // flag changes to store on the server (and maybe pull locally)
	pull         []flagPull      // flag changes to apply locally only
	rebase       []state.Message // both sides agree on new flags: only the state changes
	deleteRemote []state.Message // local deletions to propagate
	deleteLocal  []deletion      // server deletions to propagate
	forget       []state.Message // gone on both sides
	keepLocal    []state.Message // server deletion not propagated: row keeps the local copy (uid → 0)
	keepRemote   []state.Message // local deletion not propagated: row keeps the server copy (key → "")
}

type deletion struct {
	row   state.Message
	entry maildir.Entry
}

func (p *plan) empty() bool {
	return len(p.download)+len(p.upload)+len(p.adopt)+len(p.push)+len(p.pull)+len(p.rebase)+
		len(p.deleteRemote)+len(p.deleteLocal)+len(p.forget)+len(p.keepLocal)+len(p.keepRemote) == 0
}

// makePlan is the three-way merge of one folder against its state.
func makePlan(in planInput) plan {
	var p plan
	// Indexes, not copies of the entries: for a large folder the map is
	// most of the merge's memory.
	byKey := make(map[string]int32, len(in.local))
	for i, e := range in.local {
		byKey[e.Name.Key] = int32(i)
	}
	knownUID := make(map[uint32]bool, len(in.state))
	knownKey := make(map[string]bool, len(in.state))
	noLocal := make(map[uint32]state.Message)
	for _, r := range in.state {
		if r.UID != 0 {
			knownUID[r.UID] = true
			if r.Key == "" {
				noLocal[r.UID] = r
			}
		}
		if r.Key != "" {
			knownKey[r.Key] = true
		}
	}
	remoteFlags := func(r state.Message) flagSet {
		if f, ok := in.remoteFlags[r.UID]; ok {
			return f
		}
		return parseMaildirFlags(r.Flags)
	}

	for _, r := range in.state {
		var e maildir.Entry
		i, hasLocal := byKey[r.Key]
		if hasLocal = hasLocal && r.Key != ""; hasLocal {
			e = in.local[i]
		}
		hasRemote := r.UID != 0 && in.remoteUIDs[r.UID]
		switch {
		case r.Key == "" && r.UID == 0:
			p.forget = append(p.forget, r)
		case r.Key == "":
			// Local copy deliberately absent; only a server deletion matters now.
			if !hasRemote {
				p.forget = append(p.forget, r)
			}
		case r.UID == 0:
			if !hasLocal {
				p.forget = append(p.forget, r)
			}
		case !hasLocal && !hasRemote:
			p.forget = append(p.forget, r)
		case !hasLocal && in.localIncomplete:
			// Maybe renamed while we listed: decide next run.
		case !hasLocal:
			// Deleted locally; a flag change on the server doesn't save it.
			if in.localSide.syncDeletes && !in.remoteSide.readOnly {
				p.deleteRemote = append(p.deleteRemote, r)
			} else {
				p.keepRemote = append(p.keepRemote, r)
			}
		case !hasRemote:
			if in.remoteSide.syncDeletes && !in.localSide.readOnly {
				p.deleteLocal = append(p.deleteLocal, deletion{r, e})
			} else {
				p.keepLocal = append(p.keepLocal, r)
			}
		default:
			base := parseMaildirFlags(r.Flags)
			lf := parseMaildirFlags(e.Name.Flags)
			rf := remoteFlags(r)
			res := merge3(base, lf, rf)
			needPush := res != rf && !in.remoteSide.readOnly
			needPull := res != lf && !in.localSide.readOnly
			// What the state should record as agreed: a side we may not
			// change keeps its own value, so its later changes still show.
			agreed := res
			if res != rf && in.remoteSide.readOnly {
				agreed = rf
			} else if res != lf && in.localSide.readOnly {
				agreed = lf
			}
			switch {
			case needPush:
				p.push = append(p.push, flagPush{row: r, add: res &^ rf, del: rf &^ res, newFlags: agreed, target: res, localFrom: e, pull: needPull})
			case needPull:
				p.pull = append(p.pull, flagPull{row: r, entry: e, target: res, newFlags: agreed})
			case agreed != base:
				p.rebase = append(p.rebase, withFlags(r, agreed))
			}
		}
	}

	claimed := make(map[uint32]bool)
	for _, e := range in.local {
		if knownKey[e.Name.Key] {
			continue
		}
		n := e.Name
		checked := in.paired[e.Name.Key]
		if r, ok := noLocal[n.UID]; ok && !checked && n.FMD5 == in.folderMD5 && in.remoteUIDs[n.UID] && !claimed[n.UID] {
			claimed[n.UID] = true
			p.adopt = append(p.adopt, adoption{entry: e, uid: n.UID, remote: parseMaildirFlags(n.Flags), row: &r})
			continue
		}
		if n.UID != 0 && n.FMD5 == in.folderMD5 && !in.remoteUIDs[n.UID] && !knownUID[n.UID] && in.fetchedByUs[n.UID] {
			// Delivered by an interrupted run (its journal says it was
			// fetching this UID) and expunged on the server since: a server
			// deletion, not a new local message. Without that record a U=
			// proves nothing (the file may come from another account or an
			// older UIDVALIDITY), and the file is uploaded: that never loses mail.
			if in.remoteSide.syncDeletes && !in.localSide.readOnly {
				p.deleteLocal = append(p.deleteLocal, deletion{entry: e})
			} else {
				p.adopt = append(p.adopt, adoption{entry: e}) // a local-only pair
			}
			continue
		}
		if n.UID != 0 && !checked && n.FMD5 == in.folderMD5 && in.remoteUIDs[n.UID] && !knownUID[n.UID] && !claimed[n.UID] {
			claimed[n.UID] = true
			rf, ok := in.remoteFlags[n.UID]
			if !ok {
				rf = parseMaildirFlags(n.Flags)
			}
			p.adopt = append(p.adopt, adoption{entry: e, uid: n.UID, remote: rf})
			continue
		}
		if !in.remoteSide.readOnly {
			p.upload = append(p.upload, e)
		}
	}
	if !in.localSide.readOnly {
		for uid := range in.remoteUIDs {
			if !knownUID[uid] && !claimed[uid] {
				p.download = append(p.download, uid)
			}
		}
		slices.Sort(p.download)
	}
	return p
}

func withFlags(r state.Message, f flagSet) state.Message {
	r.Flags = f.maildir()
	return r
}
