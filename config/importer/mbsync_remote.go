package importer

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (m *mbimp) imapRemote(acct *tomlAccount, st *mbStore) {
	rt := acct.remote
	a := st.acct
	get := func(k string) (mbLine, bool) { l, ok := a[k]; return l, ok }

	tlsMode, implicitFromHost := "", false
	if h, ok := get("host"); ok && strings.TrimPrefix(strings.TrimPrefix(h.arg(), "imaps:"), "imap:") != "" {
		host := h.arg()
		if rest, ok := strings.CutPrefix(host, "imaps:"); ok {
			host, implicitFromHost = rest, true
		} else {
			host = strings.TrimPrefix(host, "imap:")
		}
		rt.set("host", host)
	} else if _, ok := get("tunnel"); !ok {
		m.problem(acct, st.sec.line, fmt.Sprintf("IMAPStore %s has no Host", st.sec.name), "set host")
		rt.set("host", placeholderHost, "Placeholder: see NOT TRANSLATED above.")
	}
	if l, ok := get("tunnel"); ok {
		m.problem(acct, l.line, "Tunnel: mailsync connects over TCP only", "connect to the server's IMAP port: set host and port")
		if !rt.has("host") {
			rt.set("host", placeholderHost, "Placeholder: see NOT TRANSLATED above.")
		}
	}
	tlsKey := ""
	for _, k := range []string{"ssltype", "tlstype"} {
		if l, ok := get(k); ok {
			tlsKey = k
			switch strings.ToLower(l.arg()) {
			case "none":
				tlsMode = "none"
			case "starttls":
				tlsMode = "starttls"
			case "imaps":
				tlsMode = "implicit"
			default:
				m.problem(acct, l.line, fmt.Sprintf("%s %q", l.cmd, l.arg()), "use None, STARTTLS or IMAPS")
			}
		}
	}
	for _, k := range []string{"requiressl", "useimaps", "usesslv2", "usesslv3", "usetlsv1", "usetlsv1.1", "usetlsv1.2", "requirecram"} {
		if l, ok := get(k); ok {
			m.problem(acct, l.line, l.cmd+" is deprecated (mbsync 1.4 still reads it)", "set tls (and auth_mechanisms) in the TOML by hand")
		}
	}
	switch {
	case tlsMode != "":
		rt.set("tls", tlsMode, fmt.Sprintf("mbsync: %s.", map[string]string{"ssltype": "SSLType", "tlstype": "TLSType"}[tlsKey]))
	case implicitFromHost:
		tlsMode = "implicit"
		rt.set("tls", tlsMode, "mbsync: Host imaps:….")
	default:
		tlsMode = "starttls"
		rt.set("tls", tlsMode, "mbsync's default without SSLType: STARTTLS.")
	}
	if tlsMode == "none" {
		rt.set("allow_plaintext", true, "mbsync: SSLType None. The password crosses the network unencrypted.")
	}
	if l, ok := get("port"); ok {
		if n, err := strconv.Atoi(l.arg()); err == nil && n >= 1 && n <= 65535 {
			rt.set("port", int64(n))
		} else {
			m.problem(acct, l.line, fmt.Sprintf("Port %q", l.arg()), "use a port between 1 and 65535")
		}
	}
	if l, ok := get("user"); ok {
		rt.set("user", l.arg())
	} else if l, ok := get("usercmd"); ok {
		m.problem(acct, l.line, "UserCmd: mailsync reads the login name from the config", "run the command once and set user to what it prints")
		rt.set("user", placeholderUser, "Placeholder: see NOT TRANSLATED above.")
	} else {
		m.problem(acct, st.sec.line, fmt.Sprintf("IMAPStore %s has no User: mbsync asked for it", st.sec.name), "set user")
		rt.set("user", placeholderUser, "Placeholder: see NOT TRANSLATED above.")
	}

	// Credentials: PassCmd prints an OAuth2 token when only XOAUTH2 or
	// OAUTHBEARER is allowed (the usual mbsync + cyrus-sasl-xoauth2 setup).
	var mechs []string
	mechLine := 0
	for _, k := range []string{"authmech", "authmechs"} {
		if l, ok := get(k); ok {
			mechLine = l.line
			mechs = nil
			for _, x := range l.args {
				mechs = append(mechs, strings.ToUpper(x))
			}
		}
	}
	oauthOnly := len(mechs) > 0
	anyOAuth := false
	for _, x := range mechs {
		isO := x == "XOAUTH2" || x == "OAUTHBEARER"
		oauthOnly = oauthOnly && isO
		anyOAuth = anyOAuth || isO
	}
	// An empty Pass or PassCmd is no password source: mbsync asks.
	pass, hasPass := get("pass")
	passCmd, hasCmd := get("passcmd")
	hasPass = hasPass && pass.arg() != ""
	hasCmd = hasCmd && strings.TrimPrefix(passCmd.arg(), "+") != ""
	switch {
	case hasPass && hasCmd:
		m.problem(acct, passCmd.line, "both Pass and PassCmd", "mbsync refuses this too; the TOML uses Pass")
		rt.set("password", pass.arg())
	case hasCmd && oauthOnly:
		rt.set("oauth2_token_command", strings.TrimPrefix(passCmd.arg(), "+"),
			"mbsync: PassCmd with AuthMechs "+strings.Join(mechs, " ")+": the command prints an OAuth2 access token.")
	case hasCmd:
		rt.set("password_command", strings.TrimPrefix(passCmd.arg(), "+"), "mbsync: PassCmd. mailsync uses the first line the command prints.")
	case hasPass:
		if oauthOnly {
			m.problem(acct, pass.line, "Pass with only OAuth2 mechanisms: a fixed access token expires within hours",
				"set oauth2_token_command to a program that prints a fresh token (oama, pizauth)")
		}
		rt.set("password", pass.arg())
	default:
		if l, ok := get("usekeychain"); ok {
			if on, _ := mbBool(l.arg()); on {
				user, _ := rt.get("user")
				host, _ := rt.get("host")
				rt.set("password_command", fmt.Sprintf("security find-internet-password -r imap -s %s -a %s -w",
					shellQuote(fmt.Sprint(host)), shellQuote(fmt.Sprint(user))),
					"mbsync: UseKeychain yes. This reads the same macOS Keychain item.")
				break
			}
		}
		m.problem(acct, st.sec.line, fmt.Sprintf("IMAPStore %s has no Pass or PassCmd: mbsync asked for the password", st.sec.name),
			`set password_command (e.g. "pass show mail/`+acct.name+`") or password_file; the TOML has a placeholder that fails`)
		rt.set("password_command", fmt.Sprintf("echo 'mailsync: set a password source for account %s in the config' >&2; exit 1", acct.name),
			"Placeholder: the password source could not be imported (see NOT TRANSLATED above).")
	}
	if mechLine != 0 {
		usable := []string{"PLAIN", "LOGIN"}
		if oauthOnly && hasCmd {
			usable = []string{"XOAUTH2", "OAUTHBEARER"}
		}
		var keep, drop []string
		for _, x := range mechs {
			switch {
			case x == "*":
			case slices.Contains(usable, x):
				keep = append(keep, x)
			default:
				drop = append(drop, x)
			}
		}
		switch {
		case slices.Contains(mechs, "*"):
			// Whatever the server offers: mailsync's default.
		case anyOAuth && !oauthOnly:
			m.problem(acct, mechLine, "AuthMechs mixes password and OAuth2 mechanisms", "mailsync logs in one way: the TOML uses the password; set auth_mechanisms and the oauth2 keys by hand for OAuth2")
			if len(keep) > 0 {
				rt.set("auth_mechanisms", keep)
			}
		case len(keep) == 0:
			m.problem(acct, mechLine, fmt.Sprintf("AuthMechs %s: mailsync knows none of them", strings.Join(mechs, " ")),
				"mailsync logs in with PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER; remove it to use what the server offers")
		default:
			tv := rt.set("auth_mechanisms", keep, "mbsync: AuthMechs.")
			if len(drop) > 0 {
				tv.notes = append(tv.notes, fmt.Sprintf("Left out: %s (mailsync knows PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER).", strings.Join(drop, ", ")))
			}
		}
	}
	if l, ok := get("timeout"); ok {
		if n, err := strconv.Atoi(l.arg()); err == nil && n > 0 {
			rt.set("timeout", durString(time.Duration(n)*time.Second), fmt.Sprintf("mbsync: Timeout %d (seconds).", n))
		} else {
			m.problem(acct, l.line, fmt.Sprintf("Timeout %s", l.arg()), "mailsync's timeout is always on; leave it out for the default 60s")
		}
	}
	if tlsMode != "none" {
		m.certificates(acct, st)
	}
	for _, k := range []string{"clientcertificate", "clientkey"} {
		if l, ok := get(k); ok {
			m.problem(acct, l.line, l.cmd+": mailsync does not log in with a client certificate", "log in with a password or OAuth2")
		}
	}
	for _, k := range []string{"sslversion", "sslversions", "tlsversions", "cipherstring"} {
		if l, ok := get(k); ok {
			acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: mailsync uses TLS 1.2 or newer with Go's ciphers.", l.cmd, l.line))
		}
	}
	for _, k := range []string{"pipelinedepth", "disableextension", "disableextensions"} {
		if l, ok := get(k); ok {
			acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: mailsync pipelines and picks extensions by itself.", l.cmd, l.line))
		}
	}

	// The store's own options.
	v := st.vals
	if l, ok := v["path"]; ok && l.arg() != "" {
		m.problem(acct, l.line, fmt.Sprintf("IMAPStore Path %q: mailsync syncs folder names as the server has them", l.arg()),
			`select the folders under it with folders = ["`+strings.TrimSuffix(l.arg(), "/")+`/*"] and rename them in folder_map`)
	}
	if l, ok := v["subscribedonly"]; ok {
		if on, _ := mbBool(l.arg()); on {
			m.problem(acct, l.line, "SubscribedOnly: mailsync lists every folder, subscribed or not", "list the folders you want in folders")
		}
	}
	for _, k := range []string{"trash", "mapinbox", "flatten"} {
		if l, ok := v[k]; ok {
			m.problem(acct, l.line, fmt.Sprintf("IMAPStore %s: mailsync has no equivalent", l.cmd), storeHint(k))
		}
	}
	if l, ok := v["maxsize"]; ok {
		if n, ok := mbSize(l.arg()); !ok || n > 0 {
			m.problem(acct, l.line, "IMAPStore MaxSize: mailsync does not limit uploads", "remove it")
		}
	}
	for _, k := range []string{"usenamespace", "pathdelimiter", "trashnewonly", "trashremotenew"} {
		if l, ok := v[k]; ok {
			acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: mailsync uses the server's namespace and delimiter.", l.cmd, l.line))
		}
	}
}

