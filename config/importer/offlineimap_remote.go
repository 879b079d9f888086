package importer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"mailsync/config"
)

// remoteState is what the remote repository leaves for the local side.
type remoteState struct {
	nametrans     pyNode
	nametransLine int
	filter        rules // nil: untranslatable (reported)
	filterSet     bool
	filterFinite  []string // the filter's exact names, when it is only those
	filterLine    int
	includes      []string
	idle          []string
	gmail         bool
}

func (o *oimp) remote(sec *iniSection, acct *tomlAccount, acctName string) *remoteState {
	t := o.t
	r := o.sect(sec, acct)
	rt := acct.remote
	st := &remoteState{}
	typ, tline, _ := r.get("type")
	switch strings.TrimSpace(typ) {
	case "IMAP":
	case "Gmail":
		st.gmail = true
		rt.set("provider", "gmail", "offlineimap: type = Gmail.")
	default:
		r.problem(tline, fmt.Sprintf("[%s] type = %q: mailsync syncs an IMAP server with a Maildir", sec.name, typ),
			"only type = IMAP or Gmail can be the remote repository")
	}

	// Where to connect.
	if v, _, ok := r.get("remotehost"); ok && strings.TrimSpace(v) != "" {
		rt.set("host", strings.TrimSpace(v))
	} else if n, src, line, ok := r.py("remotehosteval"); ok {
		if s, ok := evalString(n); ok {
			rt.set("host", s, "offlineimap: remotehosteval, a constant.")
		} else {
			r.problem(line, fmt.Sprintf("remotehosteval %s is Python", quoteForMsg(src)), "set host to the server's name")
			rt.set("host", placeholderHost, "Placeholder: see NOT TRANSLATED above.")
		}
	} else if !st.gmail {
		r.problem(sec.line, fmt.Sprintf("[%s] has no remotehost", sec.name), "set host")
		rt.set("host", placeholderHost, "Placeholder: see NOT TRANSLATED above.")
	}
	ssl, _, sslSet := r.boolean("ssl")
	if !sslSet {
		ssl = true
	}
	starttls, _, starttlsSet := r.boolean("starttls")
	if !starttlsSet {
		starttls = true
	}
	switch {
	case ssl:
		rt.set("tls", "implicit")
	case starttls:
		rt.set("tls", "starttls", "offlineimap: ssl = no with starttls. offlineimap went on without TLS when the server offered no STARTTLS; mailsync refuses to.")
	default:
		rt.set("tls", "none", "offlineimap: ssl = no and starttls = no. The password crosses the network unencrypted.")
		rt.set("allow_plaintext", true)
	}
	if n, line, ok := r.integer("remoteport"); ok {
		if n < 1 || n > 65535 {
			r.problem(line, fmt.Sprintf("remoteport = %d", n), "use a port between 1 and 65535")
		} else {
			rt.set("port", n)
		}
	} else if n, src, line, ok := r.py("remoteporteval"); ok {
		v, err := pyEval(n, pyEnv{}, 0)
		if p, isInt := v.(int64); err == nil && isInt && p >= 1 && p <= 65535 {
			rt.set("port", p, "offlineimap: remoteporteval, a constant.")
		} else {
			r.problem(line, fmt.Sprintf("remoteporteval %s is Python", quoteForMsg(src)), "set port")
		}
	}
	if v, _, ok := r.get("remoteuser"); ok {
		rt.set("user", strings.TrimSpace(v))
	} else if n, src, line, ok := r.py("remoteusereval"); ok {
		if s, ok := evalString(n); ok {
			rt.set("user", s, "offlineimap: remoteusereval, a constant.")
		} else {
			r.problem(line, fmt.Sprintf("remoteusereval %s is Python", quoteForMsg(src)), "set user to the login name")
		}
	} else {
		r.problem(sec.line, fmt.Sprintf("[%s] has no remoteuser", sec.name), "set user")
	}
	// Placeholders keep the file loadable; the problems above say what
	// to put there.
	if !rt.has("user") {
		rt.set("user", placeholderUser, "Placeholder: see NOT TRANSLATED above.")
	}
	if !rt.has("host") && !st.gmail {
		rt.set("host", placeholderHost, "Placeholder: see NOT TRANSLATED above.")
	}

	o.tlsTrust(r, rt)
	o.credentials(r, acct, st, acctName)

	// Connections and folders.
	if n, line, ok := r.integer("maxconnections"); ok {
		switch {
		case n < 1:
			r.problem(line, fmt.Sprintf("maxconnections = %d", n), "use at least 1")
		case n > 64:
			r.problem(line, fmt.Sprintf("maxconnections = %d is over mailsync's 64", n), "max_connections is set to 64")
			rt.set("max_connections", int64(64))
		default:
			rt.set("max_connections", n)
		}
	}
	if n, src, line, ok := r.py("idlefolders"); ok {
		names, err := evalStringList(n)
		if err != nil {
			r.problem(line, fmt.Sprintf("idlefolders %s: %v", quoteForMsg(src), err), o.pyHint("idlefolders"))
		} else {
			for _, nm := range names {
				dec, ok := t.folderName(nm)
				if !ok {
					r.problem(line, fmt.Sprintf("idlefolders name %q is not valid modified UTF-7", nm), "write it as the server shows it, in UTF-8")
					continue
				}
				st.idle = append(st.idle, nm)
				if !slices.Contains(listOf(acct.top, "idle_folders"), dec) {
					acct.top.set("idle_folders", append(listOf(acct.top, "idle_folders"), dec))
				}
			}
			if acct.top.has("idle_folders") {
				acct.top.note("idle_folders", "offlineimap: idlefolders. Each folder holds a connection of its own while the daemon runs.")
			}
		}
	}
	hold, _, _ := r.boolean("holdconnectionopen")
	if n, line, ok := r.integer("keepalive"); ok && n > 0 {
		switch {
		case !hold && len(st.idle) == 0:
			acct.notes = append(acct.notes, fmt.Sprintf("keepalive = %d had no effect in offlineimap without holdconnectionopen or idlefolders; not imported.", n))
		case time.Duration(n)*time.Second >= config.MaxKeepalive:
			r.problem(line, fmt.Sprintf("keepalive = %d seconds is not under mailsync's maximum of 29 minutes", n), "keepalive is set to 28m")
			acct.top.set("keepalive", "28m")
		default:
			acct.top.set("keepalive", durString(time.Duration(n)*time.Second), fmt.Sprintf("offlineimap: keepalive = %d (seconds).", n))
		}
	} else if len(st.idle) > 0 {
		acct.notes = append(acct.notes, "offlineimap's keepalive defaults to 29 minutes with idlefolders; mailsync's to 10m.")
	}
	if hold {
		acct.notes = append(acct.notes, "holdconnectionopen: between syncs mailsync keeps only the idle_folders connections open.")
	}

	st.nametrans, _, st.nametransLine, _ = r.py("nametrans")
	if n, src, line, ok := r.py("folderfilter"); ok {
		st.filterSet, st.filterLine = true, line
		rs, err := translateFilter(n)
		if err != nil {
			r.problem(line, fmt.Sprintf("folderfilter %s: %v", quoteForMsg(src), err), o.pyHint("folderfilter"))
		} else {
			st.filter = rs
			if l, ok := n.(*pyLambda); ok {
				if c, ok := l.body.(*pyCompare); ok && len(c.ops) == 1 && c.ops[0] == "in" && isParam(c.xs[0], l.params[0]) {
					st.filterFinite, _ = literalNames(c.xs[1])
				}
			}
		}
	} else if line != 0 {
		st.filterSet, st.filterLine = true, line
	}
	if n, src, line, ok := r.py("folderincludes"); ok {
		names, err := evalStringList(n)
		if err != nil {
			r.problem(line, fmt.Sprintf("folderincludes %s: %v", quoteForMsg(src), err), "add the folders to folders")
		} else {
			st.includes = names
		}
	}

	if b, _, ok := r.boolean("readonly"); ok {
		rt.set("readonly", b)
	}
	if b, _, ok := r.boolean("sync_deletes"); ok {
		rt.set("sync_deletes", b)
	}
	if b, _, ok := r.boolean("expunge"); ok {
		rt.set("expunge", b)
	}
	if o.timeout != nil {
		rt.vals["timeout"] = o.timeout
	}
	if b, line, ok := r.boolean("createfolders"); ok && !b {
		r.problem(line, "createfolders = no: mailsync creates on the server the folders made locally", `exclude local-only folders with folders = [..., "!NAME"]`)
	}
	if b, line, ok := r.boolean("subscribedonly"); ok && b {
		r.problem(line, "subscribedonly: mailsync lists every folder, subscribed or not", "list the folders you want in folders")
	}
	if b, _, ok := r.boolean("decodefoldernames"); ok && b {
		t.utf7 = false
	}
	if n, src, line, ok := r.py("newmail_hook"); ok {
		cmd, err := hookCommandOf(n)
		if err != nil {
			r.problem(line, fmt.Sprintf("newmail_hook %s: %v", quoteForMsg(src), err), o.pyHint("newmail_hook"))
		} else {
			acct.top.set("newmail_hook", cmd, "offlineimap: newmail_hook, which ran on new mail in INBOX; mailsync's runs after a sync that pulled new mail into any folder (MAILSYNC_FOLDERS says which).")
		}
	}
	r.leftovers(map[string]string{
		"usecompression":        "mailsync decides on COMPRESS by itself",
		"singlethreadperfolder": "mailsync's own scheduling",
		"retrycount":            "mailsync retries a failed sync as a whole",
		"foldersort":            "the order folders are synced in",
		"dynamic_folderfilter":  "folders are matched against the patterns at every sync",
		"ssl_version":           "mailsync uses TLS 1.2 or newer",
		"tls_level":             "mailsync uses TLS 1.2 or newer",
		"trashfolder":           "used by offlineimap's Gmail label sync only",
		"spamfolder":            "used by offlineimap's Gmail label sync only",
		"ipv6":                  "mailsync uses whichever address family the name resolves to",
		"holdconnectionopen":    "see the account's comment",
	}, map[string]string{
		"sslclientcert":     "mailsync does not log in with a client certificate|log in with a password or OAuth2",
		"sslclientkey":      "mailsync does not log in with a client certificate|log in with a password or OAuth2",
		"preauthtunnel":     "mailsync connects over TCP only|connect to the server's IMAP port",
		"transporttunnel":   "mailsync connects over TCP only|connect to the server's IMAP port",
		"reference":         "mailsync syncs the whole folder tree|select the folders with patterns, e.g. folders = [\"Mail/*\"]",
		"remote_identity":   "mailsync does not log in as another user (SASL authzid)|remove it",
		"copy_ignore_eval":  "mailsync has no per-UID skip list|remove it",
		"startdate":         "mailsync has no start date for a new remote repository|use max_age",
		"utime_from_header": "a local-side option|remove it",
	})
	o.remoteFolders(acct, st)
	return st
}

