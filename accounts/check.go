package accounts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/remote"
	msync "mailsync/sync"
)

// usedCapabilities are the server capabilities mailsync makes use of when
// offered; it works without each of them.
func usedCapabilities() []string {
	return []string{"CONDSTORE", "QRESYNC", "LIST-STATUS", "UIDPLUS", "IDLE", "MOVE", "LITERAL+", "ESEARCH",
		"MULTIAPPEND", string(remote.CapCompressDeflate)}
}

// Problem is one thing `mailsync check` found wrong, with what to change.
type Problem struct {
	Account string `json:"account,omitempty"`
	Folder  string `json:"folder,omitempty"`
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// CertInfo describes the server's certificate and the TLS session.
type CertInfo struct {
	Version     string    `json:"version"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
}

// CheckReport is what `mailsync check` found for one account.
type CheckReport struct {
	Name     string
	Server   string // host:port
	TLSMode  string
	User     string
	LoggedIn bool
	TLS      *CertInfo // nil on a plaintext connection, or without one
	Caps     []string  // the server's capabilities after login
	Local    string    // local.path
	Layout   string
	Folders  []msync.MappedFolder
	Problems []Problem
}

// ConfigProblems turns the error of loading the configuration into
// problems, one per mistake, each pointing at its line.
func ConfigProblems(err error) []Problem {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return []Problem{{Problem: err.Error(), Fix: "correct the configuration file"}}
	}
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, Problem{Account: e.Account, Problem: e.Error(), Fix: configFix(e)})
	}
	return out
}

func configFix(e *config.Error) string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s, line %d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("change %s in %s", e.Key, where)
	}
	return "correct " + where
}

// Check connects to account name's server, logs in, and maps its folders
// to the local ones the way a sync would. It changes nothing, on the
// server or on disk, and opens no state.
func Check(ctx context.Context, cfg *config.Config, name string, log zerolog.Logger) (CheckReport, error) {
	a, err := Open(cfg, name, OpenOptions{Log: log})
	if err != nil {
		return CheckReport{}, err
	}
	defer a.Close()
	acct := a.Config()
	rm := &acct.Remote
	r := CheckReport{
		Name: name, Server: net.JoinHostPort(rm.Host, fmt.Sprint(rm.Port)), TLSMode: string(rm.TLS), User: rm.User,
		Local: acct.Local.Path, Layout: string(acct.Local.Layout),
	}
	problem := func(folder, msg, fix string) {
		r.Problems = append(r.Problems, Problem{Account: name, Folder: folder, Problem: msg, Fix: fix})
	}
	conn, err := a.DialConn(ctx)
	if err != nil {
		problem("", fmt.Sprintf("%s: %v", name, err), dialFix(name, err))
		return r, nil
	}
	defer conn.Close()
	r.LoggedIn = true
	if cs, ok := conn.TLSState(); ok {
		r.TLS = certInfo(cs)
	}
	r.Caps = conn.Capabilities()

	boxes, err := conn.List(ctx, nil)
	if err != nil {
		problem("", fmt.Sprintf("%s: listing the server's folders: %v", name, err), "check that the account may list its folders; try again later if the server is busy")
		return r, nil
	}
	locals, err := msync.LocalLayout(acct).List(acct.Local.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problem("", fmt.Sprintf("%s: listing local folders under %s: %v", name, acct.Local.Path, err),
			fmt.Sprintf("make %s a readable directory, or set path in [accounts.%s.local]", acct.Local.Path, config.TOMLKey(name)))
	}
	r.Folders = msync.MapFolders(acct, boxes, locals)
	for _, f := range r.Folders {
		if f.Err != "" {
			problem(f.Canonical, fmt.Sprintf("%s/%s: %s", name, f.Canonical, f.Err), f.Fix)
		}
	}
	for _, p := range rm.Folders {
		if strings.HasPrefix(p, "!") {
			continue
		}
		only, err := config.NewFolderFilter([]string{p})
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(r.Folders, func(f msync.MappedFolder) bool { return only.Match(f.Canonical) }) {
			problem("", fmt.Sprintf("%s: the folders pattern %q matches no folder on the server or on disk", name, p),
				fmt.Sprintf("correct or remove %q in folders of [accounts.%s.remote]", p, config.TOMLKey(name)))
		}
	}
	for _, k := range sortedKeys(rm.FolderMap) {
		v := rm.FolderMap[k]
		if !slices.ContainsFunc(r.Folders, func(f msync.MappedFolder) bool {
			return f.OnServer && f.Canonical == k || f.OnDisk && f.Local == v
		}) {
			problem(k, fmt.Sprintf("%s: folder_map maps %q to %q, but neither is a folder, on the server or on disk", name, k, v),
				fmt.Sprintf("correct the server folder's name, or remove the entry from [accounts.%s.remote.folder_map]", config.TOMLKey(name)))
		}
	}
	return r, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dialFix is what to change when connecting or logging in failed.
func dialFix(name string, err error) string {
	table := fmt.Sprintf("[accounts.%s.remote]", config.TOMLKey(name))
	var (
		ce *config.Error
		oe *net.OpError
	)
	switch {
	case errors.Is(err, remote.ErrAuth):
		return "check user and the password (password, password_command, password_file, or the oauth2 keys) in " + table
	case errors.As(err, &ce):
		return configFix(ce)
	case errors.As(err, &oe) && oe.Op == "dial":
		return "check host and port in " + table + ", and that the server can be reached from here"
	}
	return "change what the message names in " + table + " (tls, port, ca_file, cert_fingerprint, tls_server_name, auth_mechanisms)"
}

func certInfo(cs tls.ConnectionState) *CertInfo {
	ci := &CertInfo{Version: tls.VersionName(cs.Version)}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		ci.Subject, ci.Issuer = leaf.Subject.String(), leaf.Issuer.String()
		ci.NotAfter = leaf.NotAfter.UTC()
		ci.Fingerprint = remote.Fingerprint(leaf.Raw)
	}
	return ci
}

// CheckOK reports whether the check found no problem.
func CheckOK(configProblems []Problem, rs []CheckReport) bool {
	if len(configProblems) > 0 {
		return false
	}
	for _, r := range rs {
		if len(r.Problems) > 0 {
			return false
		}
	}
	return true
}

// WriteCheckText writes the human form of a check: per account, the
// connection, the certificate, the capabilities and the folder mapping,
// then every problem with what to change.
func WriteCheckText(w io.Writer, configPath string, configProblems []Problem, rs []CheckReport) {
	if len(configProblems) == 0 {
		fmt.Fprintf(w, "Config %s: ok\n", configPath)
	} else {
		fmt.Fprintf(w, "Config %s: invalid\n", configPath)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "\nAccount %s\n", r.Name)
		fmt.Fprintf(w, "  Server        %s, tls = %s, user %s\n", r.Server, r.TLSMode, r.User)
		if !r.LoggedIn {
			fmt.Fprintf(w, "  Login         failed (see the problems below)\n")
			continue
		}
		fmt.Fprintf(w, "  Login         ok\n")
		if c := r.TLS; c != nil {
			fmt.Fprintf(w, "  TLS           %s\n", c.Version)
			fmt.Fprintf(w, "  Subject       %s\n", c.Subject)
			fmt.Fprintf(w, "  Issuer        %s\n", c.Issuer)
			fmt.Fprintf(w, "  Expires       %s\n", c.NotAfter.Format("2006-01-02 15:04:05 UTC"))
			fmt.Fprintf(w, "  Fingerprint   %s\n", c.Fingerprint)
		} else {
			fmt.Fprintf(w, "  TLS           none: the connection is not encrypted (allow_plaintext)\n")
		}
		fmt.Fprintf(w, "  Capabilities  (* marks those mailsync uses)\n")
		used := usedCapabilities()
		var words []string
		for _, c := range r.Caps {
			if slices.Contains(used, strings.ToUpper(c)) {
				c = "*" + c
			}
			words = append(words, c)
		}
		writeWrapped(w, "    ", words, 78)
		var missing []string
		for _, u := range used {
			if !slices.ContainsFunc(r.Caps, func(c string) bool { return strings.EqualFold(c, u) }) {
				missing = append(missing, u)
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(w, "  Not offered   %s (mailsync does without)\n", strings.Join(missing, " "))
		}
		fmt.Fprintf(w, "  Folders       remote → local, under %s (layout %s)\n", r.Local, r.Layout)
		width := 0
		for _, f := range r.Folders {
			if f.OnServer {
				width = max(width, len([]rune(f.Remote)))
			}
		}
		width = max(width, 1)
		for _, f := range r.Folders {
			left := "-"
			if f.OnServer {
				left = f.Remote
			}
			fmt.Fprintf(w, "    %s%s  %s\n", left, strings.Repeat(" ", width-len([]rune(left))), mappingText(f))
		}
	}
	var all []Problem
	all = append(all, configProblems...)
	for _, r := range rs {
		all = append(all, r.Problems...)
	}
	if len(all) == 0 {
		fmt.Fprintf(w, "\nNo problems found.\n")
		return
	}
	fmt.Fprintf(w, "\n%d problem(s):\n", len(all))
	for _, p := range all {
		fmt.Fprintf(w, "  - %s\n    fix: %s\n", p.Problem, p.Fix)
	}
}

// mappingText is the right-hand side of one line of the folder mapping.
func mappingText(f msync.MappedFolder) string {
	switch {
	case f.Err != "":
		return "✗ not synced: " + f.Err
	case f.Excluded && f.OnServer:
		return "  excluded by folders"
	case f.Excluded:
		return "← " + f.Dir + "  (excluded by folders, local only)"
	case !f.OnServer:
		return "← " + f.Dir + "  (local only: the next sync creates " + fmt.Sprintf("%q", f.Remote) + " on the server)"
	case !f.OnDisk:
		return "→ " + f.Dir + "  (created by the next sync)"
	}
	return "→ " + f.Dir
}

// writeWrapped writes words separated by spaces, in lines of at most
// width columns, each starting with indent.
func writeWrapped(w io.Writer, indent string, words []string, width int) {
	line := indent
	for _, word := range words {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

// checkJSON is the shape of `mailsync check --json` (docs/json.md).
type checkJSON struct {
	OK       bool               `json:"ok"`
	Config   string             `json:"config"`
	Problems []Problem          `json:"problems"`
	Accounts []checkAccountJSON `json:"accounts"`
}

type checkAccountJSON struct {
	Name         string          `json:"name"`
	Server       string          `json:"server"`
	TLSMode      string          `json:"tls_mode"`
	User         string          `json:"user"`
	LoggedIn     bool            `json:"logged_in"`
	TLS          *CertInfo       `json:"tls"`
	Capabilities []string        `json:"capabilities"`
	Used         map[string]bool `json:"used_capabilities"`
	Local        string          `json:"local_path"`
	Layout       string          `json:"layout"`
	Folders      []mappingJSON   `json:"folders"`
	Problems     []Problem       `json:"problems"`
}

type mappingJSON struct {
	Remote   *string `json:"remote"`
	Local    *string `json:"local"`
	Path     *string `json:"path"`
	OnServer bool    `json:"on_server"`
	OnDisk   bool    `json:"on_disk"`
	Excluded bool    `json:"excluded"`
	Error    string  `json:"error,omitempty"`
}

func mappingOf(f msync.MappedFolder) mappingJSON {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	m := mappingJSON{Remote: opt(f.Remote), Local: opt(f.Local), Path: opt(f.Dir), OnServer: f.OnServer, OnDisk: f.OnDisk, Excluded: f.Excluded, Error: f.Err}
	if !f.OnServer {
		m.Remote = nil
	}
	return m
}

// WriteCheckJSON writes the --json form of a check (docs/json.md).
func WriteCheckJSON(w io.Writer, configPath string, configProblems []Problem, rs []CheckReport) error {
	out := checkJSON{OK: CheckOK(configProblems, rs), Config: configPath, Problems: nonNil(configProblems), Accounts: []checkAccountJSON{}}
	for _, r := range rs {
		a := checkAccountJSON{
			Name: r.Name, Server: r.Server, TLSMode: r.TLSMode, User: r.User, LoggedIn: r.LoggedIn, TLS: r.TLS,
			Capabilities: nonNil(r.Caps), Used: map[string]bool{}, Local: r.Local, Layout: r.Layout,
			Folders: []mappingJSON{}, Problems: nonNil(r.Problems),
		}
		if r.LoggedIn {
			for _, u := range usedCapabilities() {
				a.Used[u] = slices.ContainsFunc(r.Caps, func(c string) bool { return strings.EqualFold(c, u) })
			}
		}
		for _, f := range r.Folders {
			a.Folders = append(a.Folders, mappingOf(f))
		}
		out.Accounts = append(out.Accounts, a)
	}
	return writeJSON(w, out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// checkTimeout bounds a whole check of one account.
const checkTimeout = 2 * time.Minute

// CheckAll checks the named accounts (all when names is empty) one after
// the other.
func CheckAll(ctx context.Context, cfg *config.Config, names []string, log zerolog.Logger) ([]CheckReport, error) {
	if len(names) == 0 {
		names = cfg.AccountNames()
	}
	var out []CheckReport
	for _, n := range names {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		r, err := Check(cctx, cfg, n, log)
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
