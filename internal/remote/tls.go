package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// greetingWait is how long a server may keep silent before mailsync
// suspects it is waiting for a TLS ClientHello (tls = "starttls" or "none"
// against an implicit-TLS port). IMAP servers greet at once; without this,
// the mistake shows only after the full timeout as a bare i/o timeout.
const greetingWait = 5 * time.Second

// maxGreeting bounds a line read before go-imap takes over.
const maxGreeting = 8 << 10

// tlsConfig builds the TLS configuration from the options: TLS 1.2 or
// newer, the system's roots plus ca_file's, or only the pins when there
// are any; and the name to verify and send as SNI.
func (o Options) tlsConfig() (*tls.Config, error) {
	conf := o.TLSConfig.Clone()
	if conf == nil {
		conf = &tls.Config{}
	}
	// Go's own default is 1.2 as well, but a GODEBUG setting can lower it;
	// older versions have known weaknesses no IMAP server needs.
	if conf.MinVersion < tls.VersionTLS12 {
		conf.MinVersion = tls.VersionTLS12
	}
	if conf.ServerName == "" {
		conf.ServerName = o.ServerName
	}
	if conf.ServerName == "" {
		conf.ServerName = o.Host
	}
	if len(conf.NextProtos) == 0 && o.TLS == TLSImplicit {
		conf.NextProtos = []string{"imap"}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		// ca_file adds to the trusted roots rather than replacing them,
		// so that a provider moving to a public CA keeps working.
		pool := conf.RootCAs
		if pool == nil {
			if pool, err = x509.SystemCertPool(); err != nil {
				pool = x509.NewCertPool()
			}
		} else {
			pool = pool.Clone()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", o.CAFile)
		}
		conf.RootCAs = pool
	}
	if len(o.Fingerprints) > 0 {
		// A pin is the user's own decision to trust one certificate, as
		// for a self-signed or expired one: it replaces the CA, date and
		// name checks, which would otherwise refuse exactly those.
		pins := slices.Clone(o.Fingerprints)
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			return checkPins(cs.PeerCertificates, pins)
		}
	}
	return conf, nil
}

// pinError is a chain that matches no pin.
type pinError struct {
	reason string
	leaf   *x509.Certificate
}

func (e *pinError) Error() string { return e.reason }

// checkPins accepts a chain whose leaf is pinned, or in which a pinned
// certificate signs, link by link, down to the leaf. A pinned CA that is
// merely present is not enough: its certificate is public, and anyone can
// send it along with a leaf of their own.
func checkPins(certs []*x509.Certificate, pins [][32]byte) error {
	if len(certs) == 0 {
		return &pinError{reason: "the server sent no certificate"}
	}
	for i, c := range certs {
		if !slices.Contains(pins, sha256.Sum256(c.Raw)) {
			continue
		}
		for j := 0; j < i; j++ {
			if err := certs[j].CheckSignatureFrom(certs[j+1]); err != nil {
				return &pinError{fmt.Sprintf("pin mismatch: the pinned certificate %q does not sign the server's certificate (%v)", c.Subject, err), certs[0]}
			}
		}
		return nil
	}
	return &pinError{"pin mismatch: no certificate the server sent matches cert_fingerprint", certs[0]}
}

// fingerprint is how a certificate is named to the user: the form the
// cert_fingerprint key accepts, so that it can be pinned as printed.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tlsError is a failed TLS handshake, worded for the user: which server,
// why, in plain words, and which certificate it sent.
type tlsError struct {
	msg string
	err error
}

func (e *tlsError) Error() string { return e.msg }
func (e *tlsError) Unwrap() error { return e.err }

