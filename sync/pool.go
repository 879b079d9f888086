package sync

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"

	"mailsync/internal/remote"
)

// foldersPerConn is how many folders share one connection at a time when
// the connection takes several (folderOpener) and the folders do not take
// one to themselves (folderTask.place). Their commands go out in whole
// units and the server runs them one after another, so sharing costs the
// server nothing; what it saves is the client's round trips: a folder waiting for
// an answer no longer holds the connection idle, and no connection is
// opened for it. Through a 30 ms link, the seven folders the bench's
// server changes touch are planned in one round trip and pulled in one
// more, on the connection that asked for their STATUS.
const foldersPerConn = 8

// folderOpener is a connection that several folders can share, each with
// a handle of its own (*remote.Conn).
type folderOpener interface {
	Folder() *remote.Folder
}

// dropper is a connection that tells whether mailsync closed it for one
// command's failure (*remote.Conn).
type dropper interface {
	Dropped() bool
}

// connPool hands out up to max connections, each to up to per folders at
// a time, filling the connections already open before it opens another.
// A connection a folder failed on takes no more folders and is closed when
// its last folder is done.
type connPool struct {
	dial  Dialer
	per   int
	mu    gosync.Mutex
	freed *gosync.Cond
	slots []*connSlot
}

// placeKind is how a folder uses a connection.
type placeKind int

const (
	// placeShared: the folder's commands go out beside those of the
	// other folders on the connection, whose round trips overlap.
	placeShared placeKind = iota
	// placeTurns: the folder keeps the connection's selection from its
	// SELECT to its STORE (remote.Folder.Claim), and the folders on the
	// connection take turns, the next one's SELECT going out with the
	// STORE before it. A STORE waits for its folder's SELECT to be
	// answered with nothing else selected since: sharing as the others
	// do, each STORE would have to SELECT again, a round trip of its own.
	placeTurns
	// placeAlone: the folder takes the connection to itself. With bodies
	// to download, a folder sharing it would only wait behind the
	// download, and downloads run side by side on connections of their
	// own.
	placeAlone
)

// connSlot is one place for a connection.
type connSlot struct {
	dialMu gosync.Mutex // held while the slot's connection is dialled
	conn   Remote       // nil until dialled, and after it is retired
	users  int
	kind   placeKind // of its users, while it has any
	broken bool      // retire conn once users is 0
	// attaching: attach is opening conn; acquire leaves the slot alone
	// until it is open.
	attaching bool
}

func newConnPool(dial Dialer, max, per int, first Remote) *connPool {
	p := &connPool{dial: dial, per: per}
	p.freed = gosync.NewCond(&p.mu)
	for i := 0; i < max; i++ {
		p.slots = append(p.slots, &connSlot{})
	}
	p.slots[0].conn = first
	return p
}

// acquire reserves a place of kind for one folder, named as the server
// names it. A connection that sent that folder's SELECT behind its login
// (remote.Ahead.Select) is its place. Otherwise acquire takes a connection
// that no folder uses, or else opens one, before it puts a folder beside
// others of its kind: a shared folder joins the connection such folders
// already use, or one being opened for them, a folder taking turns the
// connection with the fewest waiting. A connection that selected another
// folder behind its login is taken last, and a folder taking turns waits
// for the connections still being attached (attach) before it takes
// another. acquire waits while no place fits, and returns nil if done is
// closed first; done must be one that wakeOn watches, or close with it.
func (p *connPool) acquire(done <-chan struct{}, kind placeKind, folder string) *connSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		select {
		case <-done:
			return nil
		default:
		}
		var idle, empty, shared, dialing, turns, mine, reserved *connSlot
		attaching := false
		for _, s := range p.slots {
			if s.attaching {
				attaching = true
				continue
			}
			if pre := preselected(s); pre != "" {
				if pre == folder && mine == nil {
					mine = s
				} else if reserved == nil {
					reserved = s
				}
				continue
			}
			switch {
			case s.broken || s.users >= p.per:
			case s.users == 0 && s.conn != nil && idle == nil:
				idle = s
			case s.users == 0 && s.conn == nil && empty == nil:
				empty = s
			case s.users == 0 || s.kind != kind:
			case kind == placeTurns && (turns == nil || s.users < turns.users):
				turns = s
			case s.conn != nil && shared == nil:
				shared = s
			case s.conn == nil && dialing == nil:
				dialing = s
			}
		}
		order := []*connSlot{mine, idle, shared, dialing, empty, reserved}
		switch kind {
		case placeAlone:
			order = []*connSlot{mine, idle, empty, reserved}
		case placeTurns:
			order = []*connSlot{mine, idle, empty, turns, reserved}
			if mine == nil && attaching {
				order = nil // its connection may be among them
			}
		}
		for _, s := range order {
			if s == nil {
				continue
			}
			s.kind = kind
			if kind == placeAlone {
				s.users = p.per
			} else {
				s.users++
			}
			return s
		}
		p.freed.Wait()
	}
}

// preselected is the folder whose SELECT the slot's connection sent behind
// its login and still keeps for it, if no folder uses the slot; "" if
// none.
func preselected(s *connSlot) string {
	if s.users > 0 || s.broken || s.conn == nil {
		return ""
	}
	if ps, ok := s.conn.(interface{ Preselected() string }); ok {
		return ps.Preselected()
	}
	return ""
}

