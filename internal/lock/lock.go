// Package lock gives each account an exclusive flock(2) lock, so two
// mailsync processes never sync the same account at once. The kernel drops
// the lock when the process dies, so a crash never leaves a stale lock.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrHeld means another process holds the lock.
var ErrHeld = errors.New("locked by another mailsync")

// Lock is a held lock.
type Lock struct{ f *os.File }

// TryAcquire takes the lock at path, waiting at most some 40 ms. It returns an error
// wrapping ErrHeld when another process has it.
func TryAcquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	// A lock released a moment ago can still be held for a few microseconds
	// by a child process of ours between fork and exec (the descriptor is
	// close-on-exec, not close-on-fork): a short retry tells that apart from
	// another mailsync, which holds the lock for a whole sync.
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			break
		}
	}
	if err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if h := holder(f); h != "" {
				return nil, fmt.Errorf("%s: %w (%s)", path, ErrHeld, h)
			}
			return nil, fmt.Errorf("%s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// The pid is for people looking at the file; the flock is what counts.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error { return l.f.Close() }

// holder describes the process that wrote its pid into the lock file f:
// "pid 1234: mailsync daemon", or "pid 1234" when its command line cannot
// be read, or "" when the file names no pid.
func holder(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	args[0] = filepath.Base(args[0])
	cmd := strings.Join(args, " ")
	if len(cmd) > 120 {
		cmd = cmd[:120] + "…"
	}
	return fmt.Sprintf("pid %d: %s", pid, cmd)
}
