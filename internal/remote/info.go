package remote

import (
	"crypto/tls"
	"net"
	"slices"
)

// Fingerprint is how a certificate is named to the user: "sha256:" and
// the hex SHA-256 of its DER, the form the cert_fingerprint key accepts.
func Fingerprint(der []byte) string { return fingerprint(der) }

// TLSState returns the state of the connection's TLS session; ok is false
// on a plaintext connection (tls = "none").
func (c *Conn) TLSState() (state tls.ConnectionState, ok bool) {
	if c.g == nil {
		return tls.ConnectionState{}, false
	}
	var nc net.Conn = c.g.Conn
	for {
		switch x := nc.(type) {
		case *tls.Conn:
			return x.ConnectionState(), true
		case *traceConn:
			nc = x.Conn
		case *deflateConn:
			nc = x.Conn
		default:
			return tls.ConnectionState{}, false
		}
	}
}

// Capabilities lists the capabilities the server announced after login,
// sorted.
func (c *Conn) Capabilities() []string {
	out := make([]string, 0, len(c.caps))
	for cp := range c.caps {
		out = append(out, string(cp))
	}
	slices.Sort(out)
	return out
}
