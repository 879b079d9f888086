package dovetest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// BodyFetches returns the sum of body_count over the logout lines of user's
// IMAP sessions so far, i.e. how many message bodies (BODY[], BODY[TEXT],
// RFC822, ...) were fetched over IMAP. Use it to assert "nothing was
// downloaded". doveadm operations are not counted.
//
// Caveat: Dovecot logs these numbers only when a session ends, so sessions
// that are still open are not counted; log out (or close the connection)
// first. BodyFetches waits up to about a second for the server side of
// sessions the client already closed to finish (each session is one imap
// process), so calling it with a session deliberately left open costs that
// second.
func (s *Server) BodyFetches(t TB, user string) int {
	t.Helper()
	s.checkUser(t, user)
	// The imap process writes its logout line after the client has seen the
	// LOGOUT reply, then exits. Once it is gone the line is at least in the
	// log pipe.
	grace := time.Now().Add(time.Second)
	for len(s.imapProcs(user)) > 0 && time.Now().Before(grace) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.logBarrier(); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	for i := 0; ; i++ {
		logins, logouts, bodies, err := s.scanLog(user)
		if err != nil {
			t.Fatalf("dovetest: %v", err)
		}
		// Every session without a logout line should be a live process; if
		// not, its line is still on the way (see logBarrier).
		if logins-logouts <= len(s.imapProcs(user)) || i >= 20 {
			return bodies
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// imapProcs returns the live post-login imap processes that may belong to
// user (verbose_proctitle puts "[user ip]" in the title; a process that has
// not set it yet might be user's too).
func (s *Server) imapProcs(user string) []int {
	prefix := "dovecot-" + s.instance + "/imap"
	var pids []int
	for _, p := range instanceProcs(s.instance) {
		if p.title == prefix || strings.HasPrefix(p.title, prefix+" ["+user+" ") {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// logBarrier returns once everything written to Dovecot's log pipes before
// the call is in LogPath. Dovecot's processes do not write the log file
// themselves: one log process drains all their pipes, and under load (a
// busy CI machine) it lags by a second or more. A pre-login ID command makes
// imap-login log a unique marker (imap_id_log); once the marker is in the
// file, so is everything queued before it.
func (s *Server) logBarrier() error {
	marker := fmt.Sprintf("m%d-%d", os.Getpid(), markerSeq.Add(1))
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	untilTagged := func(tag string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("log barrier: %v", err)
			}
			if strings.HasPrefix(line, tag+" ") {
				return nil
			}
		}
	}
	if _, err := r.ReadString('\n'); err != nil { // greeting
		return fmt.Errorf("log barrier: %v", err)
	}
	fmt.Fprintf(c, "a ID (\"x-dovetest-marker\" \"%s\")\r\n", marker)
	if err := untilTagged("a"); err != nil {
		return err
	}
	fmt.Fprintf(c, "b LOGOUT\r\n")
	if err := untilTagged("b"); err != nil {
		return err
	}
	want := []byte("x-dovetest-marker=" + marker + ":")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(s.LogPath)
		if err != nil {
			return err
		}
		if bytes.Contains(b, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("log barrier: marker %s did not reach %s", marker, s.LogPath)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) scanLog(user string) (logins, logouts, bodies int, err error) {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return 0, 0, 0, err
	}
	loginTag := "Login: user=<" + user + ">"
	sessTag := " imap(" + user + ")"
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(l, " imap-login: ") && strings.Contains(l, loginTag):
			logins++
		case strings.Contains(l, sessTag) && strings.Contains(l, " body_count="):
			logouts++
			i := strings.Index(l, " body_count=") + len(" body_count=")
			j := i
			for j < len(l) && l[j] >= '0' && l[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(l[i:j])
			if err != nil {
				return 0, 0, 0, fmt.Errorf("cannot parse body_count in log line %q", l)
			}
			bodies += n
		}
	}
	return logins, logouts, bodies, nil
}
