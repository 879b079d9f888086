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

// Find asks every daemon in dirs which accounts it serves, and returns,
// per account, the socket of the daemon that serves it.
func Find(ctx context.Context, dirs []string) map[string]string {
	out := map[string]string{}
	for _, p := range Sockets(dirs) {
		reply, err := Ask(ctx, p, Request{Op: OpStatus})
		if err != nil || reply.Error != "" {
			continue
		}
		for _, a := range reply.Accounts {
			if _, ok := out[a.Name]; !ok {
				out[a.Name] = p
			}
		}
	}
	return out
}
