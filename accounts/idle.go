package accounts

import (
	"context"
	"time"

	"mailsync/internal/remote"
)

// pollInterval is how often a folder is polled with NOOP on a server
// without IDLE.
const pollInterval = 30 * time.Second

// idleConn is what the loop needs of a held connection; *remote.Conn has
// it. It is not part of the engine's Remote: only the daemon holds
// connections.
type idleConn interface {
	Select(ctx context.Context, name string, readOnly bool) (remote.Status, error)
	CanIdle() bool
	Idle(ctx context.Context, keepalive time.Duration) (changed bool, err error)
	Poll(ctx context.Context) (changed bool, err error)
	Close() error
}

// runIdle holds one connection in IDLE per idle_folders entry until the
// loop ends, and drops and reopens them all when told to (after a resume,
// when they are dead).
func (l *loop) runIdle(parent context.Context) {
	folders := l.acct.cfg.Schedule.IdleFolders
	if len(folders) == 0 {
		return
	}
	for {
		ctx, cancel := context.WithCancel(parent)
		done := make(chan struct{}, len(folders))
		for _, f := range folders {
			go func() {
				defer func() { done <- struct{}{} }()
				l.holdIdle(ctx, f)
			}()
		}
		restart := false
		select {
		case <-l.stopping:
		case <-parent.Done():
		case <-l.restartIdle:
			restart = true
		}
		cancel()
		for range folders {
			<-done
		}
		if !restart {
			return
		}
		l.log.Info().Msg("reopening the IDLE connections")
	}
}

// holdIdle keeps folder in IDLE until ctx ends. A connection that held
// for a while and dropped is reopened at once; one that fails sooner is
// retried after a back-off like a failed sync's, logged once per step.
func (l *loop) holdIdle(ctx context.Context, folder string) {
	log := l.log.With().Str("folder", folder).Logger()
	failures := 0
	for ctx.Err() == nil {
		since, err := l.idleOnce(ctx, folder)
		if ctx.Err() != nil {
			return
		}
		if !since.IsZero() && time.Since(since) >= idleHeld {
			log.Info().Err(err).Msg("IDLE connection lost; reconnecting")
			failures = 0
			continue
		}
		failures++
		wait := backoff(failures, nil)
		log.Warn().Err(err).Dur("retry_in", wait.Round(time.Second)).Msg("IDLE: cannot hold the folder")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// idleHeld is how long an IDLE connection must have held for its loss to
// be reconnected at once.
const idleHeld = 10 * time.Second

// idleOnce opens a connection, selects folder read-only and waits in IDLE
// (or polls) until an error; each reported change asks the loop to sync
// the folder. since is when the waiting began (zero if it never did).
func (l *loop) idleOnce(ctx context.Context, folder string) (since time.Time, err error) {
	name, err := l.remoteName(ctx, folder)
	if err != nil {
		return since, err
	}
	conn, err := l.d.dialIdle(ctx, l.acct)
	if err != nil {
		return since, err
	}
	defer conn.Close()
	if _, err := conn.Select(ctx, name, true); err != nil {
		return since, err
	}
	since = time.Now()
	l.setIdle(folder, true)
	defer l.setIdle(folder, false)
	keepalive := l.acct.cfg.Schedule.Keepalive
	if !conn.CanIdle() {
		l.polling.Do(func() {
			l.log.Warn().Msgf("the server does not offer IDLE; polling idle_folders with NOOP every %s", min(pollInterval, keepalive))
		})
		for {
			select {
			case <-ctx.Done():
				return since, ctx.Err()
			case <-time.After(min(pollInterval, keepalive)):
			}
			changed, err := conn.Poll(ctx)
			if err != nil {
				return since, err
			}
			if changed {
				l.submit(work{folders: folderSet(folder), full: true, idle: true})
			}
		}
	}
	for {
		changed, err := conn.Idle(ctx, keepalive)
		if err == nil && !changed && ctx.Err() == nil {
			// keepalive passed in silence: a NOOP, which some servers and
			// middleboxes want to see besides IDLE, before the next IDLE.
			changed, err = conn.Poll(ctx)
		}
		if err != nil {
			return since, err
		}
		if changed {
			l.log.Debug().Str("folder", folder).Msg("IDLE: the server reported a change")
			l.submit(work{folders: folderSet(folder), full: true, idle: true})
		}
	}
}

// remoteName is folder's name on the server, as the last sync recorded
// it; idle_folders may give the canonical name or the local one.
func (l *loop) remoteName(ctx context.Context, folder string) (string, error) {
	st, err := l.acct.Store(ctx)
	if err != nil {
		return "", err
	}
	fs, err := st.Folders(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if (f.Name == folder || f.LocalName == folder) && f.RemoteName != "" {
			return f.RemoteName, nil
		}
	}
	return "", &notSyncedError{folder}
}

type notSyncedError struct{ folder string }

func (e *notSyncedError) Error() string {
	return "idle_folders: no synced folder " + e.folder + "; check the name (as in the folders patterns)"
}

// setIdle marks folder as held in IDLE, or no longer.
func (l *loop) setIdle(folder string, on bool) {
	l.mu.Lock()
	idle := l.status.Idle[:0:0]
	for _, f := range l.status.Idle {
		if f != folder {
			idle = append(idle, f)
		}
	}
	if on {
		idle = append(idle, folder)
	}
	l.status.Idle = idle
	if l.status.State == StateIdle || l.status.State == StateWaiting {
		switch {
		case l.status.Failures > 0:
		case len(idle) > 0:
			l.status.State = StateIdle
		default:
			l.status.State = StateWaiting
		}
	}
	l.mu.Unlock()
	l.d.changed()
}
