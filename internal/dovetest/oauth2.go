package dovetest

// OAuth2Options configure OAuth2 logins.
type OAuth2Options struct{}

// oauth2Config is the Dovecot configuration for Options.OAuth2.
func (s *Server) oauth2Config() string {
	if s.opts.OAuth2 == nil {
		return ""
	}
	return ""
}
