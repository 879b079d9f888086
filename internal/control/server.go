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
	"syscall"
	"time"

	"github.com/rs/zerolog"
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
// answers on is an error (ErrInUse).
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
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

// Serve answers on ln until ctx ends, then closes it.
func Serve(ctx context.Context, ln net.Listener, h Handler, log zerolog.Logger) {
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
		go serveConn(ctx, c, h, log)
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler, log zerolog.Logger) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(c, maxRequest).ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var req Request
	reply := Reply{PID: os.Getpid()}
	if err != nil || json.Unmarshal(line, &req) != nil {
		reply.Error = "malformed request"
	} else {
		switch req.Op {
		case OpStatus:
			reply.Accounts = h.Status()
		case OpSync:
			// A client that hangs up no longer waits; the sync goes on.
			cctx, cancel := context.WithCancel(ctx)
			go func() {
				var b [1]byte
				_, _ = c.Read(b[:])
				cancel()
			}()
			reply.Results, err = h.Sync(cctx, req)
			cancel()
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
