package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxReply bounds a reply line.
const maxReply = 16 << 20

// findTimeout bounds how long Find waits for one daemon's answer.
const findTimeout = 3 * time.Second

// ErrNoDaemon means no daemon answered on the socket.
var ErrNoDaemon = errors.New("no daemon answers")

// Ask sends req to the daemon at path and returns its reply. A socket
// nobody answers on is ErrNoDaemon.
func Ask(ctx context.Context, path string, req Request) (Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Reply{}, fmt.Errorf("%w on %s: %v", ErrNoDaemon, path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	data, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	if _, err := c.Write(append(data, '\n')); err != nil {
		return Reply{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	r := bufio.NewReaderSize(c, 64<<10)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxReply {
			return Reply{}, fmt.Errorf("control socket %s: reply too long", path)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if ctx.Err() != nil {
				return Reply{}, ctx.Err()
			}
			return Reply{}, fmt.Errorf("control socket %s: %w", path, err)
		}
	}
	var reply Reply
	if err := json.Unmarshal(line, &reply); err != nil {
		return Reply{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	return reply, nil
}

// Served is an account a running daemon serves: the daemon's socket, and
// its live view of the account.
type Served struct {
	Socket  string
	Account Account
}

// Find asks every daemon in dirs for its accounts, and returns them by
// name: only those of the daemons whose state is in stateDir, that is,
// of the same configuration. A socket nobody answers on is passed over.
func Find(ctx context.Context, dirs []string, stateDir string) map[string]Served {
	out := map[string]Served{}
	for _, p := range Sockets(dirs) {
		// A daemon that is stopped (SIGSTOP) or wedged still accepts
		// connections: it must not hang the caller.
		actx, cancel := context.WithTimeout(ctx, findTimeout)
		reply, err := Ask(actx, p, Request{Op: OpStatus})
		cancel()
		if err != nil || reply.Error != "" || reply.StateDir != stateDir {
			continue
		}
		for _, a := range reply.Accounts {
			if _, ok := out[a.Name]; !ok {
				out[a.Name] = Served{Socket: p, Account: a}
			}
		}
	}
	return out
}
