package remote

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"mailsync/internal/dovetest"
	"mailsync/internal/faultproxy"
)

// idleResult is what one Idle call returned, and when.
type idleResult struct {
	changed bool
	err     error
	took    time.Duration
}

func startIdle(ctx context.Context, c *Conn, keepalive time.Duration) <-chan idleResult {
	ch := make(chan idleResult, 1)
	go func() {
		start := time.Now()
		changed, err := c.Idle(ctx, keepalive)
		ch <- idleResult{changed, err, time.Since(start)}
	}()
	return ch
}

// TestIdleDovecot: Idle ends on each kind of change the server reports
// (a new message, a flag change, an expunge), ends with no change after
// keepalive, and a quiet IDLE longer than the connection's timeout is not
// a stall.
func TestIdleDovecot(t *testing.T) {
	user := "idler"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	ctx := context.Background()
	c, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.CanIdle() {
		t.Fatal("Dovecot does not announce IDLE")
	}
	if _, err := c.Select(ctx, "INBOX", true); err != nil {
		t.Fatal(err)
	}

	// Quiet for three times the timeout, then the keepalive ends it.
	r := <-startIdle(ctx, c, 3*time.Second)
	if r.err != nil || r.changed || r.took < 3*time.Second {
		t.Fatalf("quiet IDLE: changed %v, err %v after %v; want no change and no error after the 3s keepalive", r.changed, r.err, r.took)
	}

	uid := uint32(0)
	changes := []struct {
		name string
		make func()
	}{
		{"new message", func() {
			uid = srv.Append(t, user, "INBOX", []byte("Message-ID: <idle@test>\r\nSubject: x\r\n\r\nbody\r\n"))
		}},
		{"flag change", func() { srv.AddFlags(t, user, "INBOX", uid, `\Seen`) }},
		{"expunge", func() { srv.Expunge(t, user, "INBOX", uid) }},
	}
	for _, ch := range changes {
		done := startIdle(ctx, c, time.Minute)
		time.Sleep(200 * time.Millisecond) // in IDLE by now
		sent := time.Now()
		ch.make()
		select {
		case r := <-done:
			if r.err != nil || !r.changed {
				t.Errorf("%s: changed %v, err %v", ch.name, r.changed, r.err)
			}
			t.Logf("%s reported %v after it was made", ch.name, time.Since(sent).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: IDLE did not end within 10s", ch.name)
		}
	}
	// The connection is still good for commands.
	if _, err := c.UIDs(ctx, time.Time{}); err != nil {
		t.Errorf("UID SEARCH after IDLE: %v", err)
	}
}

// TestPollWithoutIdle: on a server that does not announce IDLE, Poll
// (NOOP) reports a new message.
func TestPollWithoutIdle(t *testing.T) {
	user := "poller"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	p, err := faultproxy.Start(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Set(faultproxy.Fault{StripCaps: []string{"IDLE", "IMAP4rev2"}})
	ctx := context.Background()
	c, err := Dial(ctx, Options{Host: "127.0.0.1", Port: p.Port(), TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.CanIdle() {
		t.Fatal("IDLE was not hidden")
	}
	if _, err := c.Select(ctx, "INBOX", true); err != nil {
		t.Fatal(err)
	}
	if changed, err := c.Poll(ctx); err != nil || changed {
		t.Fatalf("first poll: changed %v, err %v", changed, err)
	}
	srv.Append(t, user, "INBOX", []byte("Message-ID: <poll@test>\r\nSubject: x\r\n\r\nbody\r\n"))
	if changed, err := c.Poll(ctx); err != nil || !changed {
		t.Fatalf("poll after a new message: changed %v, err %v", changed, err)
	}
}

// TestDialAuthError: a refused login is ErrAuth; a refused connection is not.
func TestDialAuthError(t *testing.T) {
	user := "authee"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	ctx := context.Background()
	_, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return "wrong", nil }, Timeout: 10 * time.Second})
	if !errors.Is(err, ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = Dial(ctx, Options{Host: "127.0.0.1", Port: port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return "x", nil }, Timeout: time.Second})
	if err == nil || errors.Is(err, ErrAuth) {
		t.Errorf("refused connection: %v, want an error that is not ErrAuth", err)
	}
}
