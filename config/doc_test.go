package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// docRow is one key of docs/config.md's reference.
type docRow struct {
	line    int
	tables  []string // "" for the top level, "general", "accounts.NAME", …
	key     string
	typ     string
	example string // the TOML value, without its backticks; "" for none
}

var docTableRE = regexp.MustCompile("`\\[([^\\]`]+)\\]`")

// readConfigDoc returns docs/config.md and the rows of its reference: the
// tables under "## Reference", each under a "### " heading that names in
// backticks the TOML tables its keys belong to ("The top level" for the
// file's own keys).
func readConfigDoc(t *testing.T) (string, []docRow) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	inRef := false
	var tables []string
	heading := ""
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			inRef = l == "## Reference"
			continue
		case !inRef:
			continue
		case strings.HasPrefix(l, "### "):
			heading = l
			tables = nil
			for _, m := range docTableRE.FindAllStringSubmatch(l, -1) {
				tables = append(tables, m[1])
			}
			if len(tables) == 0 && strings.Contains(l, "top level") {
				tables = []string{""}
			}
			continue
		case !strings.HasPrefix(l, "| `"):
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 5 {
			t.Errorf("docs/config.md:%d: a reference row has 5 cells (key, type, default, example, meaning), not %d", i+1, len(cells))
			continue
		}
		if len(tables) == 0 {
			t.Errorf("docs/config.md:%d: the heading %q names no TOML table", i+1, heading)
			continue
		}
		r := docRow{line: i + 1, tables: tables, key: strings.Trim(strings.TrimSpace(cells[0]), "`"), typ: strings.TrimSpace(cells[1])}
		if ex := strings.TrimSpace(cells[3]); strings.HasPrefix(ex, "`") && strings.HasSuffix(ex, "`") && len(ex) > 2 {
			r.example = ex[1 : len(ex)-1]
		}
		rows = append(rows, r)
	}
	return string(data), rows
}

// TestConfigDocKeys checks docs/config.md against the key lists the
// decoder uses to accept keys and to report unknown ones: every key it
// accepts is documented in its table, and every documented key is
// accepted there.
func TestConfigDocKeys(t *testing.T) {
	_, rows := readConfigDoc(t)
	accepted := map[string][]string{
		"":                     rootKeys,
		"general":              generalKeys,
		"accounts.NAME":        accountKeys,
		"accounts.NAME.remote": remoteKeys,
		"accounts.NAME.local":  localKeys,
	}
	documented := map[string][]string{}
	for _, r := range rows {
		for _, tbl := range r.tables {
			known, ok := accepted[tbl]
			switch {
			case !ok:
				t.Errorf("docs/config.md:%d: %s is documented in [%s], which is no table of the config", r.line, r.key, tbl)
			case !slices.Contains(known, r.key):
				t.Errorf("docs/config.md:%d: %s is documented in [%s], but the loader does not accept it there", r.line, r.key, tbl)
			case slices.Contains(documented[tbl], r.key):
				t.Errorf("docs/config.md:%d: %s is documented twice in [%s]", r.line, r.key, tbl)
			}
			documented[tbl] = append(documented[tbl], r.key)
		}
	}
	for tbl, keys := range accepted {
		for _, k := range keys {
			if !slices.Contains(documented[tbl], k) {
				t.Errorf("docs/config.md does not document %s in [%s], which the loader accepts", k, tbl)
			}
		}
	}
}

