package accounts

import (
	"context"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"mailsync/config"
	"mailsync/internal/maildir"
	msync "mailsync/sync"
)

const (
	// watchQuiet is how long the local watch waits for a folder's changes
	// to settle before syncing it: a mail client often renames several
	// files at once.
	watchQuiet = time.Second
	// watchMaxWait bounds the wait when changes keep coming.
	watchMaxWait = 5 * time.Second
	// ownExpiry is how long an announced change of mailsync's own waits
	// for its event before it is forgotten.
	ownExpiry = time.Minute
)

// localWatch watches new/ and cur/ of every synced folder of an account
// with inotify (fsnotify) and asks the loop to sync the folders a mail
// client changed, once their changes have settled. The engine announces
// each file it changes itself (maildir.Folder.Changing); the event each
// such change causes is recognised and ignored, so a sync never triggers
// another.
type localWatch struct {
	l *loop
	w *fsnotify.Watcher

	mu      gosync.Mutex
	dirs    map[string]string     // watched directory → folder (canonical name)
	own     map[string]pendingOwn // announced paths not yet seen
	changed map[string]bool       // folders changed since the last submit
	first   time.Time             // first change not yet submitted
}

// pendingOwn counts the events still expected for one path.
type pendingOwn struct {
	n       int
	expires time.Time
}

func newLocalWatch(l *loop) (*localWatch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	lw := &localWatch{l: l, w: w, dirs: map[string]string{}, own: map[string]pendingOwn{}, changed: map[string]bool{}}
	lw.refresh()
	return lw, nil
}

func (lw *localWatch) close() { lw.w.Close() }

// ownChange records that mailsync is about to change path (engine.LocalChange).
func (lw *localWatch) ownChange(path string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if _, watched := lw.dirs[filepath.Dir(path)]; !watched {
		// No event will come (a folder the sync is creating): an entry
		// would only wait to swallow a later change of the client's.
		return
	}
	c := lw.own[path]
	c.n++
	c.expires = time.Now().Add(ownExpiry)
	lw.own[path] = c
}

// refresh watches the account's local folders as they are now: a sync
// may have created some, a user removed others.
func (lw *localWatch) refresh() {
	folders, err := LocalFolders(lw.l.acct.cfg)
	if err != nil {
		lw.l.log.Debug().Err(err).Msg("watch_local: listing the local folders")
	}
	want := map[string]string{}
	for _, f := range folders {
		for _, sub := range []string{"new", "cur"} {
			want[filepath.Join(f.Dir, sub)] = f.Name
		}
	}
	// The watcher is changed without lw.mu held: fsnotify may hold its
	// own lock while it waits for run, which may wait for lw.mu.
	lw.mu.Lock()
	var gone, added []string
	for d := range lw.dirs {
		if _, ok := want[d]; !ok {
			gone = append(gone, d)
			delete(lw.dirs, d)
		}
	}
	for d := range want {
		if _, ok := lw.dirs[d]; !ok {
			added = append(added, d)
		}
	}
	lw.mu.Unlock()
	for _, d := range gone {
		_ = lw.w.Remove(d)
	}
	for _, d := range added {
		if err := lw.w.Add(d); err != nil {
			lw.l.log.Warn().Err(err).Str("dir", d).Msg("watch_local: cannot watch; changes there wait for the next autorefresh")
			continue
		}
		lw.mu.Lock()
		lw.dirs[d] = want[d]
		lw.mu.Unlock()
	}
}

// LocalFolder is a synced folder of an account's Maildir.
type LocalFolder struct {
	Name string // canonical remote name
	Dir  string // its directory (holding cur/, new/, tmp/)
}

// LocalFolders lists the local folders of acct that its folders patterns
// select, as the Maildir holds them now: what the local watch and the path
// unit watch.
func LocalFolders(acct *config.Account) ([]LocalFolder, error) {
	layout := layoutOf(acct)
	names, err := layout.List(acct.Local.Path)
	var out []LocalFolder
	for _, n := range names {
		canonical, ok := acct.Remote.MapToRemote(n)
		if !ok || (acct.Remote.Filter != nil && !acct.Remote.Filter.Match(canonical)) {
			continue
		}
		if dir, derr := layout.Dir(acct.Local.Path, n); derr == nil {
			out = append(out, LocalFolder{Name: canonical, Dir: dir})
		}
	}
	return out, err
}

func layoutOf(acct *config.Account) maildir.Layout { return msync.LocalLayout(acct) }

// run handles events until ctx ends or stop is closed.
func (lw *localWatch) run(ctx context.Context, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case ev, ok := <-lw.w.Events:
			if !ok {
				return
			}
			if lw.event(ev) {
				timer.Reset(lw.delay())
			}
		case err, ok := <-lw.w.Errors:
			if !ok {
				return
			}
			// An overflow loses events: sync everything watched.
			lw.l.log.Warn().Err(err).Msg("watch_local: events were lost; syncing every watched folder")
			lw.mu.Lock()
			for _, f := range lw.dirs {
				lw.changed[f] = true
			}
			lw.mu.Unlock()
			timer.Reset(0)
		case <-timer.C:
			if folders := lw.take(); len(folders) > 0 {
				lw.l.submit(work{folders: folderSet(folders...), full: true})
			}
		}
	}
}

// event notes one event; it reports whether it was a mail client's change.
func (lw *localWatch) event(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	now := time.Now()
	if c, ok := lw.own[ev.Name]; ok && !now.After(c.expires) {
		if c.n--; c.n <= 0 {
			delete(lw.own, ev.Name)
		} else {
			lw.own[ev.Name] = c
		}
		return false
	}
	for p, c := range lw.own {
		if now.After(c.expires) {
			delete(lw.own, p)
		}
	}
	folder, ok := lw.dirs[filepath.Dir(ev.Name)]
	if !ok {
		return false
	}
	lw.changed[folder] = true
	if lw.first.IsZero() {
		lw.first = now
	}
	return true
}

// delay is how long to wait now for the changes to settle.
func (lw *localWatch) delay() time.Duration {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return min(watchQuiet, max(0, time.Until(lw.first.Add(watchMaxWait))))
}

// take returns the changed folders and starts afresh.
func (lw *localWatch) take() []string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	var out []string
	for f := range lw.changed {
		out = append(out, f)
	}
	lw.changed = map[string]bool{}
	lw.first = time.Time{}
	return out
}
