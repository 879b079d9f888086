package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// testCert returns a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailsync test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func startTLSServer(t *testing.T, implicit bool) (string, int, *x509.CertPool) {
	cert, pool := testCert(t)
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("u", "p")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig: conf,
		Logger:    nopLogger{},
	})
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", conf)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return host, p, pool
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

func TestDialTLSModes(t *testing.T) {
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
		t.Run(string(mode), func(t *testing.T) {
			host, port, pool := startTLSServer(t, mode == TLSImplicit)
			c, err := Dial(context.Background(), Options{Host: host, Port: port, TLS: mode, User: "u",
				Password: func(context.Context) (string, error) { return "p", nil },
				Timeout:  5 * time.Second, TLSConfig: &tls.Config{RootCAs: pool}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			boxes, err := c.List(context.Background(), nil)
			if err != nil || len(boxes) != 1 || boxes[0].Name != "INBOX" {
				t.Fatalf("LIST over %s: %v %v", mode, boxes, err)
			}
		})
	}
}

func TestDialRejectsUntrustedCertificate(t *testing.T) {
	host, port, _ := startTLSServer(t, true)
	_, err := Dial(context.Background(), Options{Host: host, Port: port, TLS: TLSImplicit, User: "u",
		Password: func(context.Context) (string, error) { return "p", nil }, Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("got %v, want a certificate error", err)
	}
}

// A man in the middle may append plaintext after the server's STARTTLS OK,
// hoping it is read as if it came over TLS (CVE-2011-0411 and kin).
func TestStartTLSRejectsInjectedData(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"))
		buf := make([]byte, 100)
		c.Read(buf)
		c.Write([]byte("S1 OK begin TLS\r\n* OK injected\r\n"))
		c.Read(buf)
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	_, err = Dial(context.Background(), Options{Host: host, Port: p, TLS: TLSStartTLS, User: "u",
		Password: func(context.Context) (string, error) { return "p", nil }, Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "after accepting STARTTLS") {
		t.Fatalf("got %v, want the injection to be refused", err)
	}
}

// serveIMAPS serves the memory server over implicit TLS with conf.
func serveIMAPS(t *testing.T, conf *tls.Config) int {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("u", "p")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger: nopLogger{},
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func implicitOptions(port int) Options {
	return Options{Host: "127.0.0.1", Port: port, TLS: TLSImplicit, User: "u",
		Password: func(context.Context) (string, error) { return "p", nil }, Timeout: 5 * time.Second}
}

// TLS below 1.2 is refused even when a TLSConfig asks for less.
func TestDialRefusesOldTLS(t *testing.T) {
	cert, pool := testCert(t)
	port := serveIMAPS(t, &tls.Config{Certificates: []tls.Certificate{cert},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	o := implicitOptions(port)
	o.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}
	c, err := Dial(context.Background(), o)
	if err == nil {
		c.Close()
		t.Fatal("connected over TLS 1.1")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("got %v, want a protocol version error", err)
	}
}

// issue makes a certificate for 127.0.0.1 signed by parent (self-signed
// when parent is nil); isCA makes it able to sign others.
func issue(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// A pin may name the CA in the chain the server sends, but only a CA that
// really signed the server's certificate: its certificate is public, and
// anyone can send it along with a leaf of their own.
func TestDialTLSPinInChain(t *testing.T) {
	ca, caKey := issue(t, "pinned CA", true, nil, nil)
	leaf, leafKey := issue(t, "server", false, ca, caKey)
	forged, forgedKey := issue(t, "forged server", false, nil, nil)
	pinCA := [][32]byte{sha256.Sum256(ca.Raw)}

	for _, tc := range []struct {
		name  string
		chain tls.Certificate
		pins  [][32]byte
		want  string // "" means it must connect
	}{
		{"CA pinned", tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Raw}, PrivateKey: leafKey}, pinCA, ""},
		{"leaf pinned", tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Raw}, PrivateKey: leafKey}, [][32]byte{sha256.Sum256(leaf.Raw)}, ""},
		{"pinned CA sent beside a forged leaf", tls.Certificate{Certificate: [][]byte{forged.Raw, ca.Raw}, PrivateKey: forgedKey}, pinCA, "does not sign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := serveIMAPS(t, &tls.Config{Certificates: []tls.Certificate{tc.chain}})
			o := implicitOptions(port)
			o.Fingerprints = tc.pins
			c, err := Dial(context.Background(), o)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pin mismatch") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
