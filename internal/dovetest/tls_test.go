package dovetest

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// trustPool is a pool holding only the server's certificate.
func trustPool(t *testing.T, s *Server) (*x509.CertPool, *x509.Certificate) {
	t.Helper()
	b, err := os.ReadFile(s.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate", s.CertFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(blk.Bytes) != s.CertFingerprint {
		t.Fatal("CertFingerprint is not the SHA-256 of CertFile's certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, cert
}

// greeting reads one line with a generous bound (Dovecot greets at once).
func greeting(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading greeting: %v", err)
	}
	return line
}

// The implicit-TLS port serves the certificate the Server describes, which
// verifies for 127.0.0.1 once trusted; the plain port offers STARTTLS.
func TestTLSListeners(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{TLS: &TLSOptions{}})
	if s.TLSPort == 0 || s.TLSPort == s.Port {
		t.Fatalf("TLSPort %d (plain port %d)", s.TLSPort, s.Port)
	}
	pool, cert := trustPool(t, s)
	if time.Now().After(cert.NotAfter) {
		t.Fatalf("certificate expired at %v", cert.NotAfter)
	}

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp",
		net.JoinHostPort(s.Host, strconv.Itoa(s.TLSPort)), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("implicit TLS to %d: %v", s.TLSPort, err)
	}
	defer c.Close()
	if g := greeting(t, c); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting over TLS: %q", g)
	}
	if got := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw); got != s.CertFingerprint {
		t.Fatal("the server presents another certificate than CertFile")
	}

	p, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if g := greeting(t, p); !strings.Contains(g, " STARTTLS") {
		t.Fatalf("plain port does not offer STARTTLS: %q", g)
	}
}

// Without TLSOptions the server has no TLS at all: the "no STARTTLS" case.
func TestNoTLSWithoutOptions(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	if s.TLSPort != 0 || s.CertFile != "" {
		t.Fatalf("TLSPort %d, CertFile %q without TLS options", s.TLSPort, s.CertFile)
	}
	c, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := greeting(t, c); strings.Contains(g, "STARTTLS") {
		t.Fatalf("STARTTLS offered without TLS options: %q", g)
	}
}

// The options each break the certificate in the way they promise, and in
// no other: Names fails only the host check, Expired only the date check.
func TestTLSCertificateOptions(t *testing.T) {
	t.Parallel()
	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{TLS: &TLSOptions{Names: []string{"mail.example.test"}}})
		pool, cert := trustPool(t, s)
		if !slices.Equal(cert.DNSNames, []string{"mail.example.test"}) || len(cert.IPAddresses) != 0 {
			t.Fatalf("names %v %v", cert.DNSNames, cert.IPAddresses)
		}
		opts := x509.VerifyOptions{Roots: pool, DNSName: "mail.example.test"}
		if _, err := cert.Verify(opts); err != nil {
			t.Fatalf("for its own name: %v", err)
		}
		opts.DNSName = "127.0.0.1"
		if _, err := cert.Verify(opts); err == nil {
			t.Fatal("verifies for 127.0.0.1 too")
		}
	})
	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{TLS: &TLSOptions{Expired: true}})
		pool, cert := trustPool(t, s)
		if !cert.NotAfter.Before(time.Now()) {
			t.Fatalf("NotAfter %v is not in the past", cert.NotAfter)
		}
		opts := x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}
		if _, err := cert.Verify(opts); err == nil {
			t.Fatal("an expired certificate verifies")
		}
		opts.CurrentTime = cert.NotAfter.Add(-time.Hour)
		if _, err := cert.Verify(opts); err != nil {
			t.Fatalf("before it expired: %v", err)
		}
	})
}
