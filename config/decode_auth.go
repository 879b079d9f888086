package config

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Mechanisms accepted in auth_mechanisms: those needing a password, then
// those needing an OAuth2 token.
var (
	passwordMechanisms = []string{"PLAIN", "LOGIN"}
	oauth2Mechanisms   = []string{"XOAUTH2", "OAUTHBEARER"}
)

// oauth2Keys are the keys of OAuth2; any one of them makes the account log
// in with a token.
var oauth2Keys = []string{"oauth2_token_command", "oauth2_client_id", "oauth2_client_secret",
	"oauth2_client_secret_command", "oauth2_refresh_token", "oauth2_refresh_token_command", "oauth2_token_url"}

// provider is what a known service fills in.
type provider struct {
	host     string
	tokenURL string
	// folders are the default folder patterns: Gmail's virtual folders
	// hold copies of messages in the others.
	folders []string
}

var providers = map[string]provider{
	ProviderGmail: {host: "imap.gmail.com", tokenURL: "https://oauth2.googleapis.com/token",
		folders: []string{"*", "![Gmail]/All Mail", "![Gmail]/Important", "![Gmail]/Starred"}},
	ProviderOutlook: {host: "outlook.office365.com", tokenURL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		folders: []string{"*"}},
}

// providerOf reads the provider key first, since it changes the defaults
// of host and folders.
func (d *decoder) providerOf(t *table) (string, provider, bool) {
	s, ok := t.str("provider")
	if !ok {
		return "", provider{}, false
	}
	p, known := providers[s]
	if !known {
		d.errorf(t.key("provider"), `must be "gmail" or "outlook" (got %s)`, quoteValue(s))
		return "", provider{}, false
	}
	return s, p, true
}

// tlsTrust reads ca_file, cert_fingerprint and tls_server_name.
func (d *decoder) tlsTrust(t *table, r *Remote) {
	if r.TLS == TLSNone {
		for _, k := range []string{"ca_file", "cert_fingerprint", "tls_server_name"} {
			if t.has(k) {
				d.errorf(t.key(k), `has no effect with tls = "none"`)
			}
		}
		return
	}
	if raw, ok := t.str("ca_file"); ok {
		if p, ok := d.expandPath(t.key("ca_file"), raw); ok {
			if err := CheckCAFile(p); err != nil {
				d.add(t.key("ca_file"), err.Error(), err)
			} else {
				r.CAFile = p
			}
		}
	}
	if v, present := t.m["cert_fingerprint"]; present {
		var list []string
		switch v := v.(type) {
		case string:
			list = []string{v}
		default:
			list, _ = d.stringList(t.key("cert_fingerprint"), v)
		}
		for _, s := range list {
			fp, err := ParseFingerprint(s)
			if err != nil {
				d.add(t.key("cert_fingerprint"), err.Error(), err)
				continue
			}
			r.Fingerprints = append(r.Fingerprints, fp)
		}
	}
	if s, ok := t.str("tls_server_name"); ok {
		if s == "" || strings.ContainsAny(s, " \t\r\n/:") {
			d.errorf(t.key("tls_server_name"), "must be a host name (got %s)", quoteValue(s))
		} else {
			r.TLSServerName = s
		}
	}
}

// CheckCAFile insists on a readable file with at least one certificate,
// so that a typo is a config error rather than a baffling TLS failure.
func CheckCAFile(p string) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("cannot read: %w", err)
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("%s: certificate %d: %w", p, n+1, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s holds no PEM certificate", p)
	}
	return nil
}

// ParseFingerprint reads a pin: "sha256:" and 64 hex digits, optionally
// separated by colons (as openssl prints them), in either case.
func ParseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	algo, hexDigits, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return fp, fmt.Errorf(`must be "sha256:" and the certificate's SHA-256 in hex, like "sha256:9f86d0…" (got %s)`, quoteValue(s))
	}
	b, err := hex.DecodeString(strings.ReplaceAll(hexDigits, ":", ""))
	if err != nil || len(b) != len(fp) {
		return fp, fmt.Errorf("must hold 64 hex digits after \"sha256:\" (got %s)", quoteValue(s))
	}
	copy(fp[:], b)
	return fp, nil
}

// FormatFingerprint is the form ParseFingerprint reads, as error messages
// print it for the user to pin.
func FormatFingerprint(fp [32]byte) string { return "sha256:" + hex.EncodeToString(fp[:]) }

// credentials reads the password source or the OAuth2 keys: exactly one
// way to log in, since with two, which one wins would be a silent guess.
func (d *decoder) credentials(t *table, r *Remote, prov provider) {
	var oauthSet []string
	for _, k := range oauth2Keys {
		if t.has(k) {
			oauthSet = append(oauthSet, k)
		}
	}
	var pwSet []string
	for _, k := range passwordSources {
		if t.has(k) {
			pwSet = append(pwSet, k)
		}
	}
	switch {
	case len(oauthSet) > 0 && len(pwSet) > 0:
		d.errorf(t.key(pwSet[0]), "conflicts with %s (line %d): an account logs in with a password or with OAuth2, not both",
			oauthSet[0], d.lines.line(t.key(oauthSet[0])))
	case len(oauthSet) > 0:
		d.oauth2(t, r, prov)
	default:
		d.passwordSource(t, r)
	}
	d.mechanisms(t, r)
}

