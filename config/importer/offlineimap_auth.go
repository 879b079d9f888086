package importer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// commandOrProblem translates a *_eval key that should run a program.
func (o *oimp) evalCommand(r *sect, key string) (cmd string, constant string, isConst bool, line int, ok bool) {
	n, src, line, parsed := r.py(key)
	if !parsed {
		return "", "", false, line, false
	}
	if s, ok := evalString(n); ok {
		return "", s, true, line, true
	}
	c, err := commandOf(n)
	if err != nil {
		hint := o.pyHint(key)
		if call, isCall := n.(*pyCall); isCall {
			if fn, isName := call.fn.(*pyName); isName && o.pythonfile != "" {
				hint = fmt.Sprintf("%s() is defined in %s; set a command that does what it does (for pass: \"pass show NAME\")", fn.id, o.pythonfile)
			}
		}
		r.problem(line, fmt.Sprintf("%s %s: %v", key, quoteForMsg(src), err), hint)
		return "", "", false, line, false
	}
	return c, "", false, line, true
}

func (o *oimp) credentials(r *sect, acct *tomlAccount, st *remoteState, acctName string) {
	rt := acct.remote
	// Would offlineimap log in with XOAUTH2? Only with a token configured,
	// and only if XOAUTH2 comes before PLAIN and LOGIN in auth_mechanisms.
	var mechs []string
	mechLine := 0
	if v, line, ok := r.get("auth_mechanisms"); ok {
		mechLine = line
		for _, m := range regexp.MustCompile(`,\s*`).Split(strings.TrimSpace(v), -1) {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				mechs = append(mechs, m)
			}
		}
	} else {
		mechs = []string{"GSSAPI", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN"}
	}
	tokenKeys := []string{"oauth2_refresh_token", "oauth2_refresh_token_eval", "oauth2_access_token", "oauth2_access_token_eval"}
	hasToken := false
	for _, k := range tokenKeys {
		if _, ok := o.f.lookup(r.s, k); ok {
			hasToken = true
		}
	}
	xo := slices.Index(mechs, "XOAUTH2")
	pw := slices.IndexFunc(mechs, func(m string) bool { return m == "PLAIN" || m == "LOGIN" })
	useOAuth := hasToken && xo >= 0 && (pw < 0 || xo < pw)

	pwKeys := []string{"remotepasseval", "remotepass", "remotepassfile"}
	if useOAuth {
		o.oauth2(r, acct, st)
		for _, k := range pwKeys {
			if _, line, ok := r.get(k); ok {
				acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: offlineimap logged in with XOAUTH2, which comes first in auth_mechanisms.", k, line))
			}
		}
	} else {
		if hasToken {
			acct.notes = append(acct.notes, "The oauth2_* keys are not imported: auth_mechanisms puts PLAIN or LOGIN before XOAUTH2, or leaves it out.")
		}
		o.password(r, acct, acctName)
		for _, k := range []string{"oauth2_client_id", "oauth2_client_secret", "oauth2_refresh_token", "oauth2_request_url",
			"oauth2_access_token", "oauth2_access_token_eval", "oauth2_client_id_eval", "oauth2_client_secret_eval", "oauth2_refresh_token_eval"} {
			r.used[k] = true
		}
	}
	if mechLine != 0 {
		usable := []string{"PLAIN", "LOGIN"}
		if useOAuth {
			usable = []string{"XOAUTH2", "OAUTHBEARER"}
		}
		var keep, drop []string
		for _, m := range mechs {
			if slices.Contains(usable, m) {
				keep = append(keep, m)
			} else {
				drop = append(drop, m)
			}
		}
		switch {
		case len(keep) == 0:
			r.problem(mechLine, fmt.Sprintf("auth_mechanisms %s: none of them is one mailsync uses here (%s)", strings.Join(mechs, ", "), strings.Join(usable, ", ")),
				"remove it; mailsync picks from what the server offers")
		default:
			tv := rt.set("auth_mechanisms", keep, "offlineimap: auth_mechanisms.")
			if len(drop) > 0 {
				tv.notes = append(tv.notes, fmt.Sprintf("Left out: %s (mailsync knows PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER, and uses those that fit the credentials).", strings.Join(drop, ", ")))
			}
		}
	}
}

