package systemdtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// journal stands in for journald, which is not running: it serves the two
// sockets under /run/systemd/journal (the manager's namespace links that
// directory to dir) and appends what arrives to one file. systemd 252 refuses
// file:/append: as DefaultStandardOutput=, and LogTarget=console makes a user
// manager write to /dev/console, so this is how unit output and the manager's
// own log become readable without changing any unit.
type journal struct {
	mu     sync.Mutex
	f      *os.File
	stream *net.UnixListener
	dgram  *net.UnixConn
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startJournal(dir, logFile string) (*journal, error) {
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j := &journal{f: f, conns: map[net.Conn]struct{}{}}
	// stdout: units' StandardOutput=journal; the manager connects it for them.
	j.stream, err = net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "stdout"), Net: "unix"})
	if err != nil {
		f.Close()
		return nil, err
	}
	// socket: the native protocol, which the manager logs with (LogTarget=journal).
	j.dgram, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "socket"), Net: "unixgram"})
	if err != nil {
		j.stream.Close()
		f.Close()
		return nil, err
	}
	// The senders' PIDs, as journald records them.
	if rc, err := j.dgram.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
		})
	}
	j.wg.Add(2)
	go j.acceptLoop()
	go j.dgramLoop()
	return j, nil
}

func (j *journal) write(line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.f.WriteString(time.Now().Format("15:04:05.000000 ") + line + "\n")
}

func (j *journal) acceptLoop() {
	defer j.wg.Done()
	for {
		c, err := j.stream.AcceptUnix()
		if err != nil {
			return
		}
		j.mu.Lock()
		if j.closed {
			j.mu.Unlock()
			c.Close()
			return
		}
		j.conns[c] = struct{}{}
		j.wg.Add(1)
		j.mu.Unlock()
		go func() {
			defer j.wg.Done()
			j.serveStream(c)
			j.mu.Lock()
			delete(j.conns, c)
			j.mu.Unlock()
			c.Close()
		}()
	}
}

// serveStream reads one stream connection: the seven header lines systemd
// writes (identifier, unit, priority, level prefix, three forward flags),
// then the unit's output.
func (j *journal) serveStream(c *net.UnixConn) {
	pid := 0
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
				pid = int(cred.Pid)
			}
		})
	}
	// A user manager leaves the header's unit empty (only the system
	// manager fills it in), so take it from the peer's cgroup, now, before
	// a short-lived peer is gone; if it is gone, the line has no unit.
	unit := unitOf(pid)
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [7]string
	for i := range hdr {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		hdr[i] = strings.TrimSuffix(line, "\n")
	}
	if hdr[1] != "" {
		unit = hdr[1]
	}
	prefix := fmt.Sprintf("%s[%d]: ", hdr[0], pid)
	if unit != "" {
		prefix = unit + " " + prefix
	}
	levelPrefix := hdr[3] == "1"
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			line = strings.TrimSuffix(line, "\n")
			if levelPrefix && len(line) >= 3 && line[0] == '<' && line[2] == '>' {
				line = line[3:]
			}
			j.write(prefix + line)
		}
		if err != nil {
			return
		}
	}
}

func (j *journal) dgramLoop() {
	defer j.wg.Done()
	buf := make([]byte, 256<<10)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
	for {
		n, oobn, _, _, err := j.dgram.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		pid := 0
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if cred, err := syscall.ParseUnixCredentials(&m); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		fields := parseNative(buf[:n])
		ident := fields["SYSLOG_IDENTIFIER"]
		if ident == "" {
			ident = "?"
		}
		j.write(ident + "[" + strconv.Itoa(pid) + "]: " + fields["MESSAGE"])
	}
}

// parseNative decodes the journal's native datagram format: KEY=VALUE lines,
// or KEY, newline, a little-endian 64-bit length and that many bytes (values
// with newlines).
func parseNative(b []byte) map[string]string {
	fields := map[string]string{}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		line := b[:i]
		b = b[min(i+1, len(b)):]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			fields[string(k)] = string(v)
			continue
		}
		if len(b) < 8 {
			break
		}
		size := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < size {
			break
		}
		fields[string(line)] = string(b[:size])
		b = bytes.TrimPrefix(b[size:], []byte("\n"))
	}
	return fields
}

// unitOf returns the unit whose cgroup holds pid, or "".
func unitOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	unit := ""
	for _, line := range strings.Split(string(b), "\n") {
		// 0:: is cgroup2; name=systemd is preferred when both are there.
		_, path, ok := strings.Cut(line, ":name=systemd:")
		if !ok {
			path, ok = strings.CutPrefix(line, "0::")
		}
		if ok && (unit == "" || strings.Contains(line, "name=systemd")) {
			unit = filepath.Base(path)
		}
	}
	if i := strings.LastIndexByte(unit, '.'); i < 0 || unit[i:] == ".slice" {
		return ""
	}
	return unit
}

// close stops serving; call it once the manager and its units are gone, so
// nothing they wrote is lost.
func (j *journal) close() {
	j.stream.Close()
	j.dgram.Close()
	j.mu.Lock()
	j.closed = true
	for c := range j.conns {
		c.Close()
	}
	j.mu.Unlock()
	j.wg.Wait()
	j.f.Close()
}