// describeTLSError turns a handshake error into a tlsError that names the
// server, says what is wrong with its certificate and what to set.
func describeTLSError(addr string, err error) error {
	var (
		reason, hint string
		leaf         *x509.Certificate
		cve          *tls.CertificateVerificationError
		unknown      x509.UnknownAuthorityError
		hostErr      x509.HostnameError
		invalid      x509.CertificateInvalidError
		pin          *pinError
	)
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		leaf = cve.UnverifiedCertificates[0]
	}
	switch {
	case errors.As(err, &pin):
		reason, leaf = pin.reason, pin.leaf
		hint = "if the server's certificate was replaced and you have checked the new one, update cert_fingerprint"
	case errors.As(err, &hostErr):
		reason = fmt.Sprintf("wrong host name: the certificate is for %s, not %s", certNames(hostErr.Certificate), hostErr.Host)
		hint = "if the server is known by one of the certificate's names, set tls_server_name to it"
	case errors.As(err, &unknown):
		reason = "certificate signed by an unknown authority"
		if c := unknown.Cert; c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) {
			reason = fmt.Sprintf("unknown authority: the certificate is self-signed (%q)", c.Subject)
		} else if c != nil {
			reason = fmt.Sprintf("unknown authority: the certificate was issued by %q, which is not trusted here", c.Issuer)
		}
		hint = "if you have checked that this is your server's certificate, pin it with cert_fingerprint, or put the CA that issued it in ca_file"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil:
		c := invalid.Cert
		which := "the certificate"
		if leaf != nil && !bytes.Equal(c.Raw, leaf.Raw) {
			which = fmt.Sprintf("the certificate %q in the server's chain", c.Subject)
		}
		now := time.Now().UTC()
		if now.Before(c.NotBefore) {
			reason = fmt.Sprintf("%s is not valid before %s (the time here is %s)", which, fmtTime(c.NotBefore), fmtTime(now))
		} else {
			reason = fmt.Sprintf("%s expired on %s (the time here is %s)", which, fmtTime(c.NotAfter), fmtTime(now))
		}
		hint = "the server's administrator must renew it; pinning it with cert_fingerprint would skip the date check"
	case errors.As(err, &cve):
		reason = cve.Err.Error()
	default:
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && isText(rhe.RecordHeader[:]) {
			return &tlsError{fmt.Sprintf("TLS with %s: the server sent plaintext (%q) where a TLS handshake was expected: this port speaks plain IMAP first; "+
				`set tls = "starttls", or use the server's implicit-TLS port (usually 993)`, addr, string(rhe.RecordHeader[:])), err}
		}
		return &tlsError{fmt.Sprintf("TLS with %s: %v", addr, err), err}
	}
	msg := fmt.Sprintf("TLS with %s: %s", addr, reason)
	if leaf != nil {
		msg += "; the server's certificate is " + fingerprint(leaf.Raw)
	}
	if hint != "" {
		msg += "; " + hint
	}
	return &tlsError{msg, err}
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName != "" {
			// Go, like browsers, no longer reads host names from the CN.
			return fmt.Sprintf("no host name (only the common name %q, which is not used for host names any more)", c.Subject.CommonName)
		}
		return "no host name"
	}
	return strings.Join(names, ", ")
}

// isText tells a plaintext IMAP line ("* OK ...") from a TLS record,
// whose first byte is a record type (20-24), never printable.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' && c != '\t' {
			return false
		}
	}
	return len(b) > 0
}

// implicitTLS performs the handshake on a fresh connection.
func implicitTLS(ctx context.Context, raw net.Conn, conf *tls.Config, o Options) (net.Conn, error) {
	tc := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("TLS with %s: %w", o.addr(), ctx.Err())
		}
		return nil, describeTLSError(o.addr(), err)
	}
	return tc, nil
}

func (o Options) addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }

// readGreeting reads the greeting of a server that should speak plaintext
// first (tls = "starttls" or "none"). It returns the line with its CRLF.
// A server that stays silent for greetingWait is probed with a TLS
// handshake: one that answers it speaks implicit TLS.
func readGreeting(ctx context.Context, raw *progressConn, br *bufio.Reader, conf *tls.Config, o Options) ([]byte, error) {
	wait := min(greetingWait, o.timeout())
	// On the TCP connection itself: progressConn would stretch any
	// deadline to the full timeout.
	_ = raw.Conn.SetReadDeadline(time.Now().Add(wait))
	stop := context.AfterFunc(ctx, func() { _ = raw.Conn.SetReadDeadline(time.Unix(1, 0)) })
	line, err := readRawLine(br)
	stop()
	_ = raw.Conn.SetReadDeadline(time.Time{})
	if err == nil {
		return line, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("reading greeting from %s: %w", o.addr(), ctx.Err())
	}
	var ne net.Error
	if len(line) == 0 && errors.As(err, &ne) && ne.Timeout() {
		// That timeout was this function's short wait, not a stall of
		// the connection, which the probe goes on using.
		raw.stalled = nil
		return nil, probeTLS(ctx, raw, conf, o, wait)
	}
	if len(line) > 0 {
		return nil, fmt.Errorf("reading greeting from %s: got %q, then %w", o.addr(), line, err)
	}
	return nil, fmt.Errorf("reading greeting from %s: %w", o.addr(), err)
}

