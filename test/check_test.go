package test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailsync/config"
)

var updateCheck = flag.Bool("update-check", false, "rewrite testdata/check/*.golden from the current output")

// masker replaces the variable parts of an output, each an exact value
// the test knows, by a fixed placeholder: a golden file then proves the
// value was exactly that, not merely of the right shape.
type masker []string // old, new pairs

func (m masker) mask(s string) string { return strings.NewReplacer(m...).Replace(s) }

// checkGolden compares got (masked) with testdata/check/name, or rewrites
// the file with -update-check.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "check", name)
	if *updateCheck {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./test -run %s -update-check to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s\nwant:\n%s", name, got, want)
	}
}

// leafCert reads the server's certificate from the PEM file.
func leafCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkMasks are the variable parts of a check against e's server.
func (e *env) checkMasks(t *testing.T, port int) masker {
	m := masker{e.dir, "$DIR", fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:$PORT",
		"user " + e.user, "user $USER", `"user": "` + e.user, `"user": "$USER`, " as " + e.user + " ", " as $USER "}
	if e.srv.CertFile != "" {
		c := leafCert(t, e.srv.CertFile)
		fp := config.FormatFingerprint(e.srv.CertFingerprint)
		m = append(m,
			fp, "sha256:$FINGERPRINT",
			c.Subject.CommonName, "$CN",
			c.NotAfter.UTC().Format("2006-01-02 15:04:05 UTC"), "$EXPIRY",
			c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), "$EXPIRY")
	}
	return m
}

// dirState is what check must leave alone: the local tree, the state
// directory and the server's folders.
func (e *env) dirState(t *testing.T) string {
	local := "absent"
	if _, err := os.Stat(e.mail); err == nil {
		local = fmt.Sprint(tree(t, e.mail))
	}
	_, err := os.Stat(e.state)
	return fmt.Sprintf("local %s, state exists %v, server %v", local, err == nil, e.srv.Mailboxes(t, e.user))
}

// TestCheck: against a Dovecot with implicit TLS and a pinned certificate,
// `mailsync check` prints the TLS version and the certificate (subject,
// issuer, expiry, fingerprint: exactly the server's), the capabilities
// with those mailsync uses marked, and the folder mapping after the
// patterns, folder_map and the layout, marking an excluded folder and a
// local folder with no server counterpart; it exits 0, and creates no
// state file and no folder on either side. --json says the same in one
// document, with nothing else on stdout.
func TestCheck(t *testing.T) {
	t.Parallel()
	e := tlsEnv(t)
	for _, box := range []string{"Work", "Spam", "Archive.2024"} {
		e.srv.CreateMailbox(t, e.user, box)
	}
	e.srv.Append(t, e.user, "INBOX", makeMsg("check-1", 500))
	if err := os.MkdirAll(filepath.Join(e.localDir("Drafts"), "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(e.localDir("Drafts"), sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.writeTLSConfig(fmt.Sprintf("cert_fingerprint = %q\nfolders = [\"*\", \"!Spam\"]\nfolder_map = { Work = \"Job\" }\n",
		config.FormatFingerprint(e.srv.CertFingerprint)))
	before := e.dirState(t)
	m := e.checkMasks(t, e.srv.TLSPort)

	r := e.run("check")
	t.Logf("check: %s", r)
	if r.code != 0 {
		t.Fatalf("check: want exit 0, got %s", r)
	}
	checkGolden(t, "check.golden", m.mask(r.stdout))

	// With the protocol traced, logs go to stderr, the JSON alone to stdout.
	r = e.run("check", "--json", "--log-level", "trace")
	if r.code != 0 {
		t.Fatalf("check --json: want exit 0, got %s", r)
	}
	if !strings.Contains(r.stderr, "C: ") {
		t.Errorf("check --json --log-level trace logged no protocol trace on stderr:\n%s", r.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("check --json: stdout is not one JSON document (%v):\n%s", err, r.stdout)
	}
	checkGolden(t, "check.json.golden", m.mask(r.stdout))

	if after := e.dirState(t); after != before {
		t.Errorf("check changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// TestCheckProblems: every problem check finds comes with what to change,
// and makes it exit 1: a folders pattern and a folder_map entry that match
// nothing, and a server folder that lands on a folder_map target (text
// and JSON golden); a refused login; an invalid config, each mistake
// with its line. Still nothing is created.
func TestCheckProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{remoteExtra: "folders = [\"*\", \"Nope\"]\nfolder_map = { Work = \"Job\", Gone = \"Old\" }\n"})
	for _, box := range []string{"Work", "Job"} {
		e.srv.CreateMailbox(t, e.user, box)
	}
	before := e.dirState(t)
	m := e.checkMasks(t, e.srv.Port)

	r := e.run("check")
	t.Logf("check: %s", r)
	if r.code != 1 {
		t.Fatalf("check with problems: want exit 1, got %s", r)
	}
	checkGolden(t, "problems.golden", m.mask(r.stdout))
	r = e.run("check", "--json")
	if r.code != 1 {
		t.Fatalf("check --json with problems: want exit 1, got %s", r)
	}
	checkGolden(t, "problems.json.golden", m.mask(r.stdout))

	// An unknown account is a usage error.
	if r := e.run("check", "-a", "nosuch"); r.code != 2 {
		t.Errorf("check -a nosuch: want exit 2, got %s", r)
	}

	// A refused login: the other checks cannot run.
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`(?m)^password = ".*"$`)
	if err := os.WriteFile(e.cfg, pw.ReplaceAll(cfg, []byte(`password = "wrong"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.run("check", "--json")
	t.Logf("check with a wrong password: %s", r)
	if r.code != 1 {
		t.Fatalf("check with a wrong password: want exit 1, got %s", r)
	}
	checkGolden(t, "login.json.golden", m.mask(r.stdout))

	// An invalid config: each mistake, with its line.
	bad := strings.Replace(string(cfg), "port = ", "port = 70000\nportx = ", 1)
	if err := os.WriteFile(e.cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.run("check")
	t.Logf("check with an invalid config: %s", r)
	if r.code != 1 {
		t.Fatalf("check with an invalid config: want exit 1, got %s", r)
	}
	checkGolden(t, "config.golden", m.mask(r.stdout))

	if after := e.dirState(t); after != before {
		t.Errorf("check changed something:\nbefore %s\nafter  %s", before, after)
	}
}
