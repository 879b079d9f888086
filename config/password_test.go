package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGetPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		r    Remote
		want string
	}{
		{"literal", Remote{Password: " sp ace "}, " sp ace "},
		{"command first line", Remote{PasswordCommand: `printf 'secret\nsecond line\n'`}, "secret"},
		{"command trailing newline", Remote{PasswordCommand: "echo hunter2"}, "hunter2"},
		{"command CRLF", Remote{PasswordCommand: `printf 'pw\r\n'`}, "pw"},
		{"command no newline", Remote{PasswordCommand: `printf 'pw'`}, "pw"},
		{"command shell syntax", Remote{PasswordCommand: `x=abc; echo "$x" | tr a-z A-Z`}, "ABC"},
		{"command ignores stderr", Remote{PasswordCommand: `echo noise >&2; echo pw`}, "pw"},
		{"file first line", Remote{PasswordFile: write("pw1", "filepw\nignored\n")}, "filepw"},
		{"file no newline", Remote{PasswordFile: write("pw2", "filepw")}, "filepw"},
		{"file CRLF", Remote{PasswordFile: write("pw3", "filepw\r\n")}, "filepw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.GetPassword(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGetPasswordErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\nsecond"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		r       Remote
		want    string // exact message
		notWant string // must not appear (a password)
		is      error
	}{
		{name: "none", r: Remote{}, want: "no password source configured; set password, password_command or password_file"},
		{name: "command fails", r: Remote{PasswordCommand: "echo 'gpg: decryption failed' >&2; exit 3"},
			want: "password_command: command failed: exit status 3: gpg: decryption failed"},
		{name: "command fails after printing the password",
			r:       Remote{PasswordCommand: "echo hunter2; echo 'bad password hunter2' >&2; exit 1"},
			want:    "password_command: command failed: exit status 1: bad password <redacted>",
			notWant: "hunter2"},
		{name: "command not found", r: Remote{PasswordCommand: "/nonexistent/pass"},
			want: "password_command: command failed: exit status 127: sh: 1: /nonexistent/pass: not found"},
		{name: "command prints nothing", r: Remote{PasswordCommand: "true"}, want: "password_command: command printed an empty first line"},
		{name: "command reads stdin", r: Remote{PasswordCommand: "cat"}, want: "password_command: command printed an empty first line"},
		{name: "missing file", r: Remote{PasswordFile: missing},
			want: "password_file: cannot read password file: open " + missing + ": no such file or directory", is: fs.ErrNotExist},
		{name: "empty first line", r: Remote{PasswordFile: empty}, want: "password_file: first line of " + empty + " is empty", notWant: "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw, err := tt.r.GetPassword(context.Background())
			if err == nil {
				t.Fatalf("no error, password %q", pw)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
			msg := err.Error()
			if tt.name == "command not found" {
				// The shell's wording varies (dash, bash); keep the stable part.
				if !strings.HasPrefix(msg, "password_command: command failed: exit status 127: ") || !strings.Contains(msg, "/nonexistent/pass") {
					t.Errorf("got %q", msg)
				}
			} else if msg != tt.want {
				t.Errorf("got  %q\nwant %q", msg, tt.want)
			}
			if tt.notWant != "" && strings.Contains(msg, tt.notWant) {
				t.Errorf("error %q leaks %q", msg, tt.notWant)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v) = false", tt.is)
			}
		})
	}
}

func TestGetPasswordCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	// exec, so that the kill reaches sleep itself; see passwordCommandWaitDelay.
	r := Remote{PasswordCommand: "exec sleep 30"}
	_, err := r.GetPassword(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if got, want := err.Error(), "password_command: interrupted: context deadline exceeded"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestGetPasswordErrorLocation checks that a Remote from Parse reports
// where its password source was configured.
func TestGetPasswordErrorLocation(t *testing.T) {
	src := "[accounts.work.remote]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"echo nope >&2; exit 1\"\n[accounts.work.local]\npath = \"/m\"\n"
	c, err := Parse("/c.toml", []byte(src), testEnv("HOME", "/h"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Accounts["work"].Remote
	_, err = r.GetPassword(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Account != "work" {
		t.Fatalf("got %#v", err)
	}
	if got, want := err.Error(), "/c.toml:4: accounts.work.remote.password_command: command failed: exit status 1: nope"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestRemoteStringRedacts(t *testing.T) {
	r := Remote{Host: "h", Port: 993, TLS: TLSImplicit, User: "u", Password: "hunter2"}
	a := Account{Name: "a", Remote: r}
	for _, s := range []string{r.String(), fmt.Sprintf("%v", r), fmt.Sprintf("%+v", a), fmt.Sprint(&a)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("leaks the password: %s", s)
		}
	}
	if got, want := r.String(), "u@h:993 (tls=implicit, password=<redacted>)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
