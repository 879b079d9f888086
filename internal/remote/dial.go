package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TLSMode selects how the connection is secured.
type TLSMode string

const (
	TLSImplicit TLSMode = "implicit"
	TLSStartTLS TLSMode = "starttls"
	TLSNone     TLSMode = "none"
)

// Options describe how to reach and log in to a server.
type Options struct {
	Host     string
	Port     int
	TLS      TLSMode
	User     string
	Password func(ctx context.Context) (string, error)
	// Timeout bounds every network operation: dialing, the TLS handshake,
	// login, and each command's response or progress on a literal.
	Timeout time.Duration
	// TLSConfig overrides the default TLS configuration (tests).
	TLSConfig *tls.Config
	// CAFile holds extra PEM roots, trusted beside the system's.
	CAFile string
	// Fingerprints pin certificates by the SHA-256 of their DER: with any
	// set, a chain that holds one of them is trusted, and nothing else.
	Fingerprints [][32]byte
	// ServerName is the name the certificate must carry; "" means Host.
	ServerName string
	// Mechanisms are the SASL mechanisms to try, in order; nil means
	// those the server offers that the credentials fit.
	Mechanisms []string
	// Token, when set, supplies an OAuth2 access token (XOAUTH2,
	// OAUTHBEARER); the account then has no password.
	Token func(ctx context.Context) (string, error)
	// Trace, if set, is given the protocol conversation a line at a
	// time, with literals abbreviated and credentials redacted.
	Trace func(fromServer bool, line string)
	// Activity, if set, is called whenever bytes move on the connection,
	// in either direction: the daemon's measure of a sync's progress.
	Activity func()
}

// Dial connects and logs in. The connection is closed when ctx ends.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	timeout := o.timeout()
	d := &net.Dialer{Timeout: timeout}
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return newConn(ctx, tcp, o)
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 60 * time.Second
	}
	return o.Timeout
}

// newConn secures (per o.TLS) and logs in on an established connection.
func newConn(ctx context.Context, tcp net.Conn, o Options) (*Conn, error) {
	timeout := o.timeout()
	raw := newProgressConn(tcp, timeout)
	raw.activity = o.Activity
	tlsConf := o.TLSConfig.Clone()
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = o.Host
	}
	if len(tlsConf.NextProtos) == 0 && o.TLS == TLSImplicit {
		tlsConf.NextProtos = []string{"imap"}
	}
	// The guard sits directly under go-imap, above TLS, in every mode.
	var conn *guardConn
	switch o.TLS {
	case TLSImplicit:
		tc := tls.Client(raw, tlsConf)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", o.Host, err)
		}
		conn = newGuardConn(tc, nil)
	case TLSStartTLS:
		tc, err := startTLS(ctx, raw, tlsConf, timeout)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("STARTTLS with %s: %w", o.Host, err)
		}
		// go-imap expects a greeting; the real one came before STARTTLS and
		// its capabilities must not be trusted anyway (RFC 3501 6.2.1), so
		// hand it a bare one and let login ask for CAPABILITY afresh.
		conn = newGuardConn(tc, []byte("* OK TLS established\r\n"))
	case TLSNone:
		conn = newGuardConn(raw, nil)
	default:
		raw.Close()
		return nil, fmt.Errorf("unknown TLS mode %q", o.TLS)
	}
	changes := make(chan struct{}, 1)
	changed := func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	c := imapclient.New(conn, &imapclient.Options{TLSConfig: tlsConf, UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { changed() },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				changed()
			}
		},
		// A flag change: go-imap waits until the message is read.
		Fetch: func(msg *imapclient.FetchMessageData) {
			_, _ = msg.Collect()
			changed()
		},
	}})
	rc := &Conn{c: c, pc: raw, g: conn, changes: changes}
	rc.stop = context.AfterFunc(ctx, func() { c.Close() })
	if err := rc.login(ctx, o); err != nil {
		rc.Close()
		return nil, err
	}
	return rc, nil
}

// startTLS performs the STARTTLS exchange by hand, so that the connection
// go-imap sees is already encrypted and can be guarded like the others.
func startTLS(ctx context.Context, raw net.Conn, conf *tls.Config, timeout time.Duration) (net.Conn, error) {
	_ = raw.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(raw, 4096)
	line, err := readLine(br)
	if err != nil {
		return nil, fmt.Errorf("reading greeting: %w", err)
	}
	if !strings.HasPrefix(strings.ToUpper(line), "* OK") {
		// PREAUTH would skip the upgrade; BYE is a refusal.
		return nil, fmt.Errorf("unexpected greeting %q", line)
	}
	if _, err := io.WriteString(raw, "S1 STARTTLS\r\n"); err != nil {
		return nil, err
	}
	for {
		line, err = readLine(br)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "S1 ") {
			break
		}
	}
	if !strings.HasPrefix(strings.ToUpper(line), "S1 OK") {
		return nil, fmt.Errorf("server refused: %q", line)
	}
	if br.Buffered() > 0 {
		// Anything sent before the handshake could be injected plaintext.
		return nil, errors.New("server sent data after accepting STARTTLS")
	}
	tc := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	_ = raw.SetDeadline(time.Time{})
	return tc, nil
}

// readLine reads one CRLF-terminated line of at most 8 KiB.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > 8<<10 {
			return "", errors.New("line too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}
