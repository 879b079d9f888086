package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Sub is a Maildir subdirectory that holds delivered messages.
type Sub string

const (
	Cur Sub = "cur"
	New Sub = "new"
)

// Entry is one delivered message file.
type Entry struct {
	Sub  Sub
	File string // file name in Sub
	Name Name
}

// Path returns the file's path inside folder dir.
func (e Entry) Path(dir string) string { return filepath.Join(dir, string(e.Sub), e.File) }

// Problem is a file that Scan skipped, with the reason. Scan never fails on
// a bad file: one odd file must not stop a folder from syncing.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// Folder is one Maildir directory (holding cur/, new/ and tmp/).
type Folder struct {
	Dir   string
	Fsync bool // fsync files and directories; off only for throwaway trees
	// DeferDirSync makes Rename and Remove leave the directory fsync to a
	// later SyncDirs, so a caller changing many files pays for it once. The
	// caller must call SyncDirs before it records the changes anywhere.
	DeferDirSync bool
	// Changing, if set, is called with the path of each file in cur/ or
	// new/ just before this Folder adds, renames (both names) or removes
	// it, so that a watcher of the directories can tell mailsync's own
	// changes from a mail client's.
	Changing func(path string)
	dirty    [2]bool // new/, cur/ changed since the last SyncDirs
}

func (f *Folder) changing(paths ...string) {
	if f.Changing != nil {
		for _, p := range paths {
			f.Changing(p)
		}
	}
}

func (f *Folder) syncSub(sub Sub) error {
	if !f.Fsync {
		return nil
	}
	if f.DeferDirSync {
		f.dirty[subIndex(sub)] = true
		return nil
	}
	return syncDir(filepath.Join(f.Dir, string(sub)))
}

func subIndex(s Sub) int {
	if s == Cur {
		return 1
	}
	return 0
}

