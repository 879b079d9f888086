package remote

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	gosync "sync"
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
	// Mechanisms are the mechanisms to log in with, best first: the
	// first the server offers is used (auth.go); nil means those the
	// server offers that the credentials fit.
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
	// Compress asks for COMPRESS=DEFLATE when the server offers it, once,
	// where it costs the least (compress.go).
	Compress bool
	// QResync enables QRESYNC when the server offers it (vanished.go): a
	// folder whose messages went is then told which, instead of every
	// UID it has. A connection held for IDLE leaves it off, as the server
	// would then report expunges as VANISHED, not EXPUNGE.
	QResync bool
	// Ahead, if set, is asked once the greeting is read for the first
	// round of a sync, which then goes out behind the login and is
	// answered with it; false sends nothing ahead. It is not asked when
	// the login takes more than one command (ahead.go). It may wait, for
	// a state being read, say.
	Ahead func(ctx context.Context) (Ahead, bool)
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
	if o.Trace != nil && o.TLS == TLSStartTLS {
		raw.Conn = newPreTLSTrace(raw.Conn, o.Trace) // trace.go
	}
	tlsConf, err := o.tlsConfig() // tls.go
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS with %s: %w", o.addr(), err)
	}
	// The guard sits directly under go-imap, above TLS, in every mode.
	var conn *guardConn
	switch o.TLS {
	case TLSImplicit:
		tc, err := implicitTLS(ctx, raw, tlsConf, o)
		if err != nil {
			raw.Close()
			return nil, err
		}
		conn = newGuardConn(tc, nil)
	case TLSStartTLS:
		tc, err := startTLS(ctx, raw, tlsConf, o)
		if err != nil {
			raw.Close()
			return nil, err
		}
		// go-imap expects a greeting; the real one came before STARTTLS and
		// its capabilities must not be trusted anyway (RFC 3501 6.2.1), so
		// hand it a bare one and let login ask for CAPABILITY afresh.
		conn = newGuardConn(tc, []byte("* OK TLS established\r\n"))
	case TLSNone:
		// Read here, to tell a silent implicit-TLS port from a server.
		g, err := plainGreeting(ctx, raw, tlsConf, o)
		if err != nil {
			raw.Close()
			return nil, err
		}
		conn = newGuardConn(&replayConn{Conn: raw, buf: g}, nil)
	default:
		raw.Close()
		return nil, fmt.Errorf("unknown TLS mode %q", o.TLS)
	}
	// Under the trace, so that the trace shows the commands and answers
	// a compressed stream carries.
	dc := newDeflateConn(conn.Conn)
	conn.Conn = dc
	if o.Trace != nil {
		// Above TLS, under the guard: plaintext, every byte, nothing
		// in the way when no one traces.
		conn.Conn = newTraceConn(conn.Conn, o.Trace)
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
	conn.onVanished = changed
	rc := &Conn{c: c, pc: raw, g: conn, dc: dc, changes: changes, wantCompress: o.Compress}
	rc.def = &Folder{Conn: rc}
	rc.claimed = gosync.NewCond(&rc.wmu)
	rc.stop = context.AfterFunc(ctx, func() { c.Close() })
	if err := rc.login(ctx, o); err != nil {
		rc.Close()
		return nil, err
	}
	return rc, nil
}
