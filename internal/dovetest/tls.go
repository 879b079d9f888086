package dovetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSOptions configure the server's TLS. With them, the server offers
// STARTTLS on its plain port (Server.Port) and implicit TLS on a second one
// (Server.TLSPort), both with one self-signed certificate (Server.CertFile,
// Server.CertFingerprint) that no system trusts: a client must be told to
// trust it (the PEM file as a CA, or a pin).
//
// The zero value gives a certificate a client connecting to 127.0.0.1 can
// verify once it trusts the file. The options break it in one way each.
type TLSOptions struct {
	// Names, when set, are the only names the certificate carries (as DNS
	// names), so that connecting by 127.0.0.1 fails the host name check.
	// Without them it names 127.0.0.1 and localhost.
	Names []string
	// Expired makes the certificate's validity end a day before Start.
	Expired bool
}

// certValidity is how long a test certificate is valid: long enough for
// any test run, short enough that it is plainly a throwaway.
const certValidity = 24 * time.Hour

// setupTLS writes the server's certificate and key into its directory.
// It runs once per Start; tlsConfig runs once per port attempt.
func (s *Server) setupTLS() error {
	o := s.opts.TLS
	if o == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	// A minute of slack for a client whose clock is a little behind.
	notBefore := time.Now().Add(-time.Minute)
	notAfter := notBefore.Add(certValidity)
	if o.Expired {
		notBefore = time.Now().Add(-30 * 24 * time.Hour)
		notAfter = time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The CN carries the instance, so that a test that reads a
		// certificate off the wire can tell it is this server's.
		Subject:               pkix.Name{CommonName: "dovetest " + s.instance, Organization: []string{"mailsync dovetest"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if len(o.Names) > 0 {
		tmpl.DNSNames = append([]string(nil), o.Names...)
	} else {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP(host)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, "tls")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	s.CertFile = filepath.Join(dir, "cert.pem")
	s.keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(s.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	// Dovecot's config process reads the key as the user that started it
	// (us), so owner-only is enough.
	if err := os.WriteFile(s.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	s.CertFingerprint = sha256.Sum256(der)
	return nil
}

// tlsConfig is the Dovecot configuration for Options.TLS. Each call picks a
// fresh port for the implicit-TLS listener: Start calls it again, with a
// new plain port too, when a port was taken.
func (s *Server) tlsConfig() string {
	if s.opts.TLS == nil {
		return ""
	}
	port, err := pickPort()
	if err != nil {
		// tlsConfig cannot fail the test itself. Port 0 would silently
		// mean "no listener", so write a setting Dovecot refuses: Start
		// then fails, and the comment above it in the config says why.
		return fmt.Sprintf("# dovetest: no port for imaps: %s\ndovetest_no_imaps_port = yes\n", err)
	}
	s.TLSPort = port
	// ssl = yes (not required): STARTTLS is offered but a client may still
	// log in without it, as most real servers in the wild allow.
	return fmt.Sprintf(`
# TLS (dovetest/tls.go)
ssl = yes
ssl_cert = <%s
ssl_key = <%s
ssl_min_protocol = TLSv1.2
service imap-login {
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
`, s.CertFile, s.keyFile, port)
}