// Exists reports whether the folder has its cur/ and new/ directories.
func (f *Folder) Exists() bool {
	for _, s := range []string{"cur", "new"} {
		st, err := os.Lstat(filepath.Join(f.Dir, s))
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// Create makes the folder's directories if they are missing.
func (f *Folder) Create() error {
	for _, s := range []string{"", "cur", "new", "tmp"} {
		p := filepath.Join(f.Dir, s)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	if f.Fsync {
		return syncDir(filepath.Dir(f.Dir))
	}
	return nil
}

// DirTimes returns the modification times of cur/ and new/, which change
// whenever a file in them is added, renamed or removed.
func (f *Folder) DirTimes() (cur, new int64, err error) {
	c, err := os.Stat(filepath.Join(f.Dir, "cur"))
	if err != nil {
		return 0, 0, err
	}
	n, err := os.Stat(filepath.Join(f.Dir, "new"))
	if err != nil {
		return 0, 0, err
	}
	return c.ModTime().UnixNano(), n.ModTime().UnixNano(), nil
}

// Scan lists the messages in cur/ and new/ using readdir only. Files with bad
// names, non-regular files and symlinks are returned as problems. When two
// files share a key, the one in cur/ wins and the other is a problem.
//
// A listing is not atomic: a file a mail client renames while readdir runs
// can be missed. Scan therefore reads new/ before cur/ (so a new→cur move
// is seen at least once) and repeats until the directory times are the same
// before and after; stable reports whether it got there. Callers must not
// treat a file missing from an unstable scan as deleted.
func (f *Folder) Scan() (entries []Entry, problems []Problem, stable bool, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		c0, n0, err := f.DirTimes()
		if err != nil {
			return nil, nil, false, err
		}
		entries, problems, err = f.scanOnce()
		if err != nil {
			return nil, nil, false, err
		}
		same, err := f.Unchanged(c0, n0)
		if err != nil {
			return nil, nil, false, err
		}
		if same {
			return entries, problems, true, nil
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return entries, problems, false, nil
}

// Unchanged reports whether cur/ and new/ still have the times cur and nw,
// read before a listing, so that the listing saw every change made before
// now. Directory times come from a coarse clock: a change made within the
// same tick as that first look leaves them equal. A directory touched in
// the last few milliseconds is therefore not trusted.
func (f *Folder) Unchanged(cur, nw int64) (bool, error) {
	c, n, err := f.DirTimes()
	if err != nil {
		return false, err
	}
	recent := time.Now().Add(-20 * time.Millisecond).UnixNano()
	return c == cur && n == nw && c < recent && n < recent, nil
}

func (f *Folder) scanOnce() ([]Entry, []Problem, error) {
	var problems []Problem
	var lists [2][]os.DirEntry
	for i, sub := range []Sub{New, Cur} {
		des, err := readDirUnsorted(filepath.Join(f.Dir, string(sub)))
		if err != nil {
			return nil, nil, err
		}
		lists[i] = des
	}
	total := len(lists[0]) + len(lists[1])
	entries := make([]Entry, 0, total)
	seen := make(map[string]int, total)
	for i, sub := range []Sub{New, Cur} {
		dir := filepath.Join(f.Dir, string(sub))
		for _, de := range lists[i] {
			name := de.Name()
			if name[0] == '.' {
				continue
			}
			if !de.Type().IsRegular() {
				problems = append(problems, Problem{filepath.Join(dir, name), fmt.Errorf("not a regular file (%s); skipped", typeName(de.Type()))})
				continue
			}
			n, err := ParseName(name)
			if err != nil {
				problems = append(problems, Problem{filepath.Join(dir, name), fmt.Errorf("%v; skipped", err)})
				continue
			}
			p := func() string { return filepath.Join(dir, name) }
			if i, dup := seen[n.Key]; dup {
				if sub == Cur && entries[i].Sub == New {
					// The cur/ copy is the one clients use. If this is a
					// new→cur move seen mid-flight, the rescan drops the
					// report; if it persists, it is a real duplicate.
					old := entries[i]
					entries[i] = Entry{Sub: sub, File: name, Name: n}
					problems = append(problems, Problem{filepath.Join(f.Dir, string(old.Sub), old.File),
						fmt.Errorf("same unique part as cur/%s; skipped", name)})
					continue
				}
				problems = append(problems, Problem{p(), fmt.Errorf("same unique part as %s; skipped", entries[i].File)})
				continue
			}
			seen[n.Key] = len(entries)
			entries = append(entries, Entry{Sub: sub, File: name, Name: n})
		}
	}
	return entries, problems, nil
}

// Each calls fn for every message file in new/, then cur/, as readdir
// returns them a batch at a time, so that a folder of any size is read in
// bounded memory. Unlike Scan it holds nothing: it neither drops a second
// file with the same key nor rescans, and it only counts the files Scan
// would report as problems (bad names, non-regular files). Callers that
// need a consistent listing compare the directory times around it.
func (f *Folder) Each(fn func(Entry)) (problems int, err error) {
	for _, sub := range []Sub{New, Cur} {
		d, err := os.Open(filepath.Join(f.Dir, string(sub)))
		if err != nil {
			return problems, err
		}
		for {
			des, err := d.ReadDir(1024)
			for _, de := range des {
				name := de.Name()
				if name[0] == '.' {
					continue
				}
				n, perr := ParseName(name)
				if !de.Type().IsRegular() || perr != nil {
					problems++
					continue
				}
				fn(Entry{Sub: sub, File: name, Name: n})
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				d.Close()
				return problems, err
			}
		}
		d.Close()
	}
	return problems, nil
}

// readDirUnsorted is os.ReadDir without the sort, which a 100,000-file
// folder would pay for on every scan for nothing.
func readDirUnsorted(dir string) ([]os.DirEntry, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// FindKey looks for the file whose unique part is key, in new/ and cur/.
func (f *Folder) FindKey(key string) (Entry, bool, error) {
	es, _, err := f.scanOnce()
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range es {
		if e.Name.Key == key {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink, never followed"
	case m.IsDir():
		return "directory"
	default:
		return m.Type().String()
	}
}

// Open opens a message file for reading without following a symlink that
// replaced it since the scan.
func (f *Folder) Open(e Entry) (*os.File, error) {
	fl, err := os.OpenFile(e.Path(f.Dir), os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	st, err := fl.Stat()
	if err != nil {
		fl.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fl.Close()
		return nil, fmt.Errorf("%s: not a regular file", e.Path(f.Dir))
	}
	return fl, nil
}

// NewKey returns a fresh unique part for a delivered file name.
func NewKey(now time.Time) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	host = sanitizeHost(host)
	// Time, pid and random bits make the name unique across processes and
	// within one, as the Maildir spec asks, without a shared counter.
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return strconv.FormatInt(now.Unix(), 10) + ".M" + strconv.FormatInt(int64(now.Nanosecond()/1000), 10) +
		"P" + strconv.Itoa(os.Getpid()) + "R" + hex.EncodeToString(rnd[:]) + "." + host
}

func sanitizeHost(h string) string {
	b := []byte(h)
	for i, c := range b {
		if c == '/' || c == ':' || c == ',' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Pending is a message being written into tmp/. It becomes visible in cur/
// or new/ only through Commit, so a crash or an Abort leaves at most a file
// in tmp/, which mail clients ignore and CleanTmp removes.
type Pending struct {
	f      *Folder
	file   *os.File
	tmp    string
	key    string
	synced bool // the data is durable already (SyncPending)
}

// NewPending creates a file in tmp/ for a message with a fresh unique key.
func (f *Folder) NewPending(now time.Time) (*Pending, error) {
	key := NewKey(now)
	tmp := filepath.Join(f.Dir, "tmp", key)
	fl, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		return nil, err
	}
	return &Pending{f: f, file: fl, tmp: tmp, key: key}, nil
}

// Key is the unique part the committed file will have.
func (p *Pending) Key() string { return p.key }

// Write writes message bytes.
func (p *Pending) Write(b []byte) (int, error) { return p.file.Write(b) }

// Written tells that the whole message has been written. With Fsync, the
// file's writeback to the disk starts now (on Linux), while the next
// message downloads, so the fsync that later makes it durable has less to
// wait for.
func (p *Pending) Written() {
	if p.f.Fsync && p.file != nil {
		startWriteback(p.file)
	}
}

// SyncPending makes the messages written to ps durable, the fsyncs issued
// at once: the file system then commits them together, where one after the
// other each waits for its own journal commit. The messages stay in tmp/
// until committed; Commit then skips its own fsync. Without Fsync it does
// nothing.
func SyncPending(ps []*Pending) error {
	if len(ps) == 0 || !ps[0].f.Fsync {
		return nil
	}
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range ps {
		if p.file == nil || p.synced {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = p.file.Sync()
		}()
	}
	wg.Wait()
	for i, p := range ps {
		if errs[i] != nil {
			return errs[i]
		}
		p.synced = p.file != nil
	}
	return nil
}

// Abort removes the tmp file. It is safe to call after Commit.
func (p *Pending) Abort() {
	if p.file != nil {
		p.file.Close()
		os.Remove(p.tmp)
		p.file = nil
	}
}

// Commit fsyncs the file, sets its mtime, renames it into cur/ (when flags
// contain S) or new/, and fsyncs that directory. n.Key is replaced by the
// pending key. On error the tmp file is removed.
func (p *Pending) Commit(n Name, mtime time.Time) (Entry, error) {
	e, err := p.CommitNoDirSync(n, mtime)
	if err == nil && p.f.Fsync && !p.f.DeferDirSync {
		err = syncDir(filepath.Join(p.f.Dir, string(e.Sub)))
		p.f.dirty[subIndex(e.Sub)] = false
	}
	return e, err
}

// CommitNoDirSync is Commit without the final directory fsync, for callers
// that deliver many messages and call SyncDirs once before recording them:
// until then a crash may lose the rename, which only means the message is
// downloaded again.
func (p *Pending) CommitNoDirSync(n Name, mtime time.Time) (Entry, error) {
	if p.file == nil {
		return Entry{}, errors.New("maildir: commit of an aborted delivery")
	}
	n.Key = p.key
	sub := New
	if containsFlag(n.Flags, 'S') {
		sub = Cur
	}
	n.HasInfo = !(sub == New && n.Flags == "" && n.Keywords == "")
	if p.f.Fsync && !p.synced {
		if err := p.file.Sync(); err != nil {
			p.Abort()
			return Entry{}, err
		}
	}
	err := p.file.Close()
	p.file = nil
	if err != nil {
		os.Remove(p.tmp)
		return Entry{}, err
	}
	if !mtime.IsZero() {
		// Mail clients and offlineimap read the delivery date from the mtime.
		_ = os.Chtimes(p.tmp, mtime, mtime)
	}
	e := Entry{Sub: sub, File: n.String(), Name: n}
	p.f.changing(e.Path(p.f.Dir))
	if err := os.Rename(p.tmp, e.Path(p.f.Dir)); err != nil {
		os.Remove(p.tmp)
		return Entry{}, err
	}
	p.f.dirty[subIndex(sub)] = true
	return e, nil
}

// SyncDirs fsyncs the directories changed since the last call (with
// DeferDirSync) or, for CommitNoDirSync deliveries, both: all renames and
// removals into and out of them are durable afterwards.
func (f *Folder) SyncDirs() error {
	if !f.Fsync {
		return nil
	}
	for i, s := range []Sub{New, Cur} {
		if !f.dirty[i] {
			continue
		}
		if err := syncDir(filepath.Join(f.Dir, string(s))); err != nil {
			return err
		}
		f.dirty[i] = false
	}
	return nil
}

// Rename gives e the name n, moving it to cur/ as mail clients do once a
// message has flags. It returns the new entry.
func (f *Folder) Rename(e Entry, n Name) (Entry, error) {
	n.HasInfo = true
	return f.rename(e, Entry{Sub: Cur, File: n.String(), Name: n})
}

// Relabel gives e the name n in the directory it is in, with its info
// part only if it had one: a message a mail client put in new/ stays
// there, so that the client still shows it as new.
func (f *Folder) Relabel(e Entry, n Name) (Entry, error) {
	n.HasInfo = e.Name.HasInfo
	return f.rename(e, Entry{Sub: e.Sub, File: n.String(), Name: n})
}

func (f *Folder) rename(e, ne Entry) (Entry, error) {
	if ne.Sub == e.Sub && ne.File == e.File {
		return e, nil
	}
	f.changing(e.Path(f.Dir), ne.Path(f.Dir))
	if err := os.Rename(e.Path(f.Dir), ne.Path(f.Dir)); err != nil {
		return e, err
	}
	if err := f.syncSub(ne.Sub); err != nil {
		return ne, err
	}
	if e.Sub != ne.Sub {
		if err := f.syncSub(e.Sub); err != nil {
			return ne, err
		}
	}
	return ne, nil
}

// Remove deletes e. A file that is already gone is not an error: the goal
// state is reached either way.
func (f *Folder) Remove(e Entry) error {
	f.changing(e.Path(f.Dir))
	if err := os.Remove(e.Path(f.Dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return f.syncSub(e.Sub)
}

// CleanTmp removes files in tmp/ older than age: leftovers of interrupted
// deliveries (ours or another writer's), as the Maildir spec suggests.
func (f *Folder) CleanTmp(now time.Time, age time.Duration) {
	dir := filepath.Join(f.Dir, "tmp")
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err == nil && now.Sub(info.ModTime()) > age {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

func containsFlag(flags string, c byte) bool {
	for i := 0; i < len(flags); i++ {
		if flags[i] == c {
			return true
		}
	}
	return false
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
