package dovetest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// authenticate runs one AUTHENTICATE with initial response ir on a fresh
// connection, answering an error challenge with answer, and returns the
// tagged reply.
func authenticate(t *testing.T, s *Server, mech, ir, answer string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "a AUTHENTICATE %s %s\r\n", mech, base64.StdEncoding.EncodeToString([]byte(ir)))
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("AUTHENTICATE %s: %v", mech, err)
		}
		if strings.HasPrefix(l, "a ") {
			return strings.TrimSpace(l)
		}
		if strings.HasPrefix(l, "+") {
			fmt.Fprintf(c, "%s\r\n", answer)
		}
	}
}

func xoauth2(user, token string) string {
	return "user=" + user + "\x01auth=Bearer " + token + "\x01\x01"
}

func oauthbearer(user, token string) string {
	return "n,a=" + user + ",\x01host=127.0.0.1\x01port=143\x01auth=Bearer " + token + "\x01\x01"
}

// TestOAuth2: with OAuth2 set, Dovecot takes both token mechanisms,
// accepts a user's token and refuses a wrong one or another user's (with
// the error challenge and then NO), passwords still work, and the
// introspection endpoint saw each token.
func TestOAuth2(t *testing.T) {
	s := Start(t, Options{Users: []string{"alice", "bob"}, OAuth2: &OAuth2Options{}})
	ok := func(reply string) bool { return strings.HasPrefix(reply, "a OK ") }
	for _, tc := range []struct {
		mech   string
		ir     func(user, token string) string
		answer string // to the error challenge: XOAUTH2 an empty line, OAUTHBEARER ^A
	}{{"XOAUTH2", xoauth2, ""}, {"OAUTHBEARER", oauthbearer, "AQ=="}} {
		if r := authenticate(t, s, tc.mech, tc.ir("alice", s.OAuth2Token("alice")), tc.answer); !ok(r) {
			t.Errorf("%s with alice's token: %s", tc.mech, r)
		}
		for _, bad := range []string{"wrong", s.OAuth2Token("bob")} {
			r := authenticate(t, s, tc.mech, tc.ir("alice", bad), tc.answer)
			if r != "a NO [AUTHENTICATIONFAILED] Authentication failed." {
				t.Errorf("%s as alice with %q: %s, want NO [AUTHENTICATIONFAILED]", tc.mech, bad, r)
			}
		}
	}
	want := []string{s.OAuth2Token("alice"), "wrong", s.OAuth2Token("bob")}
	if got := s.OAuth2Introspected(); !slices.Equal(got, append(want, want...)) {
		t.Errorf("introspected %q, want %q twice", got, want)
	}
	if r := authenticate(t, s, "PLAIN", "\x00alice\x00"+s.Password("alice"), ""); !ok(r) {
		t.Errorf("PLAIN beside OAuth2: %s", r)
	}
}

// TestOAuth2Check: Check decides which tokens are good and whose.
func TestOAuth2Check(t *testing.T) {
	s := Start(t, Options{Users: []string{"carol"}, OAuth2: &OAuth2Options{
		Check: func(token string) (string, bool) { return "carol", strings.HasPrefix(token, "fresh-") },
	}})
	if r := authenticate(t, s, "XOAUTH2", xoauth2("carol", "fresh-1"), ""); !strings.HasPrefix(r, "a OK ") {
		t.Errorf("accepted token: %s", r)
	}
	if r := authenticate(t, s, "XOAUTH2", xoauth2("carol", s.OAuth2Token("carol")), ""); !strings.HasPrefix(r, "a NO ") {
		t.Errorf("token Check refuses: %s", r)
	}
}

// TestNoOAuth2: without OAuth2 no token mechanism is offered.
func TestNoOAuth2(t *testing.T) {
	s := Start(t, Options{})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	greeting, _ := bufio.NewReader(c).ReadString('\n')
	if strings.Contains(greeting, "XOAUTH2") || strings.Contains(greeting, "OAUTHBEARER") {
		t.Errorf("greeting %q offers OAuth2", greeting)
	}
}