// listOf returns key's []string value in t.
func listOf(t *tomlTable, key string) []string {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	l, _ := v.([]string)
	return l
}

func (o *oimp) tlsTrust(r *sect, rt *tomlTable) {
	t := o.t
	if tlsMode, _ := rt.get("tls"); tlsMode == "none" {
		for _, k := range []string{"sslcacertfile", "cert_fingerprint"} {
			if _, line, ok := r.get(k); ok {
				r.problem(line, k+" has no effect without TLS", "remove it, or turn TLS on")
			}
		}
		return
	}
	if v, line, ok := r.get("sslcacertfile"); ok {
		v = strings.TrimSpace(v)
		if v == "OS-DEFAULT" {
			r.acct.notes = append(r.acct.notes, "sslcacertfile = OS-DEFAULT: mailsync trusts the system's CAs by default.")
		} else if p, notes, ok := t.pathValue(r.acct, line, "sslcacertfile", v, true); ok {
			tv := rt.set("ca_file", p, append(notes, "offlineimap: sslcacertfile. mailsync trusts it besides the system's CAs.")...)
			// mailsync refuses a ca_file without a certificate in it.
			if err := config.CheckCAFile(t.expandHome(p)); err != nil {
				tv.disabled = true
				// The reason names the file as the config spells it.
				reason := strings.ReplaceAll(err.Error(), t.expandHome(p), v)
				r.problem(line, fmt.Sprintf("sslcacertfile %s is no CA file mailsync can use here (%s)", v, reason),
					"ca_file is written commented out; fix the path and uncomment it")
			}
		}
	}
	if v, line, ok := r.get("cert_fingerprint"); ok {
		var pins []string
		for _, f := range strings.Split(v, ",") {
			f = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(f), ":", ""))
			if f == "" {
				continue
			}
			if len(f) == 64 && hexRE.MatchString(f) {
				pins = append(pins, "sha256:"+f)
				continue
			}
			algo := map[int]string{40: "SHA-1", 56: "SHA-224", 96: "SHA-384", 128: "SHA-512"}[len(f)]
			if algo == "" || !hexRE.MatchString(f) {
				algo = "an unknown hash"
			}
			r.problem(line, fmt.Sprintf("cert_fingerprint %s is %s; mailsync pins SHA-256 only", truncate(f, 12), algo),
				`add cert_fingerprint = "sha256:…" from: openssl s_client -connect HOST:993 </dev/null | openssl x509 -noout -fingerprint -sha256`)
		}
		switch len(pins) {
		case 0:
		case 1:
			rt.set("cert_fingerprint", pins[0], "offlineimap: cert_fingerprint (SHA-256). With a pin, mailsync trusts the pinned certificate and no CA.")
		default:
			rt.set("cert_fingerprint", pins, "offlineimap: cert_fingerprint (SHA-256). With pins, mailsync trusts the pinned certificates and no CA.")
		}
	}
}
