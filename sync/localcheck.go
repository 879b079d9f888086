package sync

import (
	"context"
	"runtime"
	"sort"
	gosync "sync"
	"time"

	"mailsync/internal/maildir"
	"mailsync/internal/remote"
	"mailsync/internal/state"
)

// trustedTimes returns a folder's cur/ and new/ times for the state to
// record, or zeros when either was within a second of readAt, the moment
// they were read: with file timestamps as coarse as a second, a change made
// after they were read could otherwise leave them as they are. It must be
// readAt, not the time of the check: a second that has passed since the read
// says nothing about changes made during it.
func trustedTimes(cur, nw int64, readAt time.Time) (int64, int64) {
	limit := readAt.Add(-time.Second).UnixNano()
	if cur < limit && nw < limit {
		return cur, nw
	}
	return 0, 0
}

// listing is a folder's local side as read once: its directory times (read
// before the files), the files, and their digest (see state.Digest).
type listing struct {
	cur, new int64
	read     time.Time // when cur and new were read
	entries  []maildir.Entry
	problems []maildir.Problem
	stable   bool
	digest   *state.Digest
	recorded *state.Digest // the state's digest, read before the listing
}

// digestOf sums up a listing the way the state sums up its pairs.
func digestOf(entries []maildir.Entry) *state.Digest {
	d := new(state.Digest)
	for _, en := range entries {
		addEntry(d, en)
	}
	return d
}

func addEntry(d *state.Digest, en maildir.Entry) {
	d.Add(en.Name.Key, parseMaildirFlags(en.Name.Flags).maildir())
}

// listingKept is the size (in recorded files) up to which locallyUnchanged
// keeps a folder's listing for the folder's sync to reuse. A larger folder
// is summed up as it is read, in memory that doesn't grow with it, and is
// listed again by its sync if it differs.
const listingKept = 10000

// localLook is what a look at a folder's local side found, between two
// reads of its directory times (cur, new, read at read).
type localLook struct {
	// same: the listing holds exactly the recorded files and flags, and
	// the times did not change while it was read.
	same bool
	// onlyAdded: the differences are most likely new files alone
	// (state.Digest.OnlyAdded), which a sync uploads without selecting
	// the folder.
	onlyAdded bool
	listing   *listing // what was read, if kept (listingKept)
	cur, new  int64
	read      time.Time
}

// lookLocal reads the local side of the folder st records, in dir, and
// compares it with the state. It changes nothing.
func (e *Engine) lookLocal(ctx context.Context, st *state.Folder, dir string) localLook {
	mf := maildir.Folder{Dir: dir}
	// An interrupted upload or download leaves files the rows don't
	// describe yet; the full sync settles them.
	if js, err := e.store.Journal(ctx, st.ID); err != nil || len(js) > 0 {
		return localLook{}
	}
	recorded, err := e.store.Digest(ctx, st.ID)
	if err != nil {
		return localLook{}
	}
	read := e.opts.Now()
	c0, n0, err := mf.DirTimes()
	if err != nil {
		return localLook{}
	}
	lk := localLook{cur: c0, new: n0, read: read}
	digest := new(state.Digest)
	if recorded.Len() > e.listingKept {
		problems, err := mf.Each(func(en maildir.Entry) { addEntry(digest, en) })
		if err != nil || problems > 0 {
			return localLook{}
		}
	} else {
		entries, problems, stable, err := mf.Scan()
		if err != nil {
			return localLook{}
		}
		lk.listing = &listing{cur: c0, new: n0, read: read, entries: entries, problems: problems, stable: stable, recorded: recorded}
		if !stable || len(problems) > 0 {
			return lk
		}
		digest = digestOf(entries)
		lk.listing.digest = digest
	}
	if same, err := mf.Unchanged(c0, n0); err != nil || !same {
		return lk
	}
	lk.same = len(recorded.Differs(digest)) == 0
	lk.onlyAdded = !lk.same && recorded.OnlyAdded(digest)
	return lk
}

// locallyUnchanged settles, without a server connection, a folder whose
// server side is unchanged but whose directory times don't vouch for the
// local side (mailsync changed the folder in the last run, or a mail client
// did since): if a listing taken between two reads of the times holds
// exactly the recorded files and flags (its digest is the state's), there is
// nothing to sync, and the times are recorded so the next run needs no
// listing. Otherwise it returns what it read, if it kept it, for the
// folder's sync to use instead of reading it again. The look may have been
// taken ahead (lookAhead).
func (e *Engine) locallyUnchanged(ctx context.Context, t folderTask) (bool, *listing) {
	var lk localLook
	if t.look != nil {
		lk = t.look.wait()
	} else {
		lk = e.lookLocal(ctx, t.stored, t.dir)
	}
	if !lk.same {
		return false, lk.listing
	}
	st := *t.stored
	st.CurMtime, st.NewMtime = trustedTimes(lk.cur, lk.new, lk.read)
	st.RemoteName = t.remote
	if st.CurMtime == 0 || e.opts.DryRun {
		return true, nil
	}
	tx, err := e.store.Begin(ctx, st.ID)
	if err != nil {
		return true, nil // only the shortcut for next time is lost
	}
	if err := tx.UpdateFolder(st); err != nil {
		tx.Rollback()
		return true, nil
	}
	if err := tx.Commit(); err != nil {
		e.log.Debug().Err(err).Str("folder", t.canonical).Msg("recording directory times")
	}
	return true, nil
}