// probeTLS tries a TLS handshake on a server that sent no greeting, to
// tell a wrong tls setting from a dead server. Nothing was sent on the
// connection yet, so to the server this is an ordinary TLS client.
func probeTLS(ctx context.Context, raw net.Conn, conf *tls.Config, o Options, waited time.Duration) error {
	pc := conf.Clone()
	// Whether the port speaks TLS is the question, not whom to trust:
	// nothing is sent over this connection.
	pc.InsecureSkipVerify = true
	pc.VerifyConnection = nil
	pc.VerifyPeerCertificate = nil
	pc.NextProtos = []string{"imap"}
	// Probe and wait together take about the timeout, as reading the
	// greeting alone did before.
	hctx, cancel := context.WithTimeout(ctx, max(o.timeout()-waited, waited))
	defer cancel()
	tc := tls.Client(raw, pc)
	err := tc.HandshakeContext(hctx)
	if err == nil {
		_ = tc.Close()
		return fmt.Errorf(`%s sent no IMAP greeting within %v but answered a TLS handshake: this port speaks implicit TLS; set tls = "implicit" (for tls = %q, use the server's plain port, usually 143)`,
			o.addr(), waited, o.TLS)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("reading greeting from %s: %w", o.addr(), ctx.Err())
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && isText(rhe.RecordHeader[:]) {
		return fmt.Errorf("%s sent its greeting only after more than %v (%q...); an IMAP server greets at once", o.addr(), waited, string(rhe.RecordHeader[:]))
	}
	return fmt.Errorf("reading greeting from %s: no greeting within %v, and no TLS handshake either: %w", o.addr(), waited, err)
}

// readRawLine reads one line with its terminator. On an error it returns
// what it read of the line so far.
func readRawLine(br *bufio.Reader) ([]byte, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > maxGreeting {
			return b, errors.New("line too long")
		}
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(b) > 0:
			return b, io.ErrUnexpectedEOF
		default:
			return b, err
		}
	}
}

