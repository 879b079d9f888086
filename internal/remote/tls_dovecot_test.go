package remote

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsync/config"
	"mailsync/internal/dovetest"
	"mailsync/internal/faultproxy"
)

// These tests run mailsync's TLS against a real Dovecot (dovetest) with a
// self-signed certificate: the trust decisions, the wording of the errors,
// and the guards around STARTTLS.

const tlsUser = "alice"

func startTLSDovecot(t *testing.T, o *dovetest.TLSOptions) *dovetest.Server {
	t.Helper()
	return dovetest.Start(t, dovetest.Options{Users: []string{tlsUser}, TLS: o})
}

// tlsOptions dials s on port in mode. The timeout only turns a hang into
// a failure; the fail-fast tests leave it at the default.
func tlsOptions(s *dovetest.Server, port int, mode TLSMode) Options {
	return Options{Host: s.Host, Port: port, TLS: mode, User: tlsUser,
		Password: func(context.Context) (string, error) { return s.Password(tlsUser), nil },
		Timeout:  20 * time.Second}
}

// portFor is the port that matches mode.
func portFor(s *dovetest.Server, mode TLSMode) int {
	if mode == TLSImplicit {
		return s.TLSPort
	}
	return s.Port
}

// mustDialTLS dials and proves the session works with a LIST.
func mustDialTLS(t *testing.T, o Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial %s (tls = %s): %v", o.addr(), o.TLS, err)
	}
	defer c.Close()
	if _, err := c.List(ctx, nil); err != nil {
		t.Fatalf("LIST over tls = %s: %v", o.TLS, err)
	}
}

// dialErr dials, which must fail, and returns the error's text.
func dialErr(t *testing.T, o Options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := Dial(ctx, o)
	if err == nil {
		c.Close()
		t.Fatalf("Dial %s (tls = %s) succeeded, want an error", o.addr(), o.TLS)
	}
	t.Logf("Dial %s (tls = %s): %v", o.addr(), o.TLS, err)
	return err.Error()
}

func wantIn(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q\n  does not mention %q", msg, p)
		}
	}
}

var fingerprintRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// wantFingerprint checks that msg names the server's certificate in a form
// the cert_fingerprint key reads back as that very certificate.
func wantFingerprint(t *testing.T, msg string, s *dovetest.Server) {
	t.Helper()
	m := fingerprintRE.FindString(msg)
	if m == "" {
		t.Errorf("error %q\n  holds no sha256: fingerprint", msg)
		return
	}
	fp, err := config.ParseFingerprint(m)
	if err != nil {
		t.Errorf("cert_fingerprint would not accept %q: %v", m, err)
	}
	if fp != s.CertFingerprint {
		t.Errorf("error names %s, the server's certificate is %s", m, config.FormatFingerprint(s.CertFingerprint))
	}
}

func serverCert(t *testing.T, s *dovetest.Server) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(s.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM in %s", s.CertFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A self-signed certificate is refused by default, with the reason and the
// fingerprint to pin; ca_file or the pin then let the connection through,
// and a wrong pin does not.
func TestDovecotTLSSelfSigned(t *testing.T) {
	t.Parallel()
	s := startTLSDovecot(t, &dovetest.TLSOptions{})
	other := sha256.Sum256([]byte("not the server's certificate"))
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			o := tlsOptions(s, portFor(s, mode), mode)
			t.Run("default", func(t *testing.T) {
				msg := dialErr(t, o)
				wantIn(t, msg, o.addr(), "unknown authority", "self-signed", "cert_fingerprint", "ca_file")
				wantFingerprint(t, msg, s)
			})
			t.Run("ca_file", func(t *testing.T) {
				o := o
				o.CAFile = s.CertFile
				mustDialTLS(t, o)
			})
			t.Run("pin", func(t *testing.T) {
				o := o
				o.Fingerprints = [][32]byte{other, s.CertFingerprint}
				mustDialTLS(t, o)
			})
			t.Run("wrong pin", func(t *testing.T) {
				o := o
				o.Fingerprints = [][32]byte{other}
				// Trusted by its CA, but the pin alone decides.
				o.CAFile = s.CertFile
				msg := dialErr(t, o)
				wantIn(t, msg, o.addr(), "pin mismatch")
				wantFingerprint(t, msg, s)
			})
		})
	}
}