// lookAheadKept bounds the recorded files of the folders lookAhead reads
// and keeps listings of, and so the memory those listings hold until
// their folders' turn.
const lookAheadKept = 50000

// lookAhead starts reading, in the background, the local side of each
// folder the state knows whose directory times are not the recorded ones:
// each such folder's sync begins with that listing (locallyUnchanged, or
// the sync's own). Run calls it before it connects, so that the listings
// are read while the login and the first round travel, and attaches them
// to the folders' tasks. A folder's look is its listing as of the moment
// it was read, as a sync's own listing is: a change made after it shows
// as changed directory times next time. wait waits for every look.
func (e *Engine) lookAhead(ctx context.Context, stored []state.Folder, req Request) (looks map[string]*lookingAhead, wait func()) {
	looks = make(map[string]*lookingAhead)
	var wg gosync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	kept := 0
	for i := range stored {
		st := &stored[i]
		if st.UIDValidity == 0 || !e.wanted(req, st.Name, st.LocalName) {
			continue
		}
		dir, err := e.layout.Dir(e.acct.Local.Path, e.acct.Remote.MapToLocal(st.Name))
		if err != nil || e.localTimesRecorded(folderTask{stored: st, dir: dir}) {
			continue
		}
		if n := int(st.Messages); n <= e.listingKept {
			if kept+n > e.lookAheadKept {
				continue
			}
			kept += n
		}
		la := &lookingAhead{st: st, done: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(la.done)
			slots <- struct{}{}
			defer func() { <-slots }()
			la.lk = e.lookLocal(ctx, st, dir)
			e.log.Debug().Str("folder", st.Name).Bool("unchanged", la.lk.same).Msg("read the local side ahead of the connection")
		}()
		looks[lookKey(st.Name, dir)] = la
	}
	return looks, wg.Wait
}

// lookKey is a look's key in lookAhead's map: the folder's canonical
// name and its directory, as its task has them.
func lookKey(canonical, dir string) string { return canonical + "\x00" + dir }

// lookingAhead is one folder's look taken by lookAhead.
type lookingAhead struct {
	st   *state.Folder
	done chan struct{}
	lk   localLook // once done is closed
}

// wait returns the look, once it is taken.
func (la *lookingAhead) wait() localLook {
	<-la.done
	return la.lk
}

// taken returns the look if it is taken, without waiting.
func (la *lookingAhead) taken() (localLook, bool) {
	select {
	case <-la.done:
		return la.lk, true
	default:
		return localLook{}, false
	}
}

// unchanged reports whether the look is taken and found the folder as the
// state records it.
func (la *lookingAhead) unchanged() bool {
	lk, ok := la.taken()
	return ok && lk.same
}

// toStore reports whether the look is taken and found changes that a
// sync stores on the server, not only new files to upload.
func (la *lookingAhead) toStore() bool {
	lk, ok := la.taken()
	return ok && !lk.same && !lk.onlyAdded
}

// preselects is the NextAhead of a run: each connection being opened is
// given the SELECT of a folder whose look ahead is taken and found local
// changes to store on the server, the largest first. The pool places the
// folder on that connection (connPool.acquire), whatever its kind: one
// whose server side changed too uses the SELECT for its questions. A look
// not yet taken is passed over, not waited for: the login goes out as
// soon as the greeting is in.
// condStore is the first round's guess whether the server has CONDSTORE.
func (e *Engine) preselects(condStore bool, looks map[string]*lookingAhead) NextAhead {
	var cands []*lookingAhead
	for _, la := range looks {
		// A dry run, or a read-only account, stores nothing.
		if la.st.RemoteName != "" && !e.opts.DryRun && !e.acct.Remote.Readonly {
			cands = append(cands, la)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].st, cands[j].st
		if a.Messages != b.Messages {
			return a.Messages > b.Messages
		}
		return a.Name < b.Name
	})
	var mu gosync.Mutex
	return func(context.Context) (remote.Ahead, bool) {
		mu.Lock()
		defer mu.Unlock()
		for i, la := range cands {
			if la != nil && la.toStore() {
				cands[i] = nil
				return remote.Ahead{CondStore: condStore, Select: &remote.AheadSelect{
					Name: la.st.RemoteName, UIDValidity: la.st.UIDValidity}}, true
			}
		}
		return remote.Ahead{}, false
	}
}
