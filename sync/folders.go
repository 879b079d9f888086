package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"

	"mailsync/config"
	"mailsync/internal/mutf7"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// folderTask is one folder to sync, with what is known before selecting it.
type folderTask struct {
	canonical    string
	remote       string
	local        string
	dir          string
	status       *remote.Status // from STATUS after LIST, if the server gave it
	stored       *state.Folder  // nil if never synced
	createLocal  bool
	createRemote bool
	localCheck   bool     // the server side is unchanged; compare a listing with the state before connecting
	verify       bool     // compare both sides in full, trusting no shortcut (see verifyDue)
	listing      *listing // what that comparison read, if it found a difference
	// look, if set, is the look at the local side taken ahead
	// (lookAhead).
	look *lookingAhead
}

// estimate is a rough measure of the work a folder needs, from STATUS
// and the state: listing and merging cost in proportion to the folder's
// size, and each message that arrived or went costs a transfer or a file
// operation, worth some hundred messages merged.
func (t folderTask) estimate() int64 {
	if t.status == nil {
		return 0
	}
	n := int64(t.status.Messages)
	if t.stored != nil && t.stored.UIDNext != 0 {
		n += 100 * int64(t.status.UIDNext-min(t.status.UIDNext, t.stored.UIDNext))
		n += 100 * abs(int64(t.status.Messages)-int64(t.stored.Messages))
	} else {
		n *= 100 // a first sync downloads everything
	}
	return n
}

// heavyTransfers is the number of messages to download from which a
// folder takes a connection of its own, when one is free (connPool).
const heavyTransfers = 64

// place is how t shares a connection (connPool): a folder with many
// messages to download takes one to itself; one whose only changes may be
// local takes turns with other such folders (remote.Folder.Claim); any
// other has little to move and shares one with its like.
func (t folderTask) place() placeKind {
	switch {
	case t.heavy():
		return placeAlone
	case t.localCheck:
		return placeTurns
	}
	return placeShared
}

