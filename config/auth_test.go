package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProviderAndOAuth2(t *testing.T) {
	src := `
[accounts.g.remote]
provider = "gmail"
user = "me@gmail.com"
oauth2_client_id = "id.apps.googleusercontent.com"
oauth2_client_secret = "s3cret"
oauth2_refresh_token_command = "printf 'refresh\n'"
auth_mechanisms = ["oauthbearer", "XOAUTH2"]

[accounts.g.local]
path = "/m/g"
folder_names = "imap-utf7"

[accounts.o.remote]
provider = "outlook"
host = "imap.example.org"
user = "me"
oauth2_token_command = "printf 'tok\n'"
folders = ["INBOX"]

[accounts.o.local]
path = "/m/o"
`
	cfg, err := Parse("c.toml", []byte(src), testEnv("HOME", "/home/u"))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Accounts["g"].Remote
	eq(t, g.Host, "imap.gmail.com")
	eq(t, g.Port, DefaultPortImplicit)
	eq(t, g.OAuth2.TokenURL, "https://oauth2.googleapis.com/token")
	if !slices.Equal(g.Folders, []string{"*", "![Gmail]/All Mail", "![Gmail]/Important", "![Gmail]/Starred"}) || g.Filter.Match("[Gmail]/All Mail") || !g.Filter.Match("INBOX") {
		t.Errorf("gmail folders %v", g.Folders)
	}
	if !slices.Equal(g.AuthMechanisms, []string{"OAUTHBEARER", "XOAUTH2"}) {
		t.Errorf("mechanisms %v", g.AuthMechanisms)
	}
	eq(t, cfg.Accounts["g"].Local.FolderNames, FolderNamesIMAPUTF7)
	ctx := context.Background()
	if s, err := g.OAuth2ClientSecret(ctx); err != nil || s != "s3cret" {
		t.Errorf("client secret %q, %v", s, err)
	}
	if s, err := g.OAuth2RefreshToken(ctx); err != nil || s != "refresh" {
		t.Errorf("refresh token %q, %v", s, err)
	}
	if strings.Contains(g.String(), "s3cret") {
		t.Errorf("String() shows the client secret: %s", g)
	}

	o := cfg.Accounts["o"].Remote
	eq(t, o.Host, "imap.example.org") // the key wins over the provider
	if !slices.Equal(o.Folders, []string{"INBOX"}) {
		t.Errorf("outlook folders %v", o.Folders)
	}
	if tok, err := o.OAuth2Token(ctx); err != nil || tok != "tok" {
		t.Errorf("token %q, %v", tok, err)
	}
	if o.AuthMechanisms != nil {
		t.Errorf("mechanisms %v without the key", o.AuthMechanisms)
	}
}

func TestOAuth2CommandErrorNamesItsLine(t *testing.T) {
	src := "[accounts.a.remote]\nhost = \"h\"\nuser = \"u\"\noauth2_token_command = \"echo no >&2; exit 3\"\n[accounts.a.local]\npath = \"/m/a\"\n"
	cfg, err := Parse("c.toml", []byte(src), testEnv("HOME", "/home/u"))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Accounts["a"].Remote
	_, err = r.OAuth2Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "c.toml:4: accounts.a.remote.oauth2_token_command: command failed") {
		t.Errorf("error %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	want := "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, in := range []string{want, strings.ToUpper(want), "SHA256:9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08"} {
		fp, err := ParseFingerprint(in)
		if err != nil || FormatFingerprint(fp) != want {
			t.Errorf("ParseFingerprint(%q) = %s, %v", in, FormatFingerprint(fp), err)
		}
	}
	for _, in := range []string{"", "9f86d0", "sha1:" + want[7:], "sha256:" + want[8:], "sha256:zz" + want[9:]} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", in)
		}
	}
}

func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.pem")
	os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not a certificate\n"), 0o600)
	if err := CheckCAFile(good); err != nil {
		t.Errorf("good CA file: %v", err)
	}
	if err := CheckCAFile(empty); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("empty CA file: %v", err)
	}
}

func TestSecretWarnings(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("x\n"), 0o640)
	cfgFile := filepath.Join(dir, "config.toml")
	src := "[accounts.a.remote]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n[accounts.a.local]\npath = \"/m/a\"\n" +
		"[accounts.b.remote]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + pwFile + "\"\n[accounts.b.local]\npath = \"/m/b\"\n"
	os.WriteFile(cfgFile, []byte(src), 0o644)
	cfg, err := Load(cfgFile, testEnv("HOME", dir))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.SecretWarnings()
	if len(w) != 2 || !strings.Contains(w[0], "accounts.a.remote.password") || !strings.Contains(w[0], "mode 0644") ||
		!strings.Contains(w[1], pwFile) || !strings.Contains(w[1], "mode 0640") {
		t.Errorf("warnings:\n%s", strings.Join(w, "\n"))
	}
	os.Chmod(cfgFile, 0o600)
	os.Chmod(pwFile, 0o600)
	if w := cfg.SecretWarnings(); len(w) != 0 {
		t.Errorf("warnings at 0600:\n%s", strings.Join(w, "\n"))
	}
}

func TestTokenURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://oauth2.googleapis.com/token": true,
		"http://127.0.0.1:8080/token":         true,
		"http://localhost/token":              true,
		"http://[::1]:9/t":                    true,
		"http://example.org/token":            false,
		"ftp://example.org/token":             false,
		"oauth2.googleapis.com/token":         false,
		"https://":                            false,
	} {
		if got := tokenURLOK(u); got != want {
			t.Errorf("tokenURLOK(%q) = %v; want %v", u, got, want)
		}
	}
}