func (o *oimp) password(r *sect, acct *tomlAccount, acctName string) {
	rt := acct.remote
	// offlineimap's order: remotepasseval, remotepass, remotepassfile, netrc.
	done := ""
	if cmd, constant, isConst, line, ok := o.evalCommand(r, "remotepasseval"); ok {
		if isConst {
			rt.set("password", constant, "offlineimap: remotepasseval, a constant.")
		} else {
			src, _, _ := r.get("remotepasseval")
			rt.set("password_command", cmd, fmt.Sprintf("offlineimap: remotepasseval = %s", strings.TrimSpace(src)),
				"mailsync uses the first line the command prints.")
		}
		done = fmt.Sprintf("remotepasseval (line %d)", line)
	} else if line != 0 {
		done = "-"
	}
	if v, line, ok := r.get("remotepass"); ok {
		if done == "" {
			rt.set("password", v)
			done = fmt.Sprintf("remotepass (line %d)", line)
		} else if done != "-" {
			acct.notes = append(acct.notes, fmt.Sprintf("remotepass (line %d) is not imported: offlineimap used %s first.", line, done))
		}
	}
	if v, line, ok := r.get("remotepassfile"); ok {
		if done == "" {
			if p, notes, ok := o.t.pathValue(acct, line, "remotepassfile", strings.TrimSpace(v), false); ok {
				rt.set("password_file", p, append(notes, "offlineimap: remotepassfile. mailsync uses its first line.")...)
				done = fmt.Sprintf("remotepassfile (line %d)", line)
			}
		} else if done != "-" {
			acct.notes = append(acct.notes, fmt.Sprintf("remotepassfile (line %d) is not imported: offlineimap used %s first.", line, done))
		}
	}
	if done == "" {
		r.problem(r.s.line, fmt.Sprintf("[%s] has no password: offlineimap read ~/.netrc or asked for it", r.s.name),
			`set password_command (e.g. "pass show mail/`+acctName+`") or password_file; the TOML has a placeholder that fails`)
	}
	if !rt.has("password") && !rt.has("password_command") && !rt.has("password_file") {
		rt.set("password_command", fmt.Sprintf("echo 'mailsync: set a password source for account %s in the config' >&2; exit 1", acct.name),
			"Placeholder: the password source could not be imported (see NOT TRANSLATED above).")
	}
}

func (o *oimp) oauth2(r *sect, acct *tomlAccount, st *remoteState) {
	rt := acct.remote
	if cmd, _, isConst, line, ok := o.evalCommand(r, "oauth2_access_token_eval"); ok {
		if isConst {
			r.problem(line, "oauth2_access_token_eval is a constant access token, which expires within hours",
				"set oauth2_token_command to a program that prints a fresh token (oama, pizauth), or the refresh keys")
		} else {
			rt.set("oauth2_token_command", cmd, "offlineimap: oauth2_access_token_eval. mailsync uses the first line the command prints as the access token.")
			for _, k := range []string{"oauth2_client_id", "oauth2_client_id_eval", "oauth2_client_secret", "oauth2_client_secret_eval",
				"oauth2_refresh_token", "oauth2_refresh_token_eval", "oauth2_request_url", "oauth2_access_token"} {
				if _, l, ok := r.get(k); ok {
					acct.notes = append(acct.notes, fmt.Sprintf("%s (line %d) is not imported: the access token command makes it unnecessary.", k, l))
				}
			}
			return
		}
	}
	if _, line, ok := r.get("oauth2_access_token"); ok {
		r.problem(line, "oauth2_access_token is a fixed access token, which expires within hours",
			"set oauth2_token_command to a program that prints a fresh token (oama, pizauth), or the refresh keys")
	}
	if v, _, ok := r.get("oauth2_client_id"); ok {
		rt.set("oauth2_client_id", strings.TrimSpace(v))
	} else if _, constant, isConst, line, ok := o.evalCommand(r, "oauth2_client_id_eval"); ok {
		if isConst {
			rt.set("oauth2_client_id", constant, "offlineimap: oauth2_client_id_eval, a constant.")
		} else {
			r.problem(line, "oauth2_client_id_eval runs a command; mailsync reads the client ID from the config only",
				"run the command once and set oauth2_client_id to what it prints")
		}
	}
	// The secret and the refresh token: a value, or a command that
	// prints it.
	for _, k := range []string{"oauth2_client_secret", "oauth2_refresh_token"} {
		if v, _, ok := r.get(k); ok {
			rt.set(k, strings.TrimSpace(v))
		} else if cmd, constant, isConst, _, ok := o.evalCommand(r, k+"_eval"); ok {
			if isConst {
				rt.set(k, constant, "offlineimap: "+k+"_eval, a constant.")
			} else {
				rt.set(k+"_command", cmd, "offlineimap: "+k+"_eval.")
			}
		}
	}
	if v, _, ok := r.get("oauth2_request_url"); ok {
		rt.set("oauth2_token_url", strings.TrimSpace(v), "offlineimap: oauth2_request_url.")
	}
	// mailsync refuses an incomplete set; keep what there is, commented
	// out, and a placeholder command that says what to do.
	var missing []string
	if !rt.has("oauth2_client_id") {
		missing = append(missing, "oauth2_client_id")
	}
	if !rt.has("oauth2_refresh_token") && !rt.has("oauth2_refresh_token_command") {
		missing = append(missing, "oauth2_refresh_token")
	}
	if !rt.has("oauth2_token_url") && !st.gmail {
		missing = append(missing, "oauth2_request_url")
	}
	if len(missing) == 0 {
		return
	}
	r.problem(r.s.line, fmt.Sprintf("[%s] logs in with XOAUTH2 but has no %s", r.s.name, strings.Join(missing, " or ")),
		"set oauth2_token_command to a program that prints an access token (oama, pizauth), or complete the oauth2 keys; the TOML has them commented out, and a placeholder that fails")
	for _, k := range oauth2KeyNames {
		if tv, ok := rt.vals[k]; ok {
			tv.disabled = true
		}
	}
	rt.set("oauth2_token_command", fmt.Sprintf("echo 'mailsync: set the OAuth2 keys for account %s in the config' >&2; exit 1", acct.name),
		"Placeholder: the OAuth2 keys could not be imported (see NOT TRANSLATED above).")
}
