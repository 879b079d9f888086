package dovetest

// TLSOptions configure the server's TLS.
type TLSOptions struct{}

// tlsConfig is the Dovecot configuration for Options.TLS.
func (s *Server) tlsConfig() string {
	if s.opts.TLS == nil {
		return ""
	}
	return ""
}