func storeHint(k string) string {
	switch k {
	case "trash":
		return "mailsync deletes what is deleted; use your mail client's trash folder"
	case "mapinbox":
		return "rename INBOX with folder_map instead"
	case "flatten":
		return "mailsync keeps the server's hierarchy"
	}
	return "remove it"
}

// certificates translates CertificateFile: CA certificates are trust
// anchors (ca_file); host certificates, which mbsync trusts whatever their
// validity, are pins (cert_fingerprint).
func (m *mbimp) certificates(acct *tomlAccount, st *mbStore) {
	t := m.t
	rt := acct.remote
	sysCerts := true
	sysLine := 0
	if l, ok := st.acct["systemcertificates"]; ok {
		sysCerts, _ = mbBool(l.arg())
		sysLine = l.line
	}
	l, ok := st.acct["certificatefile"]
	if !ok {
		if !sysCerts {
			m.problem(acct, sysLine, "SystemCertificates no without a CertificateFile: mbsync trusts no certificate", "set cert_fingerprint to pin the server's certificate")
		}
		return
	}
	p, notes, ok := t.pathValue(acct, l.line, "CertificateFile", l.arg(), false)
	if !ok {
		return
	}
	data, err := os.ReadFile(t.expandHome(p))
	if err != nil {
		tv := rt.set("ca_file", p, append(notes, "mbsync: CertificateFile.")...)
		tv.disabled = true
		m.problem(acct, l.line, fmt.Sprintf("CertificateFile %s cannot be read here", l.arg()), "ca_file is written commented out; fix the path and uncomment it")
		return
	}
	var cas, hosts int
	var pins []string
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		if c.IsCA {
			cas++
			continue
		}
		hosts++
		sum := sha256.Sum256(c.Raw)
		pins = append(pins, "sha256:"+hex.EncodeToString(sum[:]))
	}
	switch {
	case cas == 0 && hosts == 0:
		m.problem(acct, l.line, fmt.Sprintf("CertificateFile %s holds no certificate", l.arg()), "remove it, or fix the file")
	case hosts > 0 && cas == 0:
		note := "mbsync: CertificateFile with the server's own certificate, which mbsync trusts as it is: mailsync pins its SHA-256 (and then trusts no CA)."
		if len(pins) == 1 {
			rt.set("cert_fingerprint", pins[0], note)
		} else {
			rt.set("cert_fingerprint", pins, note)
		}
	case cas > 0 && hosts > 0:
		rt.set("ca_file", p, append(notes, "mbsync: CertificateFile (its CA certificates).")...)
		m.problem(acct, l.line, fmt.Sprintf("CertificateFile %s holds both CA and server certificates", l.arg()),
			"mailsync takes one or the other: the TOML trusts the CAs; pin the server certificate with cert_fingerprint instead if that is what it is for")
	default:
		rt.set("ca_file", p, append(notes, "mbsync: CertificateFile. mailsync trusts it besides the system's CAs.")...)
		if !sysCerts {
			m.problem(acct, sysLine, "SystemCertificates no: mailsync trusts the system's CAs besides ca_file",
				"to trust nothing else, pin the server's certificate with cert_fingerprint")
		}
	}
}
