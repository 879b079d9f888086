package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addFileSeeds seeds a fuzz target with the hand-written configs, on top
// of the committed corpus under testdata/fuzz.
func addFileSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/broken/*.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(fullConfig))
}

func FuzzParse(f *testing.F) {
	addFileSeeds(f)
	env := testEnv("HOME", "/home/u")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data, env)
		if err != nil {
			checkErrors(t, err)
			// Errors come out in a deterministic order despite Go's
			// random map iteration.
			_, err2 := Parse("fuzz.toml", data, env)
			if err.Error() != err2.Error() {
				t.Fatalf("non-deterministic errors:\n%v\n---\n%v", err, err2)
			}
			return
		}
		checkConfig(t, cfg)
	})
}

func checkErrors(t *testing.T, err error) {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error is %T, want non-empty Errors: %v", err, err)
	}
	var first *Error
	if !errors.As(err, &first) || first != es[0] {
		t.Fatal("errors.As(*Error) does not give the first error")
	}
	for i, e := range es {
		if e.File != "fuzz.toml" || e.Msg == "" {
			t.Fatalf("error %d lacks file or message: %#v", i, e)
		}
		if e.Line < 0 || i > 0 && e.Line < es[i-1].Line {
			t.Fatalf("errors not in line order: %v", err)
		}
		// (An account named "" is named by its key alone.)
		if strings.HasPrefix(e.Key, "accounts.") && !strings.HasPrefix(e.Key, `accounts.""`) && e.Account == "" && e.Err == nil {
			t.Fatalf("error under accounts without account: %#v", e)
		}
	}
}

func checkConfig(t *testing.T, c *Config) {
	t.Helper()
	if len(c.Accounts) == 0 {
		t.Fatal("config without accounts")
	}
	if !filepath.IsAbs(c.General.StateDir) || c.General.MaxSyncAccounts < 1 {
		t.Fatalf("bad general: %+v", c.General)
	}
	for name, a := range c.Accounts {
		if name != a.Name || !accountNameRE.MatchString(name) {
			t.Fatalf("bad account name %q/%q", name, a.Name)
		}
		r := a.Remote
		if r.Host == "" || r.User == "" || r.Port < 1 || r.Port > 65535 ||
			r.MaxConnections < 1 || r.MaxConnections > 64 || r.Timeout <= 0 || r.Filter == nil || len(r.Folders) == 0 {
			t.Fatalf("bad remote: %+v", r)
		}
		switch r.TLS {
		case TLSImplicit, TLSStartTLS:
		case TLSNone:
			if !r.AllowPlaintext {
				t.Fatal("tls none without allow_plaintext")
			}
		default:
			t.Fatalf("bad tls %q", r.TLS)
		}
		n := 0
		for _, s := range []string{r.Password, r.PasswordCommand, r.PasswordFile} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d password sources", n)
		}
		if r.PasswordFile != "" && !filepath.IsAbs(r.PasswordFile) {
			t.Fatalf("relative password file %q", r.PasswordFile)
		}
		seen := map[string]bool{}
		for k, v := range r.FolderMap {
			if checkMapKey(k) != nil || checkLocalName(v) != nil || seen[v] {
				t.Fatalf("bad folder_map entry %q = %q", k, v)
			}
			seen[v] = true
			if back, ok := r.MapToRemote(r.MapToLocal(k)); !ok || back != k {
				t.Fatalf("folder_map does not round-trip %q: %q %v", k, back, ok)
			}
		}
		if a.MaxSize < 0 {
			t.Fatalf("negative max_size %d", a.MaxSize)
		}
		if m, err := ParseMaxAge(a.MaxAge.String()); err != nil || m != a.MaxAge {
			t.Fatalf("max_age %q does not round-trip: %+v %v", a.MaxAge, m, err)
		}
		l := a.Local
		if !filepath.IsAbs(l.Path) || filepath.Clean(l.Path) != l.Path || l.Layout != LayoutFS && l.Layout != LayoutMaildirPP {
			t.Fatalf("bad local: %+v", l)
		}
	}
}

func FuzzSize(f *testing.F) {
	for _, s := range []string{"", "0", "25MB", "25 mb", "1.5GiB", "-1", "9223372036854775807", "8589934592GiB", "1.", ".5", "1e3", "KiB", "0.0000001B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if n != 0 || err.Error() == "" {
				t.Fatalf("ParseSize(%q) = %d, %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if m, err := ParseSize(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("ParseSize(%q) = %d does not round-trip: %d, %v", s, n, m, err)
		}
		// KiB is never less than KB, for the same number.
		num := strings.TrimSpace(s)
		for _, u := range []string{"kb", "KB", "kB", "Kb"} {
			if strings.HasSuffix(num, u) {
				if k, err := ParseSize(strings.TrimSuffix(num, u) + "KiB"); err == nil && k < n {
					t.Fatalf("%q KiB = %d < KB = %d", s, k, n)
				}
			}
		}
	})
}

func FuzzMaxAge(f *testing.F) {
	for _, s := range []string{"", "90d", "2w", "36h", "1h30m", "2024-01-31", "2024-02-30", "0d", "-1h", "106751d", "106752d", "99999999999999999999w", "+5d"} {
		f.Add(s, int64(1700000000))
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		m, err := ParseMaxAge(s)
		if err != nil {
			if m != (MaxAge{}) {
				t.Fatalf("ParseMaxAge(%q) returned %+v with error %v", s, m, err)
			}
			return
		}
		if back, err := ParseMaxAge(m.String()); err != nil || back != m {
			t.Fatalf("ParseMaxAge(%q) = %+v does not round-trip: %+v, %v", s, m, back, err)
		}
		if m.IsZero() != (strings.TrimSpace(s) == "") {
			t.Fatalf("ParseMaxAge(%q).IsZero() = %v", s, m.IsZero())
		}
		now := time.Unix(unix%(1<<40), 0)
		since := m.Since(now)
		if m.dur > 0 && !since.Before(now) {
			t.Fatalf("ParseMaxAge(%q).Since(%v) = %v, not before now", s, now, since)
		}
	})
}

func FuzzFolderFilter(f *testing.F) {
	f.Add("*\n!Spam", "INBOX")
	f.Add("inbox/%", "INBOX/x")
	f.Add("Archive/*\n!Archive/2023", "Archive/2023")
	f.Add("%/%\n!", "a/b")
	f.Add("*a*a*a%b", "aaaaaaaaaaaaaaaaaaaaaaaa")
	f.Fuzz(func(t *testing.T, patterns, name string) {
		pats := strings.Split(patterns, "\n")
		ff, err := NewFolderFilter(pats)
		if err != nil {
			return
		}
		got := ff.Match(name)
		// INBOX is one folder whatever its spelling.
		if canon, isInbox := canonicalInbox(name); isInbox {
			if ff.Match(canon) != got || ff.Match(strings.ToLower(canon[:5])+canon[5:]) != got {
				t.Fatalf("%q: INBOX spellings disagree for %q", pats, name)
			}
		}
		// Cross-check the matcher with the exponential reference on
		// inputs small enough for it.
		if len(name) <= 12 {
			for _, p := range pats {
				p = strings.TrimPrefix(p, "!")
				if len(p) <= 10 && globMatch(collapseStars(p), name) != globRef(p, name) {
					t.Fatalf("globMatch(%q, %q) disagrees with reference", p, name)
				}
			}
		}
	})
}

// FuzzKeyLines checks the line locator against the TOML library's own
// positions on every input the library accepts.
func FuzzKeyLines(f *testing.F) {
	addFileSeeds(f)
	f.Add([]byte("a = {\n b = 1, # c\n c.d = [\n1,\n]\n}\n[x.'y'.\"z\"]\nq = \"\"\"\n\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstLibrary(t, string(data))
	})
}