// attach opens the connections of slots 1 to n, in the background, so
// that acquire knows which folder each selected behind its login: they
// are the ones opened ahead of the run (Options.DialAhead). wait waits
// for them.
func (p *connPool) attach(ctx context.Context, n int) (wait func()) {
	var wg gosync.WaitGroup
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots[1:min(1+n, len(p.slots))] {
		s.attaching = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A connection that fails is opened anew by its first folder.
			_, _ = p.conn(ctx, s)
			p.mu.Lock()
			s.attaching = false
			p.freed.Broadcast()
			p.mu.Unlock()
		}()
	}
	return wg.Wait
}

// conn returns the slot's connection, opening it if there is none: the
// first folder on a slot dials, the others on it wait for that.
func (p *connPool) conn(ctx context.Context, s *connSlot) (Remote, error) {
	s.dialMu.Lock()
	defer s.dialMu.Unlock()
	p.mu.Lock()
	c := s.conn
	p.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	s.conn = c
	p.mu.Unlock()
	return c, nil
}

// release gives a folder's place back (all of the connection, for a folder
// alone); failed marks the connection as not to be used again (it may be
// mid-command or dropped).
func (p *connPool) release(s *connSlot, kind placeKind, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kind == placeAlone {
		s.users -= p.per
	} else {
		s.users--
	}
	if failed && s.conn != nil {
		s.broken = true
	}
	if s.broken && s.users == 0 {
		s.conn.Close()
		s.conn, s.broken = nil, false
	}
	p.freed.Broadcast()
}

// close closes the connections still open; every folder is done.
func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
	}
}

// runTask syncs one folder in a place of the pool. A folder that failed on
// a connection mailsync dropped for one command's failure (a MULTIAPPEND
// answered BAD, whose literals the server may have lost track of) is
// synced once more, on another connection: the drop ended the connection
// for every folder on it. Syncing a folder again is what the next run
// would do; a folder whose own command failed fails again.
func (e *Engine) runTask(ctx context.Context, pool *connPool, s *connSlot, t folderTask, req Request) FolderResult {
	kind := t.place()
	if t.localCheck {
		same, l := e.locallyUnchanged(ctx, t)
		if same {
			pool.release(s, kind, false)
			return FolderResult{Folder: t.canonical, Unchanged: true}
		}
		t.listing = l
	} else if t.look != nil {
		// The server side changed too, or the folder is due for a full
		// comparison: the sync reads what the look read, instead of
		// listing the folder again.
		t.listing = t.look.wait().listing
	}
	started := false
	var res FolderResult
	for try := 0; ; try++ {
		var dropped bool
		res, dropped = e.runOn(ctx, pool, s, t, req, &started)
		pool.release(s, kind, res.Err != nil)
		// The folder whose command had the connection dropped is not
		// synced again: it would drop the next one too.
		if res.Err == nil || !dropped || errors.Is(res.Err, remote.ErrDropped) || try > 0 || ctx.Err() != nil {
			break
		}
		e.log.Debug().Str("folder", t.canonical).Err(res.Err).Msg("the connection was dropped for a command's failure; syncing the folder again on another")
		// As the next run would: what was known of the folder before the
		// first try is stale. Its listing would miss the files that try
		// delivered (and take them for deleted), and its STATUS the
		// messages it appended; the state may hold a record it made.
		t.listing, t.status = nil, nil
		f, ok, err := e.store.Folder(ctx, t.canonical)
		if err != nil {
			break
		}
		if ok {
			t.stored = &f
		}
		if s = pool.acquire(ctx.Done(), kind, t.remote); s == nil {
			break
		}
	}
	if res.Err != nil {
		var fe *FolderError
		err := res.Err
		if errors.As(err, &fe) {
			err = fe.Err
		}
		if ctx.Err() != nil {
			// A signal cut the folder short; runTasks reports the run as
			// interrupted, once, rather than this as a failure.
			e.log.Debug().Str("folder", t.canonical).Err(err).Msg("folder interrupted")
		} else {
			e.log.Error().Str("folder", t.canonical).Err(err).Msg("folder sync failed")
		}
	}
	if started {
		e.emit(Event{Folder: t.canonical, Kind: FolderFinished, Result: &res})
	}
	return res
}

// runOn syncs t on the connection of s; started is set once the folder is
// announced. dropped reports that mailsync dropped the connection.
func (e *Engine) runOn(ctx context.Context, pool *connPool, s *connSlot, t folderTask, req Request, started *bool) (_ FolderResult, dropped bool) {
	conn, err := pool.conn(ctx, s)
	if err != nil {
		fe := &FolderError{Account: e.acct.Name, Folder: t.canonical, Err: fmt.Errorf("opening a connection: %w", err)}
		return FolderResult{Folder: t.canonical, Err: fe}, false
	}
	d, _ := conn.(dropper)
	if o, ok := conn.(folderOpener); ok {
		f := o.Folder()
		if t.place() == placeTurns {
			f.Claim()
			defer f.Release()
		}
		conn = f
	}
	if !*started {
		*started = true
		e.emit(Event{Folder: t.canonical, Kind: FolderStarted})
	}
	res := e.syncFolder(ctx, conn, t, req)
	return res, d != nil && d.Dropped()
}

// wakeOn returns a channel closed when ctx ends or stop is closed, which
// also wakes every acquire waiting then, and the function that lets go of
// it (the daemon's ctx and stop outlive a run).
func (p *connPool) wakeOn(ctx context.Context, stop <-chan struct{}) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		case <-quit:
			return
		}
		close(ch)
		p.mu.Lock()
		p.freed.Broadcast()
		p.mu.Unlock()
	}()
	var once gosync.Once
	return ch, func() { once.Do(func() { close(quit) }) }
}
