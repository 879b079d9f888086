package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
)

// maxReply bounds a reply line.
const maxReply = 16 << 20

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
// name. A socket nobody answers on is passed over.
func Find(ctx context.Context, dirs []string) map[string]Served {
	out := map[string]Served{}
	for _, p := range Sockets(dirs) {
		reply, err := Ask(ctx, p, Request{Op: OpStatus})
		if err != nil || reply.Error != "" {
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
