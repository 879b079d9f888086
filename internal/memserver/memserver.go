// Package memserver runs go-imap's in-memory IMAP server on a loopback port,
// in-process. It is the fast backend of the sync tests and of
// `mailsync demo`; the integration tests use a real Dovecot (dovetest).
package memserver

import (
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Server is a running in-memory IMAP server without TLS.
type Server struct {
	Addr  string
	srv   *imapserver.Server
	users map[string]*imapmemserver.User
}

// Start starts a server with the given users, all with password pass and
// no mailboxes, not even an INBOX. It offers IMAP4rev2, and with it IDLE, UIDPLUS and ESEARCH.
func Start(users []string, pass string) (*Server, error) {
	mem := imapmemserver.New()
	s := &Server{users: make(map[string]*imapmemserver.User, len(users))}
	for _, name := range users {
		u := imapmemserver.NewUser(name, pass)
		mem.AddUser(u)
		s.users[name] = u
	}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {},
		},
		InsecureAuth: true,
		Logger:       nopLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go s.srv.Serve(ln)
	s.Addr = ln.Addr().String()
	return s, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Create creates a mailbox for user.
func (s *Server) Create(user, mailbox string) error {
	u, err := s.user(user)
	if err != nil {
		return err
	}
	return u.Create(mailbox, nil)
}

// Append stores msg in user's mailbox with flags and an internal date.
func (s *Server) Append(user, mailbox string, msg []byte, date time.Time, flags ...imap.Flag) error {
	u, err := s.user(user)
	if err != nil {
		return err
	}
	_, err = u.Append(mailbox, bytes.NewReader(msg), &imap.AppendOptions{Flags: flags, Time: date})
	return err
}

func (s *Server) user(name string) (*imapmemserver.User, error) {
	u := s.users[name]
	if u == nil {
		return nil, fmt.Errorf("memserver: no user %q", name)
	}
	return u, nil
}