// A certificate for another name fails with the names it has;
// tls_server_name makes the client check (and ask for) that name instead.
func TestDovecotTLSWrongHostName(t *testing.T) {
	t.Parallel()
	s := startTLSDovecot(t, &dovetest.TLSOptions{Names: []string{"mail.example.test"}})
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
		t.Run(string(mode), func(t *testing.T) {
			o := tlsOptions(s, portFor(s, mode), mode)
			o.CAFile = s.CertFile
			msg := dialErr(t, o)
			wantIn(t, msg, o.addr(), "wrong host name", "mail.example.test", "not 127.0.0.1", "tls_server_name")
			wantFingerprint(t, msg, s)

			o.ServerName = "mail.example.test"
			mustDialTLS(t, o)
		})
	}
}

// An expired certificate fails with its date, even from a trusted CA; a
// pin is the user's word for it and skips the date check.
func TestDovecotTLSExpired(t *testing.T) {
	t.Parallel()
	s := startTLSDovecot(t, &dovetest.TLSOptions{Expired: true})
	date := serverCert(t, s).NotAfter.UTC().Format("2006-01-02 15:04:05 UTC")
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
		t.Run(string(mode), func(t *testing.T) {
			o := tlsOptions(s, portFor(s, mode), mode)
			o.CAFile = s.CertFile
			msg := dialErr(t, o)
			wantIn(t, msg, o.addr(), "expired on "+date)
			wantFingerprint(t, msg, s)

			o.CAFile = ""
			o.Fingerprints = [][32]byte{s.CertFingerprint}
			mustDialTLS(t, o)
		})
	}
}

// A server without STARTTLS (Dovecot's ssl = no) is an error, not a
// plaintext login; so is a man in the middle who strips STARTTLS from a
// server that has it (the classic downgrade).
func TestDovecotNoSTARTTLS(t *testing.T) {
	t.Parallel()
	t.Run("ssl=no", func(t *testing.T) {
		t.Parallel()
		s := dovetest.Start(t, dovetest.Options{Users: []string{tlsUser}})
		o := tlsOptions(s, s.Port, TLSStartTLS)
		msg := dialErr(t, o)
		wantIn(t, msg, o.addr(), "does not offer STARTTLS", `tls = "implicit"`)
	})
	t.Run("stripped", func(t *testing.T) {
		t.Parallel()
		s := startTLSDovecot(t, &dovetest.TLSOptions{})
		p, err := faultproxy.Start(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		p.Set(faultproxy.Fault{StripCaps: []string{"STARTTLS"}})
		o := tlsOptions(s, p.Port(), TLSStartTLS)
		o.CAFile = s.CertFile
		msg := dialErr(t, o)
		wantIn(t, msg, "127.0.0.1:"+strconv.Itoa(p.Port()), "does not offer STARTTLS")
		if st := p.Stats(); st.Conns != 1 {
			t.Fatalf("proxy saw %d connections, want 1 (no retry without TLS)", st.Conns)
		}
	})
}

// lineProxy forwards a connection to target, handing each plaintext line
// the server sends to edit, which writes what the client gets instead. From
// the server's answer to the client's STARTTLS on, both directions are
// copied untouched.
type lineProxy struct {
	ln   net.Listener
	edit func(w io.Writer, line []byte, startTLSAnswer bool)
	wg   sync.WaitGroup
}

func startLineProxy(t *testing.T, target string, edit func(w io.Writer, line []byte, startTLSAnswer bool)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lineProxy{ln: ln, edit: edit}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c, target)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *lineProxy) handle(cl net.Conn, target string) {
	defer cl.Close()
	srv, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer srv.Close()
	// The test's connection ends within its timeouts; this bounds a proxy
	// that somehow would not.
	deadline := time.Now().Add(60 * time.Second)
	_ = cl.SetDeadline(deadline)
	_ = srv.SetDeadline(deadline)
	tags := make(chan string, 1) // the tag of the client's STARTTLS
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(cl)
		for {
			line, err := br.ReadBytes('\n')
			// The tag is handed over before the command goes on, so it
			// is known by the time the answer can arrive.
			tag, cmd, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
			starttls := err == nil && strings.EqualFold(cmd, "STARTTLS")
			if starttls {
				tags <- tag + " "
			}
			if _, werr := srv.Write(line); err != nil || werr != nil {
				return
			}
			if starttls {
				break
			}
		}
		_, _ = io.Copy(srv, br)
		_ = srv.(*net.TCPConn).CloseWrite()
	}()
	br := bufio.NewReader(srv)
	tag := "\x00" // matches nothing until the client sent STARTTLS
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			_, _ = cl.Write(line)
			break
		}
		select {
		case tag = <-tags:
		default:
		}
		answer := strings.HasPrefix(string(line), tag)
		p.edit(cl, line, answer)
		if answer {
			_, _ = io.Copy(cl, br)
			break
		}
	}
	_ = cl.(*net.TCPConn).CloseWrite()
	<-done
}

