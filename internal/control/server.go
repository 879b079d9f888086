package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"mailsync/internal/lock"
)

// maxRequest bounds a request line.
const maxRequest = 64 << 10

// Handler answers requests.
type Handler interface {
	// Status returns the live view of the accounts served.
	Status() []Account
	// Sync syncs the accounts and returns their results; it returns when
	// the syncs have ended or ctx (the client hung up) has.
	Sync(ctx context.Context, req Request) ([]Result, error)
}

// ErrInUse means another daemon answers on the socket.
var ErrInUse = errors.New("another mailsync daemon is running")

// Listen creates the socket at path, mode 0600 in a directory of mode
// 0700. A socket left by a daemon that died is replaced; one a live daemon
// answers on is an error (ErrInUse). A lock on PATH.lock, held until the
// listener is closed, keeps two daemons that start together from both
// taking the path.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	l, err := lock.TryAcquire(path + ".lock")
	if errors.Is(err, lock.ErrHeld) {
		return nil, fmt.Errorf("%w: it holds %s.lock", ErrInUse, path)
	}
	if err != nil {
		return nil, err
	}
	ln, err := listenLocked(path)
	if err != nil {
		l.Release()
		return nil, err
	}
	return &lockedListener{Listener: ln, lock: l}, nil
}

func listenLocked(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w: it answers on %s", ErrInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// Created 0600 from the start: no moment when others may connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// lockedListener releases the socket's lock when it is closed.
type lockedListener struct {
	net.Listener
	lock *lock.Lock
	once sync.Once
}

func (l *lockedListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { l.lock.Release() })
	return err
}

// ListenFor creates the socket of a daemon of the given accounts (all, if
// none) whose state is in stateDir, in dir: SocketName, or, when the
// daemon of another configuration has that name, a name of its own.
func ListenFor(ctx context.Context, dir string, accounts []string, stateDir string) (net.Listener, error) {
	path := filepath.Join(dir, SocketName(accounts))
	ln, err := Listen(path)
	if !errors.Is(err, ErrInUse) {
		return ln, err
	}
	actx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	if reply, aerr := Ask(actx, path, Request{Op: OpStatus}); aerr == nil && reply.StateDir != stateDir {
		return Listen(filepath.Join(dir, socketNameFor(accounts, stateDir)))
	}
	return nil, err
}

// Serve answers on ln until ctx ends, then closes it. Its replies carry
// stateDir, the daemon's state_dir.
func Serve(ctx context.Context, ln net.Listener, h Handler, stateDir string, log zerolog.Logger) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Error().Err(err).Msg("control socket")
			}
			return
		}
		go serveConn(ctx, c, h, stateDir, log)
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler, stateDir string, log zerolog.Logger) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(c, maxRequest).ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var req Request
	reply := Reply{PID: os.Getpid(), StateDir: stateDir}
	if err != nil || json.Unmarshal(line, &req) != nil {
		reply.Error = "malformed request"
	} else {
		switch req.Op {
		case OpStatus:
			reply.Accounts = h.Status()
		case OpSync:
			// The answer waits for the syncs. A client that hangs up in the
			// meantime is not noticed (it may have only shut down its
			// writing side); the syncs go on either way.
			reply.Results, err = h.Sync(ctx, req)
			if err != nil {
				reply.Error = err.Error()
			}
		default:
			reply.Error = fmt.Sprintf("unknown op %q", req.Op)
		}
	}
	data, _ := json.Marshal(reply)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(data, '\n')); err != nil {
		log.Debug().Err(err).Msg("control socket: answering")
	}
}