// heavy reports whether t looks, from STATUS and the state, like it has
// many messages to download.
func (t folderTask) heavy() bool {
	if t.status == nil {
		return false
	}
	if t.stored == nil || t.stored.UIDNext == 0 || t.stored.UIDValidity != t.status.UIDValidity {
		return t.status.Messages >= heavyTransfers
	}
	return int64(t.status.UIDNext)-int64(t.stored.UIDNext) >= heavyTransfers
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func (e *Engine) wanted(req Request, canonical, local string) bool {
	if len(req.Folders) > 0 {
		for _, f := range req.Folders {
			if f = folderArg(f); f == canonical || f == local {
				return true
			}
		}
		return false
	}
	return e.acct.Remote.Filter == nil || e.acct.Remote.Filter.Match(canonical)
}

// firstRound is what a sync asks the server first, behind the first
// connection's login (Options.DialAhead): the STATUS of the folders the
// state knows, which planFolders asks for, and the LIST. It says whether
// the server had CONDSTORE: a folder's HIGHESTMODSEQ was recorded.
func firstRound(stored []state.Folder) remote.Ahead {
	var a remote.Ahead
	for _, f := range stored {
		if f.RemoteName != "" && f.UIDValidity != 0 {
			a.Known = append(a.Known, f.RemoteName)
			a.CondStore = a.CondStore || f.HighestModSeq != 0
		}
	}
	return a
}

// planFolders lists both sides and decides, per folder, whether to sync,
// create or report it; stored are the folders the state records.
func (e *Engine) planFolders(ctx context.Context, conn Remote, req Request, stored []state.Folder) ([]folderTask, []error, error) {
	boxes, err := conn.List(ctx, firstRound(stored).Known)
	if err != nil {
		return nil, nil, err
	}
	var problems []error
	// seen holds every name a requested folder may have matched.
	seen := make(map[string]bool)
	fail := func(folder string, err error) {
		seen[folder] = true
		problems = append(problems, &FolderError{Account: e.acct.Name, Folder: folder, Err: err})
	}
	delim := hierarchyDelim(boxes)
	type entry struct {
		task      folderTask
		hasRemote bool
		hasLocal  bool
	}
	all := make(map[string]*entry)
	get := func(c string) *entry {
		if all[c] == nil {
			all[c] = &entry{task: folderTask{canonical: c}}
		}
		return all[c]
	}
	rm := &e.acct.Remote
	for _, b := range boxes {
		if b.NoSelect {
			continue
		}
		c, err := canonicalName(b.Name, delim)
		if err != nil {
			if e.wanted(req, b.Name, b.Name) {
				fail(b.Name, err)
			}
			continue
		}
		if rm.LocalCollision(c) {
			if e.wanted(req, c, c) {
				fail(c, fmt.Errorf("server folder %q has the same local name as a folder_map target; add it to folder_map or exclude it", c))
			}
			continue
		}
		en := get(c)
		en.hasRemote = true
		en.task.remote = b.Name
		en.task.status = b.Status
	}
	localNames, err := e.layout.List(e.acct.Local.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("listing local folders under %s: %w", e.acct.Local.Path, err)
	}
	for _, ln := range localNames {
		c, ok := rm.MapToRemote(ln)
		if !ok {
			fail(ln, errMapTarget(ln))
			continue
		}
		get(c).hasLocal = true
	}
	for i := range stored {
		get(stored[i].Name).task.stored = &stored[i]
	}

	names := make([]string, 0, len(all))
	for c := range all {
		names = append(names, c)
	}
	sort.Strings(names)
	if len(req.Folders) > 0 {
		// A folder asked for by name that is nowhere is a usage error,
		// before anything is synced: a typo must not pass for "nothing
		// to do".
		known := slices.Clone(names)
		for _, c := range names {
			if l := rm.MapToLocal(c); l != c {
				known = append(known, l)
			}
		}
		for f := range seen {
			known = append(known, f)
		}
		if err := unknownFolders(req.Folders, known); err != nil {
			return nil, nil, err
		}
	}
	if e.acct.Local.FolderNames != config.FolderNamesIMAPUTF7 {
		// A local folder named in modified UTF-7 for a server folder that
		// has no local copy under its UTF-8 name: another tool's Maildir.
		// Syncing would create a junk server folder and download the real
		// one again beside it.
		for _, c := range names {
			en := all[c]
			if en == nil || !en.hasLocal || en.hasRemote || (en.task.stored != nil && en.task.stored.UIDValidity != 0) {
				continue
			}
			local := rm.MapToLocal(c)
			dec, ok := mutf7.Decode(local)
			if !ok || dec == local {
				continue
			}
			other, ok := rm.MapToRemote(dec)
			if !ok || all[other] == nil || !all[other].hasRemote || all[other].hasLocal {
				continue
			}
			err := safetyStop(ErrFolderNames, "local folder %q is the modified UTF-7 form of server folder %q, as offlineimap and "+
				"mbsync write folder names; nothing was created or downloaded. Set folder_names = \"imap-utf7\" in [accounts.%s.local] "+
				"to keep such names, or rename the directory to %q", local, dec, e.acct.Name, dec)
			fail(c, err)
			fail(other, err)
			delete(all, c)
			delete(all, other)
		}
		names = names[:0]
		for c := range all {
			names = append(names, c)
		}
		sort.Strings(names)
	}
	var tasks []folderTask
	for _, c := range names {
		en := all[c]
		t := en.task
		t.local = rm.MapToLocal(c)
		seen[c], seen[t.local] = true, true
		if !e.wanted(req, c, t.local) {
			continue
		}
		dir, err := e.layout.Dir(e.acct.Local.Path, t.local)
		if err != nil {
			fail(c, err)
			continue
		}
		t.dir = dir
		if t.remote == "" {
			t.remote, err = remoteName(c, delim)
			if err != nil {
				fail(c, err)
				continue
			}
		}
		synced := t.stored != nil && t.stored.UIDValidity != 0
		switch {
		case en.hasRemote && en.hasLocal:
		case en.hasRemote:
			if synced {
				if e.renumbered(ctx, conn, t) {
					// The server renumbered the folder and the local copy was
					// moved aside, as the UIDVALIDITY stop advises: start the
					// folder afresh from the server.
					e.log.Warn().Str("folder", c).Msg("local folder moved aside after a UIDVALIDITY change; downloading it afresh")
					if !e.opts.DryRun {
						if err := e.store.DeleteFolder(ctx, t.stored.ID); err != nil {
							fail(c, err)
							continue
						}
					}
					t.stored = nil
				} else {
					fail(c, safetyStop(ErrVanished, "local folder %s is gone but was synced before; nothing was deleted on the server. "+
						"Restore it, or remove the folder on the server too", dir))
					continue
				}
			}
			if e.acct.Local.Readonly {
				continue
			}
			t.createLocal = true
		case en.hasLocal:
			if synced {
				fail(c, safetyStop(ErrVanished, "server folder %q is gone but was synced before; the local copy at %s was kept. "+
					"Remove the local folder, or re-create the folder on the server (its messages are then uploaded again), to continue", t.remote, dir))
				continue
			}
			if e.acct.Remote.Readonly {
				continue
			}
			t.createRemote = true
		default:
			// Gone on both sides: forget it.
			if t.stored != nil && !e.opts.DryRun {
				if err := e.store.DeleteFolder(ctx, t.stored.ID); err != nil {
					fail(c, err)
				}
			}
			continue
		}
		tasks = append(tasks, t)
	}
	return tasks, problems, nil
}

// renumbered reports whether the server's UIDVALIDITY for t differs from
// the recorded one, asking STATUS again when the listing had none.
func (e *Engine) renumbered(ctx context.Context, conn Remote, t folderTask) bool {
	if t.stored == nil || t.stored.UIDValidity == 0 {
		return false
	}
	if t.status != nil {
		return t.status.UIDValidity != 0 && t.status.UIDValidity != t.stored.UIDValidity
	}
	st, err := conn.Status(ctx, t.remote)
	return err == nil && st.UIDValidity != 0 && st.UIDValidity != t.stored.UIDValidity
}
