package config

import (
	"slices"
	"strings"
	"time"
)

func (d *decoder) remote(t *table, account string) Remote {
	r := Remote{
		TLS:            TLSImplicit,
		MaxConnections: DefaultMaxConnections,
		Folders:        []string{"*"},
		Timeout:        DefaultTimeout,
		origin:         origin{file: d.file, account: account},
	}
	var prov provider
	r.Provider, prov, _ = d.providerOf(t)
	if prov.folders != nil {
		r.Folders = prov.folders
	}

	if h, ok := t.str("host"); ok {
		r.Host = h
		switch {
		case h == "":
			d.errorf(t.key("host"), "must not be empty")
		case strings.Contains(h, "://"):
			d.errorf(t.key("host"), "must be a host name, not a URL (got %s)", quoteValue(h))
		case strings.Count(h, ":") == 1:
			d.errorf(t.key("host"), "must not include a port; use the port key (got %s)", quoteValue(h))
		case strings.ContainsAny(h, " \t\r\n/"):
			d.errorf(t.key("host"), "is not a valid host name (got %s)", quoteValue(h))
		}
	} else if prov.host != "" {
		r.Host = prov.host
	} else if !t.has("host") {
		d.errorf(t.key("host"), "required key is missing")
	}

	if s, ok := t.str("tls"); ok {
		switch m := TLSMode(s); m {
		case TLSImplicit, TLSStartTLS, TLSNone:
			r.TLS = m
		default:
			d.errorf(t.key("tls"), `must be one of "implicit", "starttls" or "none" (got %s)`, quoteValue(s))
		}
	}
	r.AllowPlaintext = t.boolean("allow_plaintext", false)
	if r.TLS == TLSNone && !r.AllowPlaintext {
		d.errorf(t.key("tls"), `"none" sends the password unencrypted; set allow_plaintext = true if you really mean it`)
	}
	defPort := DefaultPortPlain
	if r.TLS == TLSImplicit {
		defPort = DefaultPortImplicit
	}
	r.Port = t.intRange("port", defPort, 1, 65535)

	if u, ok := t.str("user"); ok {
		r.User = u
		if u == "" {
			d.errorf(t.key("user"), "must not be empty")
		}
	} else if !t.has("user") {
		d.errorf(t.key("user"), "required key is missing")
	}

	d.tlsTrust(t, &r)
	d.credentials(t, &r, prov)

	r.MaxConnections = t.intRange("max_connections", DefaultMaxConnections, 1, 64)

	if v, present := t.m["folders"]; present {
		if pats, ok := d.stringList(t.key("folders"), v); ok {
			if len(pats) == 0 {
				d.errorf(t.key("folders"), `must not be empty: it would select no folder (use ["*"] for all)`)
			} else if f, err := NewFolderFilter(pats); err != nil {
				d.add(t.key("folders"), err.Error(), err)
			} else {
				r.Folders = pats
				r.Filter = f
			}
		}
	}
	if r.Filter == nil {
		r.Filter, _ = NewFolderFilter(r.Folders)
	}

	if mt, ok := t.sub("folder_map", nil); ok {
		r.FolderMap = d.folderMap(mt)
	}

	r.Readonly = t.boolean("readonly", false)
	r.SyncDeletes = t.boolean("sync_deletes", true)
	r.Expunge = t.boolean("expunge", true)

	if v, present := t.m["timeout"]; present {
		s, ok := v.(string)
		if !ok {
			d.errorf(t.key("timeout"), `must be a duration string like "60s", not %s`, typeName(v))
		} else if dur, err := time.ParseDuration(strings.TrimSpace(s)); err != nil {
			d.errorf(t.key("timeout"), `must be a duration like "60s" or "2m" (got %s)`, quoteValue(s))
		} else if dur <= 0 {
			d.errorf(t.key("timeout"), "must be greater than 0 (got %s)", quoteValue(s))
		} else {
			r.Timeout = dur
		}
	}

	r.Compress = t.boolean("compress", true)

	t.checkUnknown()
	return r
}

// passwordSource insists on exactly one source: with two, which one wins
// would be a silent guess.
func (d *decoder) passwordSource(t *table, r *Remote) {
	var set []string
	for _, k := range t.sortedKeys() {
		if slices.Contains(passwordSources, k) {
			set = append(set, k)
		}
	}
	if len(set) == 0 {
		d.errorf(t.path, "no password source; set one of password, password_command or password_file (or the oauth2 keys)")
		return
	}
	first := set[0]
	r.origin.line = d.lines.line(t.key(first))
	for _, k := range set[1:] {
		d.errorf(t.key(k), "conflicts with %s (line %d); set only one of password, password_command or password_file", first, d.lines.line(t.key(first)))
	}
	s, ok := t.str(first)
	if !ok {
		return
	}
	if s == "" {
		d.errorf(t.key(first), "must not be empty")
		return
	}
	switch first {
	case "password":
		r.Password = s
	case "password_command":
		r.PasswordCommand = s
	case "password_file":
		if p, ok := d.expandPath(t.key(first), s); ok {
			r.PasswordFile = p
		}
	}
}

func (d *decoder) folderMap(t *table) map[string]string {
	m := make(map[string]string, len(t.m))
	owner := map[string]string{} // local name → remote name claiming it
	for _, k := range t.sortedKeys() {
		path := t.key(k)
		v, ok := t.m[k].(string)
		if !ok {
			d.errorf(path, "must be a string (the local folder name), not %s", typeName(t.m[k]))
			continue
		}
		if err := checkMapKey(k); err != nil {
			d.add(path, err.Error(), err)
			continue
		}
		if err := checkLocalName(v); err != nil {
			d.add(path, err.Error(), err)
			continue
		}
		if prev, dup := owner[v]; dup {
			d.errorf(path, "maps to %s, as %s already does; folder_map must be one-to-one", quoteValue(v), quoteValue(prev))
			continue
		}
		owner[v] = k
		m[k] = v
	}
	return m
}
