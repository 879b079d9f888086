package sync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/memserver"
	msync "mailsync/sync"
)

// errorWorld is account t on a memory server with INBOX and Work, synced
// once.
func errorWorld(t *testing.T, user string) (*config.Config, string) {
	t.Helper()
	srv, err := memserver.Start([]string{user}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, folder := range []string{"INBOX", "Work"} {
		if err := srv.Create(user, folder); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("Message-ID: <%s@err>\r\nSubject: x\r\n\r\nbody\r\n", folder)
		if err := srv.Append(user, folder, []byte(msg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	host, port := splitAddr(t, srv.Addr)
	cfg := accountConfig(t, dir, host, port, user, "pw", extraKeys{remote: "max_connections = 2"})
	if r := runAccount(cfg, msync.Options{}, nil); r.Failed() {
		t.Fatalf("first sync: %v %v", r.Err, r.Summary.Errors)
	}
	return cfg, dir
}

// TestErrorsCarryOnePrefix: every failure names its account, and its
// folder, once; the safety stops are found with errors.Is; and a failed
// extra connection's reason reaches the log.
func TestErrorsCarryOnePrefix(t *testing.T) {
	onePrefix := func(t *testing.T, err error, prefix string) {
		t.Helper()
		msg := err.Error()
		rest := msg[min(len(prefix), len(msg)):]
		if !strings.HasPrefix(msg, prefix) || strings.Contains(rest, ": t: ") || strings.Contains(rest, ": t/") {
			t.Errorf("want one prefix %q, got %q", prefix, msg)
		}
	}

	t.Run("vanished", func(t *testing.T) {
		cfg, dir := errorWorld(t, "vanished")
		if err := os.RemoveAll(filepath.Join(dir, "Mail", "Work")); err != nil {
			t.Fatal(err)
		}
		r := runAccount(cfg, msync.Options{}, nil)
		if r.Err != nil || len(r.Summary.Errors) != 1 {
			t.Fatalf("want one folder error, got %v %v", r.Err, r.Summary.Errors)
		}
		err := r.Summary.Errors[0]
		var fe *msync.FolderError
		if !errors.Is(err, msync.ErrVanished) || !errors.As(err, &fe) || fe.Folder != "Work" {
			t.Errorf("want a FolderError for Work that is ErrVanished, got %#v", err)
		}
		onePrefix(t, err, "t/Work: local folder ")
	})

	t.Run("unmounted", func(t *testing.T) {
		cfg, dir := errorWorld(t, "unmounted")
		if err := os.RemoveAll(filepath.Join(dir, "Mail")); err != nil {
			t.Fatal(err)
		}
		r := runAccount(cfg, msync.Options{}, nil)
		if !errors.Is(r.Err, msync.ErrUnmounted) {
			t.Fatalf("want ErrUnmounted, got %v", r.Err)
		}
		onePrefix(t, r.Err, "t: local root ")
	})

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		host, port := splitAddr(t, ln.Addr().String())
		ln.Close()
		cfg := accountConfig(t, t.TempDir(), host, port, "refused", "pw", extraKeys{})
		r := runAccount(cfg, msync.Options{}, nil)
		var ae *msync.AccountError
		if !errors.As(r.Err, &ae) || ae.Account != "t" {
			t.Fatalf("want an AccountError for t, got %#v", r.Err)
		}
		onePrefix(t, r.Err, "t: connecting to ")
	})

	t.Run("extra connection", func(t *testing.T) {
		cfg, dir := errorWorld(t, "extra")
		// Both folders change and, on connections that serve one folder
		// at a time, both need one; the second dial fails.
		for _, f := range []string{"INBOX", "Work"} {
			name := filepath.Join(dir, "Mail", f, "new", "1700000000.x.host")
			if err := os.WriteFile(name, []byte("Subject: new\n\nbody\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var mu gosync.Mutex
		dials := 0
		var logBuf bytes.Buffer
		rs := accounts.Run(context.Background(), accounts.Options{
			Config: cfg, Log: zerolog.New(&syncWriter{w: &logBuf}),
			Dial: func(ctx context.Context, a *config.Account) (msync.Remote, error) {
				mu.Lock()
				dials++
				n := dials
				mu.Unlock()
				if n > 1 {
					return nil, errors.New("the second dial is refused")
				}
				c, err := accounts.Dial(ctx, a)
				if err != nil {
					return nil, err
				}
				// Hidden from the engine as a connection folders can
				// share: each folder then needs one of its own.
				return struct{ msync.Remote }{c}, nil
			},
		})
		r := rs[0]
		if r.Err != nil || len(r.Summary.Errors) != 1 {
			t.Fatalf("want one folder error, got %v %v", r.Err, r.Summary.Errors)
		}
		err := r.Summary.Errors[0]
		var fe *msync.FolderError
		if !errors.As(err, &fe) {
			t.Fatalf("want a FolderError, got %#v", err)
		}
		onePrefix(t, err, "t/"+fe.Folder+": opening a connection: ")
		if !strings.Contains(logBuf.String(), "the second dial is refused") {
			t.Errorf("the log does not give the failed connection's reason:\n%s", logBuf.String())
		}
	})
}

// syncWriter serialises writes from the folder workers.
type syncWriter struct {
	mu gosync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
