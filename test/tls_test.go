package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsync/config"
	"mailsync/internal/dovetest"
)

// tlsEnv is an env whose Dovecot serves implicit TLS with a self-signed
// certificate; remoteExtra goes into [accounts.acct.remote].
func tlsEnv(t *testing.T) *env {
	t.Helper()
	user := "tls"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}, TLS: &dovetest.TLSOptions{}})
	dir := t.TempDir()
	return &env{
		t: t, srv: srv, user: user, dir: dir,
		cfg:   filepath.Join(dir, "config.toml"),
		mail:  filepath.Join(dir, "Mail"),
		state: filepath.Join(dir, "state"),
	}
}

// writeTLSConfig writes the config for tls = "implicit" on the server's
// implicit-TLS port, with remoteExtra in the remote table.
func (e *env) writeTLSConfig(remoteExtra string) {
	e.t.Helper()
	e.writeTLSModeConfig("implicit", e.srv.TLSPort, remoteExtra)
}

func (e *env) writeTLSModeConfig(mode string, port int, remoteExtra string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`[general]
state_dir = %q

[accounts.%s.remote]
host = "127.0.0.1"
port = %d
tls = %q
user = %q
password = %q
%s
[accounts.%s.local]
path = %q
`, e.state, acct, port, mode, e.user, e.srv.Password(e.user), remoteExtra, acct, e.mail)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// otherCA writes a PEM certificate that has nothing to do with the server.
func otherCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "unrelated CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A sync against a server with a self-signed certificate fails (exit 1)
// and prints the certificate's fingerprint; pinning what it printed makes
// the next sync work. Trust also comes from the system's roots (here
// SSL_CERT_FILE), which ca_file adds to rather than replaces.
func TestTLSSelfSignedPin(t *testing.T) {
	t.Parallel()
	e := tlsEnv(t)
	e.srv.Append(t, e.user, "INBOX", makeMsg("tls-1", 600))
	fp := config.FormatFingerprint(e.srv.CertFingerprint)

	e.writeTLSConfig("")
	r := e.run("sync")
	if r.code != 1 {
		t.Fatalf("want exit 1 for an untrusted certificate, got %s", r)
	}
	t.Logf("untrusted certificate: %s", r)
	out := r.stdout + r.stderr
	for _, want := range []string{fp, "self-signed", fmt.Sprintf("127.0.0.1:%d", e.srv.TLSPort)} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %q:\n%s", want, r)
		}
	}
	if n := len(e.local("INBOX")); n != 0 {
		t.Fatalf("%d messages arrived over an untrusted connection", n)
	}

	e.writeTLSConfig(fmt.Sprintf("cert_fingerprint = %q\n", fp))
	e.mustSync("sync")
	if got := e.local("INBOX"); len(got) != 1 || got[0].messageID != msgID("tls-1") {
		t.Fatalf("after pinning, local INBOX holds %+v", got)
	}

	// The same certificate as a system root, with an unrelated ca_file:
	// still trusted, so ca_file did not replace the system's roots.
	other := filepath.Join(e.dir, "other-ca.pem")
	otherCA(t, other)
	e.writeTLSConfig(fmt.Sprintf("ca_file = %q\n", other))
	p := startBin(t, append(e.binEnv(), "SSL_CERT_FILE="+e.srv.CertFile), "-c", e.cfg, "sync")
	if r := p.wait(60 * time.Second); r.code != 0 {
		t.Fatalf("with the certificate among the system roots and an unrelated ca_file: %s", r)
	}
}

// A wrong tls mode fails the sync fast and says which mode to use:
// "starttls" against the implicit-TLS port within seconds (it used to wait
// out the 60 s timeout), "implicit" against the plain port at once.
func TestTLSWrongModeFailsFast(t *testing.T) {
	t.Parallel()
	e := tlsEnv(t)
	pin := fmt.Sprintf("cert_fingerprint = %q\n", config.FormatFingerprint(e.srv.CertFingerprint))
	for _, tc := range []struct {
		mode string
		port int
		want string
	}{
		{"starttls", e.srv.TLSPort, `tls = "implicit"`},
		{"implicit", e.srv.Port, `tls = "starttls"`},
	} {
		e.writeTLSModeConfig(tc.mode, tc.port, pin)
		r := e.run("sync")
		t.Logf("tls = %q on port %d: %s", tc.mode, tc.port, r)
		if r.code != 1 {
			t.Errorf("tls = %q on port %d: want exit 1, got %d", tc.mode, tc.port, r.code)
		}
		if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, fmt.Sprintf("127.0.0.1:%d", tc.port)) {
			t.Errorf("tls = %q on port %d: the error does not say %s (and the address)", tc.mode, tc.port, tc.want)
		}
		if r.duration > 10*time.Second {
			t.Errorf("tls = %q on port %d: failed after %v, want well under the 60 s timeout", tc.mode, tc.port, r.duration)
		}
	}
}