func (d *decoder) oauth2(t *table, r *Remote, prov provider) {
	o := &OAuth2{}
	r.origin.oauth2Lines = map[string]int{}
	get := func(k string) string {
		s, ok := t.str(k)
		if !ok {
			return ""
		}
		if s == "" {
			d.errorf(t.key(k), "must not be empty")
		}
		r.origin.oauth2Lines[k] = d.lines.line(t.key(k))
		return s
	}
	o.TokenCommand = get("oauth2_token_command")
	o.ClientID = get("oauth2_client_id")
	o.ClientSecret = get("oauth2_client_secret")
	o.ClientSecretCommand = get("oauth2_client_secret_command")
	o.RefreshToken = get("oauth2_refresh_token")
	o.RefreshTokenCommand = get("oauth2_refresh_token_command")
	o.TokenURL = get("oauth2_token_url")
	pair := func(a, b string) {
		if t.has(a) && t.has(b) {
			d.errorf(t.key(b), "conflicts with %s (line %d); set only one", a, d.lines.line(t.key(a)))
		}
	}
	pair("oauth2_client_secret", "oauth2_client_secret_command")
	pair("oauth2_refresh_token", "oauth2_refresh_token_command")
	if o.TokenCommand != "" {
		for _, k := range oauth2Keys[1:] {
			if t.has(k) {
				d.errorf(t.key(k), "has no use beside oauth2_token_command (line %d), which prints the access token itself",
					d.lines.line(t.key("oauth2_token_command")))
			}
		}
		r.OAuth2 = o
		return
	}
	if o.TokenURL == "" {
		o.TokenURL = prov.tokenURL
	}
	if o.TokenURL != "" && !tokenURLOK(o.TokenURL) {
		d.errorf(t.key("oauth2_token_url"), "must be an https:// URL, or http:// to this machine (got %s)", quoteValue(o.TokenURL))
	}
	var missing []string
	if o.ClientID == "" && !t.has("oauth2_client_id") {
		missing = append(missing, "oauth2_client_id")
	}
	if o.RefreshToken == "" && o.RefreshTokenCommand == "" && !t.has("oauth2_refresh_token") && !t.has("oauth2_refresh_token_command") {
		missing = append(missing, "oauth2_refresh_token_command (or oauth2_refresh_token)")
	}
	if o.TokenURL == "" && !t.has("oauth2_token_url") {
		missing = append(missing, `oauth2_token_url (or provider = "gmail" or "outlook")`)
	}
	if len(missing) > 0 {
		d.errorf(t.path, "OAuth2 needs oauth2_token_command, or the refresh keys; missing %s", strings.Join(missing, ", "))
	}
	r.OAuth2 = o
}

// tokenURLOK accepts https, and plain http only to the loopback (a
// local token helper): the refresh token and client secret travel in it.
func tokenURLOK(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return true
		}
		ip := net.ParseIP(h)
		return ip != nil && ip.IsLoopback()
	}
	return false
}

// mechanisms reads auth_mechanisms, which must fit the credentials.
func (d *decoder) mechanisms(t *table, r *Remote) {
	v, present := t.m["auth_mechanisms"]
	if !present {
		return
	}
	list, ok := d.stringList(t.key("auth_mechanisms"), v)
	if !ok {
		return
	}
	if len(list) == 0 {
		d.errorf(t.key("auth_mechanisms"), "must not be empty; leave it out to use what the server offers")
		return
	}
	usable := passwordMechanisms
	if r.OAuth2 != nil {
		usable = oauth2Mechanisms
	}
	for _, m := range list {
		m = strings.ToUpper(strings.TrimSpace(m))
		switch {
		case slices.Contains(r.AuthMechanisms, m):
			d.errorf(t.key("auth_mechanisms"), "lists %s twice", m)
		case slices.Contains(usable, m):
			r.AuthMechanisms = append(r.AuthMechanisms, m)
		case slices.Contains(passwordMechanisms, m):
			d.errorf(t.key("auth_mechanisms"), "%s needs a password; this account logs in with OAuth2 (use XOAUTH2 or OAUTHBEARER)", m)
		case slices.Contains(oauth2Mechanisms, m):
			d.errorf(t.key("auth_mechanisms"), "%s needs an OAuth2 token; set oauth2_token_command or the oauth2 refresh keys", m)
		default:
			d.errorf(t.key("auth_mechanisms"), "unknown mechanism %s (known: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER)", quoteValue(m))
		}
	}
}