// docEnv is an environment whose home holds the files the examples of
// docs/config.md name (~/certs/ca.pem).
func docEnv(t *testing.T) Env {
	t.Helper()
	home := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(home, "certs", "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return testEnv("HOME", home)
}

// TestConfigDocExamples loads each key's example from the reference in a
// small config, in each table it is documented in: the example is valid
// TOML, of a type the key takes, with a value the loader accepts.
func TestConfigDocExamples(t *testing.T) {
	_, rows := readConfigDoc(t)
	env := docEnv(t)
	for _, r := range rows {
		if strings.HasPrefix(r.typ, "table") {
			continue
		}
		if r.example == "" {
			t.Errorf("docs/config.md:%d: %s has no example in backticks", r.line, r.key)
			continue
		}
		for _, tbl := range r.tables {
			src := exampleConfig(tbl, r.key, r.example)
			if _, err := Parse("config.toml", []byte(src), env); err != nil {
				t.Errorf("docs/config.md:%d: the example of %s in [%s] does not load: %v\n%s", r.line, r.key, tbl, err, src)
			}
		}
	}
}

// exampleConfig is a config of one account with key = value in table tbl,
// and the keys the example needs beside it.
func exampleConfig(tbl, key, value string) string {
	type kv struct{ k, v string }
	tables := []struct {
		name string
		keys []kv
	}{
		{"general", []kv{{"state_dir", `"/state"`}}},
		{"accounts.NAME", nil},
		{"accounts.NAME.remote", []kv{{"host", `"imap.example.org"`}, {"user", `"me"`}, {"password", `"x"`}}},
		{"accounts.NAME.local", []kv{{"path", `"/mail"`}}},
	}
	set := func(tbl, k, v string) {
		for i := range tables {
			if tables[i].name != tbl {
				continue
			}
			for j := range tables[i].keys {
				if tables[i].keys[j].k == k {
					tables[i].keys[j].v = v
					return
				}
			}
			tables[i].keys = append(tables[i].keys, kv{k, v})
		}
	}
	remove := func(tbl string, keys ...string) {
		for i := range tables {
			if tables[i].name == tbl {
				tables[i].keys = slices.DeleteFunc(tables[i].keys, func(e kv) bool { return slices.Contains(keys, e.k) })
			}
		}
	}
	const remote = "accounts.NAME.remote"
	if tbl == remote {
		switch {
		case slices.Contains(passwordSources, key) || key == "oauth2_token_command":
			remove(remote, "password")
		case slices.Contains(oauth2Keys, key):
			// The built-in refresh needs a client, a refresh token and an
			// endpoint; each pair takes one of its two keys.
			remove(remote, "password")
			set(remote, "oauth2_client_id", `"client"`)
			set(remote, "oauth2_refresh_token_command", `"echo token"`)
			set(remote, "oauth2_token_url", `"https://auth.example.org/token"`)
			if key == "oauth2_refresh_token" {
				remove(remote, "oauth2_refresh_token_command")
			}
		}
	}
	if tbl == "general" && key == "mailboxes_format" {
		set(tbl, "mailboxes_file", `"/mailboxes"`)
	}
	if tbl == "accounts.NAME.local" && key == "previous_state" {
		set(tbl, "previous_tool", `"offlineimap"`)
	}
	set(tbl, key, value)
	var b strings.Builder
	for _, t := range tables {
		b.WriteString("[" + strings.Replace(t.name, "NAME", "doc", 1) + "]\n")
		for _, e := range t.keys {
			b.WriteString(e.k + " = " + e.v + "\n")
		}
	}
	return b.String()
}

var tomlBlockRE = regexp.MustCompile("(?ms)^([ \t]*)```toml\n(.*?)^[ \t]*```$")

// TestConfigDocTOML loads every TOML block of docs/config.md, as a user
// would copy it: each is a whole config.
func TestConfigDocTOML(t *testing.T) {
	doc, _ := readConfigDoc(t)
	env := docEnv(t)
	blocks := tomlBlockRE.FindAllStringSubmatchIndex(doc, -1)
	if n := strings.Count(doc, "```toml"); len(blocks) != n {
		t.Fatalf("found %d of the %d TOML blocks of docs/config.md", len(blocks), n)
	}
	for _, m := range blocks {
		indent, body := doc[m[2]:m[3]], doc[m[4]:m[5]]
		var lines []string
		for _, l := range strings.SplitAfter(body, "\n") {
			lines = append(lines, strings.TrimPrefix(l, indent))
		}
		line := 1 + strings.Count(doc[:m[4]], "\n")
		if _, err := Parse("config.toml", []byte(strings.Join(lines, "")), env); err != nil {
			t.Errorf("docs/config.md:%d: the TOML block does not load: %v", line, err)
		}
	}
}

// TestConfigDocEveryKey checks that the block under "Every key at once"
// lives up to its heading.
func TestConfigDocEveryKey(t *testing.T) {
	doc, _ := readConfigDoc(t)
	_, rest, ok := strings.Cut(doc, "### Every key at once\n")
	if !ok {
		t.Fatal(`docs/config.md has no "### Every key at once"`)
	}
	m := tomlBlockRE.FindStringSubmatch(rest)
	if m == nil {
		t.Fatal(`no TOML block under "Every key at once"`)
	}
	var root map[string]any
	if _, err := toml.Decode(m[2], &root); err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[string]bool{"": {}, "general": {}, "accounts.NAME": {}, "accounts.NAME.remote": {}, "accounts.NAME.local": {}}
	mark := func(tbl string, m any) {
		if t, ok := m.(map[string]any); ok {
			for k := range t {
				seen[tbl][k] = true
			}
		}
	}
	mark("", root)
	mark("general", root["general"])
	accts, _ := root["accounts"].(map[string]any)
	for _, a := range accts {
		mark("accounts.NAME", a)
		am, _ := a.(map[string]any)
		mark("accounts.NAME.remote", am["remote"])
		mark("accounts.NAME.local", am["local"])
	}
	for tbl, keys := range map[string][]string{"": rootKeys, "general": generalKeys, "accounts.NAME": accountKeys,
		"accounts.NAME.remote": remoteKeys, "accounts.NAME.local": localKeys} {
		for _, k := range keys {
			// The daemon's keys and the hooks may go in either table.
			either := slices.Contains(scheduleKeys, k) || slices.Contains(hookKeys, k)
			if !seen[tbl][k] && !(either && (seen["general"][k] || seen["accounts.NAME"][k])) {
				t.Errorf(`"Every key at once" leaves out %s of [%s]`, k, tbl)
			}
		}
	}
}
