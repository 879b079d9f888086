package control

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeHandler answers status with one account and sync as told.
type fakeHandler struct{}

func (h *fakeHandler) Status() []Account {
	return []Account{{Name: "a", State: "idle", Idle: []string{"INBOX"}}}
}

func (h *fakeHandler) Sync(ctx context.Context, req Request) ([]Result, error) {
	if len(req.Accounts) == 0 {
		return nil, errors.New("no accounts")
	}
	return []Result{{Account: req.Accounts[0], Summary: "a: pulled 1", Failed: req.Quick}}, nil
}

// shortDir is a temporary directory with a path short enough for a
// socket (sun_path holds 108 bytes).
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestServeAndAsk(t *testing.T) {
	dir := filepath.Join(shortDir(t), "mailsync")
	path := filepath.Join(dir, SocketName(nil))
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	h := &fakeHandler{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, h, "/state/A", zerolog.Nop())

	// A second daemon on the same socket is refused.
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Errorf("a second Listen on a live socket: %v, want ErrInUse", err)
	}

	r, err := Ask(ctx, path, Request{Op: OpStatus})
	if err != nil || r.PID != os.Getpid() || !reflect.DeepEqual(r.Accounts, h.Status()) {
		t.Errorf("status: %+v, %v", r, err)
	}
	r, err = Ask(ctx, path, Request{Op: OpSync, Accounts: []string{"a"}, Quick: true})
	if err != nil || !reflect.DeepEqual(r.Results, []Result{{Account: "a", Summary: "a: pulled 1", Failed: true}}) {
		t.Errorf("sync: %+v, %v", r, err)
	}
	if r, err = Ask(ctx, path, Request{Op: OpSync}); err != nil || r.Error != "no accounts" {
		t.Errorf("a failed sync: %+v, %v; want its error", r, err)
	}
	if r, err = Ask(ctx, path, Request{Op: "reboot"}); err != nil || r.Error == "" {
		t.Errorf("an unknown op: %+v, %v; want an error", r, err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("not json\n"))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	c.Close()
	if want := `"error":"malformed request"`; !strings.Contains(string(buf[:n]), want) {
		t.Errorf("a malformed request: %q, want %s", buf[:n], want)
	}

	// A client that shuts down its writing side after the request (as
	// nc -N or socat do) still gets its answer.
	uc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	uc.Write([]byte(`{"op":"sync","accounts":["a"]}` + "\n"))
	uc.CloseWrite()
	got, _ := io.ReadAll(uc)
	uc.Close()
	if !strings.Contains(string(got), `"summary":"a: pulled 1"`) {
		t.Errorf("a half-closed client got %q", got)
	}

	if got := Find(ctx, []string{dir}, "/state/A"); got["a"].Socket != path || got["a"].Account.State != "idle" {
		t.Errorf("Find: %+v", got)
	}
	// The daemon of another configuration: not a daemon of ours, and its
	// socket gets a name of its own beside ours.
	if got := Find(ctx, []string{dir}, "/state/B"); len(got) != 0 {
		t.Errorf("Find for another state_dir: %+v", got)
	}
	lnB, err := ListenFor(ctx, dir, nil, "/state/B")
	if err != nil {
		t.Fatalf("ListenFor another configuration: %v", err)
	}
	if b := lnB.Addr().String(); b == path || !strings.HasPrefix(filepath.Base(b), "control-") {
		t.Errorf("the other configuration's socket is %s", b)
	}
	lnB.Close()
	if _, err := ListenFor(ctx, dir, nil, "/state/A"); !errors.Is(err, ErrInUse) {
		t.Errorf("ListenFor the same configuration: %v, want ErrInUse", err)
	}
	cancel()
	// Closing the listener removes the socket.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket was left behind")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListenReplacesStaleSocket: a socket left by a daemon that died
// (nobody answers) is replaced; Ask on it says no daemon answers.
func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), SocketName([]string{"work", "home"}))
	if filepath.Base(path) != "control@home,work.sock" {
		t.Errorf("socket name %s", filepath.Base(path))
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Ask(context.Background(), path, Request{Op: OpStatus}); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Ask on a dead socket: %v, want ErrNoDaemon", err)
	}
	if got := Sockets([]string{filepath.Dir(path)}); len(got) != 1 || got[0] != path {
		t.Errorf("Sockets: %v", got)
	}
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestDirs(t *testing.T) {
	if got := Dirs("/run/user/1000", "/s"); !reflect.DeepEqual(got, []string{"/run/user/1000/mailsync", "/s"}) {
		t.Errorf("Dirs = %v", got)
	}
	if got := Dirs("relative", "/s"); !reflect.DeepEqual(got, []string{"/s"}) {
		t.Errorf("Dirs with a relative XDG_RUNTIME_DIR = %v", got)
	}
}
