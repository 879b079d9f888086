package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