// startTLS performs the STARTTLS exchange by hand, so that the connection
// go-imap sees is already encrypted and can be guarded like the others.
//
// Everything before the handshake is unauthenticated plaintext that a man
// in the middle may have written, so it is read for one purpose only, to
// decide that STARTTLS is on offer, and anything unexpected ends the
// connection rather than being skipped: never a silent fallback to
// plaintext, and no response that might be read as if it came over TLS.
func startTLS(ctx context.Context, raw *progressConn, conf *tls.Config, o Options) (net.Conn, error) {
	addr := o.addr()
	br := bufio.NewReaderSize(raw, 4096)
	g, err := readGreeting(ctx, raw, br, conf, o)
	if err != nil {
		return nil, err
	}
	greeting := strings.TrimRight(string(g), "\r\n")
	// While the exchange lasts, every read and write must make progress
	// within the timeout, and ctx ends it.
	_ = raw.SetDeadline(time.Now().Add(o.timeout()))
	defer func() { _ = raw.SetDeadline(time.Time{}) }()
	// Closed rather than given a past deadline, which progressConn's
	// reads would push forward again. A failed exchange closes it anyway.
	stop := context.AfterFunc(ctx, func() { _ = raw.Conn.Close() })
	defer stop()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("STARTTLS with %s: %w", addr, err)
	}

	switch up := strings.ToUpper(greeting); {
	case strings.HasPrefix(up, "* OK"):
	case strings.HasPrefix(up, "* PREAUTH"):
		// STARTTLS is only valid before authentication.
		return nil, fmt.Errorf("STARTTLS with %s: the server greeted with PREAUTH (already logged in over plaintext), so the connection cannot be secured: %q", addr, greeting)
	default:
		return nil, fmt.Errorf("STARTTLS with %s: unexpected greeting %q", addr, greeting)
	}
	caps, ok := capsCode(greeting)
	if !ok {
		if caps, err = askCapability(raw, br); err != nil {
			return nil, wrap(err)
		}
	}
	if !slices.Contains(caps, "STARTTLS") {
		hint := `if the server offers IMAP over implicit TLS, set tls = "implicit" and port = 993`
		if o.Port == 993 {
			hint = `port 993 normally speaks implicit TLS: set tls = "implicit"`
		}
		return nil, fmt.Errorf("STARTTLS with %s: the server does not offer STARTTLS, so the connection cannot be secured on this port; %s", addr, hint)
	}
	if br.Buffered() > 0 {
		return nil, fmt.Errorf("STARTTLS with %s: the server sent %q unasked before STARTTLS; refusing it (possible STARTTLS injection)", addr, peekLine(br))
	}
	if _, err := io.WriteString(raw, "S1 STARTTLS\r\n"); err != nil {
		return nil, wrap(err)
	}
	l, err := readRawLine(br)
	if err != nil {
		return nil, wrap(err)
	}
	line := strings.TrimRight(string(l), "\r\n")
	switch up := strings.ToUpper(line); {
	case strings.HasPrefix(up, "S1 OK"):
	case strings.HasPrefix(up, "S1 "):
		return nil, fmt.Errorf("STARTTLS with %s: server refused: %q", addr, line)
	default:
		// Capabilities or anything else sent in plaintext before the
		// answer may be a man in the middle's, meant to be taken as the
		// server's after the upgrade.
		return nil, fmt.Errorf("STARTTLS with %s: the server sent %q before answering STARTTLS; refusing it (possible STARTTLS injection)", addr, line)
	}
	if br.Buffered() > 0 {
		return nil, fmt.Errorf("STARTTLS with %s: the server sent data after accepting STARTTLS (%q), before the TLS handshake; refusing it (possible STARTTLS injection)", addr, peekLine(br))
	}
	tc := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if ctx.Err() != nil {
			return nil, wrap(err)
		}
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && isText(rhe.RecordHeader[:]) {
			// The same injection, arriving in a later packet.
			return nil, fmt.Errorf("STARTTLS with %s: the server sent data after accepting STARTTLS (%q...), before the TLS handshake; refusing it (possible STARTTLS injection)", addr, string(rhe.RecordHeader[:]))
		}
		return nil, describeTLSError(addr, err)
	}
	return tc, nil
}

// plainGreeting reads the greeting for tls = "none" and returns it, with
// anything that came after it, for go-imap to read.
func plainGreeting(ctx context.Context, raw *progressConn, conf *tls.Config, o Options) ([]byte, error) {
	br := bufio.NewReaderSize(raw, 4096)
	g, err := readGreeting(ctx, raw, br, conf, o)
	if err != nil {
		return nil, err
	}
	rest, _ := br.Peek(br.Buffered())
	return append(g, rest...), nil
}

// askCapability sends CAPABILITY and returns the capabilities.
func askCapability(raw net.Conn, br *bufio.Reader) ([]string, error) {
	if _, err := io.WriteString(raw, "S0 CAPABILITY\r\n"); err != nil {
		return nil, err
	}
	var caps []string
	for {
		l, err := readRawLine(br)
		if err != nil {
			return nil, fmt.Errorf("reading CAPABILITY: %w", err)
		}
		line := strings.TrimRight(string(l), "\r\n")
		up := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(up, "* CAPABILITY "):
			caps = append(caps, strings.Fields(up[len("* CAPABILITY "):])...)
		case strings.HasPrefix(up, "S0 OK"):
			return caps, nil
		case strings.HasPrefix(up, "S0 "):
			return nil, fmt.Errorf("CAPABILITY refused: %q", line)
		default:
			return nil, fmt.Errorf("unexpected response to CAPABILITY: %q", line)
		}
	}
}

// capsCode returns the capabilities of a "[CAPABILITY ...]" response code.
func capsCode(line string) ([]string, bool) {
	up := strings.ToUpper(line)
	i := strings.Index(up, "[CAPABILITY ")
	if i < 0 {
		return nil, false
	}
	rest := up[i+len("[CAPABILITY "):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return nil, false
	}
	return strings.Fields(rest[:j]), true
}

// peekLine shows the start of what is buffered, for an error message.
func peekLine(br *bufio.Reader) string {
	b, _ := br.Peek(min(br.Buffered(), 80))
	return strings.TrimRight(string(b), "\r\n")
}

// replayConn returns bytes already read from the connection before
// reading on, so that they pass whatever wraps it (the trace) as if
// they had just arrived.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