// Whatever a man in the middle writes around the STARTTLS exchange, the
// client refuses it rather than reading it as if it had come over TLS.
func TestDovecotSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	s := startTLSDovecot(t, &dovetest.TLSOptions{})
	const capsLine = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
	noCaps := regexp.MustCompile(`\[CAPABILITY [^\]]*\] `)
	for _, tc := range []struct {
		name string
		edit func(w io.Writer, line []byte, answer bool)
		want string // "" means the connection must work
	}{
		{
			// The control: the proxy alone changes nothing, and with no
			// capabilities in the greeting the client asks for them.
			name: "greeting without capabilities",
			edit: func(w io.Writer, line []byte, answer bool) {
				_, _ = w.Write(noCaps.ReplaceAll(line, nil))
			},
		},
		{
			name: "capabilities before the answer",
			edit: func(w io.Writer, line []byte, answer bool) {
				if answer {
					_, _ = io.WriteString(w, capsLine)
				}
				_, _ = w.Write(line)
			},
			want: "before answering STARTTLS",
		},
		{
			name: "line after the answer",
			edit: func(w io.Writer, line []byte, answer bool) {
				if answer {
					line = append(line, capsLine...)
				}
				_, _ = w.Write(line)
			},
			want: "after accepting STARTTLS",
		},
		{
			// In a packet of its own, which the client only meets as the
			// first bytes of the handshake.
			name: "line after the answer, later",
			edit: func(w io.Writer, line []byte, answer bool) {
				_, _ = w.Write(line)
				if answer {
					time.Sleep(100 * time.Millisecond)
					_, _ = io.WriteString(w, capsLine)
				}
			},
			want: "after accepting STARTTLS",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := startLineProxy(t, s.Addr(), tc.edit)
			o := tlsOptions(s, port, TLSStartTLS)
			o.CAFile = s.CertFile
			if tc.want == "" {
				mustDialTLS(t, o)
				return
			}
			msg := dialErr(t, o)
			wantIn(t, msg, o.addr(), tc.want, "injection")
		})
	}
}

// A wrong tls mode fails fast and says which one to use. Against the
// implicit-TLS port, tls = "starttls" or "none" wait for a greeting that
// never comes: after 5 s a TLS handshake tells why (before, it took the
// whole 60 s timeout and said "i/o timeout"). tls = "implicit" against the
// plain port meets the plaintext greeting at once.
func TestDovecotWrongTLSMode(t *testing.T) {
	t.Parallel()
	s := startTLSDovecot(t, &dovetest.TLSOptions{})
	for _, tc := range []struct {
		mode TLSMode
		port int
		want []string
	}{
		{TLSStartTLS, s.TLSPort, []string{"implicit TLS", `tls = "implicit"`}},
		{TLSNone, s.TLSPort, []string{"implicit TLS", `tls = "implicit"`}},
		{TLSImplicit, s.Port, []string{"plaintext", `tls = "starttls"`}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			o := tlsOptions(s, tc.port, tc.mode)
			o.Timeout = 0 // the default, 60 s
			o.CAFile = s.CertFile
			start := time.Now()
			msg := dialErr(t, o)
			took := time.Since(start)
			t.Logf("tls = %q against port %d failed after %v: %s", tc.mode, tc.port, took.Round(time.Millisecond), msg)
			wantIn(t, msg, append(tc.want, o.addr())...)
			if took > 10*time.Second {
				t.Errorf("took %v to fail, want well under the 60 s timeout", took)
			}
		})
	}
}
