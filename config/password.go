package config

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// passwordCommandWaitDelay bounds how long GetPassword waits for a password
// command's output pipes to close after it exits or is cancelled: a helper
// that forks a long-lived agent (gpg does) must not hang the sync, and
// cancellation kills only the shell, not what it started. The command is
// deliberately not put in a process group of its own, which would let us
// kill all of it: a helper that prompts on /dev/tty would then be stopped
// by SIGTTIN when mailsync runs in a terminal.
const passwordCommandWaitDelay = 5 * time.Second

// maxPasswordFile caps how much of a password file is read; only the first
// line is used and a misconfigured path to a big file should not stall.
const maxPasswordFile = 64 << 10

// GetPassword returns the IMAP password from whichever source is
// configured: Password verbatim; else the first line printed by
// PasswordCommand, run with `sh -c` (cancelled with ctx, stdin from
// /dev/null, stderr captured into the error); else the first line of
// PasswordFile. Only the line terminator is stripped, as spaces may be part
// of a password.
//
// Errors are *Error values naming the config key and account (when the
// Remote came from Load or Parse) and never contain the password or the
// command's standard output, where it would be.
func (r *Remote) GetPassword(ctx context.Context) (string, error) {
	switch {
	case r.Password != "":
		return r.Password, nil
	case r.PasswordCommand != "":
		return r.passwordFromCommand(ctx)
	case r.PasswordFile != "":
		return r.passwordFromFile()
	}
	return "", r.passwordError("", "no password source configured; set password, password_command or password_file", nil)
}

func (r *Remote) passwordFromCommand(ctx context.Context) (string, error) {
	return r.secretFromCommand(ctx, "password_command", r.PasswordCommand)
}

// OAuth2Token returns an access token printed by oauth2_token_command.
func (r *Remote) OAuth2Token(ctx context.Context) (string, error) {
	if r.OAuth2 == nil || r.OAuth2.TokenCommand == "" {
		return "", r.passwordError("oauth2_token_command", "not set", nil)
	}
	return r.secretFromCommand(ctx, "oauth2_token_command", r.OAuth2.TokenCommand)
}

// OAuth2ClientSecret returns oauth2_client_secret, or the first line of
// oauth2_client_secret_command's output; "" for a public client.
func (r *Remote) OAuth2ClientSecret(ctx context.Context) (string, error) {
	if r.OAuth2 == nil {
		return "", nil
	}
	if c := r.OAuth2.ClientSecretCommand; c != "" {
		return r.secretFromCommand(ctx, "oauth2_client_secret_command", c)
	}
	return r.OAuth2.ClientSecret, nil
}

// OAuth2RefreshToken returns oauth2_refresh_token, or the first line of
// oauth2_refresh_token_command's output.
func (r *Remote) OAuth2RefreshToken(ctx context.Context) (string, error) {
	if r.OAuth2 == nil {
		return "", r.passwordError("oauth2_refresh_token", "not set", nil)
	}
	if c := r.OAuth2.RefreshTokenCommand; c != "" {
		return r.secretFromCommand(ctx, "oauth2_refresh_token_command", c)
	}
	if r.OAuth2.RefreshToken == "" {
		return "", r.passwordError("oauth2_refresh_token", "not set", nil)
	}
	return r.OAuth2.RefreshToken, nil
}

// secretFromCommand runs command (the value of key) and returns the first
// line it prints.
func (r *Remote) secretFromCommand(ctx context.Context, key, command string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = nil // os/exec connects nil to /dev/null
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = passwordCommandWaitDelay
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return "", r.passwordError(key, "interrupted: "+ctxErr.Error(), ctxErr)
	}
	if err != nil {
		msg := "command failed: " + err.Error()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			// A command that printed the password and then failed might
			// echo it on stderr too; never let it reach a log.
			if pw := firstLine(stdout.Bytes()); len(pw) >= 4 {
				s = strings.ReplaceAll(s, pw, "<redacted>")
			}
			msg += ": " + truncate(s, 500)
		}
		return "", r.passwordError(key, msg, err)
	}
	pw := firstLine(stdout.Bytes())
	if pw == "" {
		return "", r.passwordError(key, "command printed an empty first line", nil)
	}
	return pw, nil
}

func (r *Remote) passwordFromFile() (string, error) {
	f, err := os.Open(r.PasswordFile)
	if err != nil {
		return "", r.passwordError("password_file", "cannot read password file: "+err.Error(), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordFile))
	if err != nil {
		return "", r.passwordError("password_file", "cannot read password file: "+err.Error(), err)
	}
	pw := firstLine(data)
	if pw == "" {
		return "", r.passwordError("password_file", fmt.Sprintf("first line of %s is empty", r.PasswordFile), nil)
	}
	return pw, nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(bytes.TrimSuffix(line, []byte("\r")))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

func (r *Remote) passwordError(key, msg string, err error) *Error {
	e := &Error{File: r.origin.file, Account: r.origin.account, Msg: msg, Err: err}
	var path []string
	if r.origin.account != "" {
		path = []string{"accounts", r.origin.account, "remote"}
		e.Line = r.origin.line
		if l, ok := r.origin.oauth2Lines[key]; ok {
			e.Line = l
		}
	}
	if key != "" {
		path = append(path, key)
	}
	e.Key = keyString(path)
	return e
}

// String describes the remote without its password, so that logging a
// Remote or an Account with %v or %+v cannot leak it.
func (r Remote) String() string {
	var src string
	switch {
	case r.Password != "":
		src = "password=<redacted>"
	case r.PasswordCommand != "":
		src = "password_command=" + quoteValue(r.PasswordCommand)
	case r.PasswordFile != "":
		src = "password_file=" + quoteValue(r.PasswordFile)
	case r.OAuth2 != nil && r.OAuth2.TokenCommand != "":
		src = "oauth2_token_command=" + quoteValue(r.OAuth2.TokenCommand)
	case r.OAuth2 != nil:
		src = "oauth2 refresh at " + r.OAuth2.TokenURL
	default:
		src = "no password"
	}
	return fmt.Sprintf("%s@%s:%d (tls=%s, %s)", r.User, r.Host, r.Port, r.TLS, src)
}
