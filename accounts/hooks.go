package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// hook names a hook by its config key.
type hook string

const (
	hookPresync  hook = "presync_hook"
	hookPostsync hook = "postsync_hook"
	hookNewmail  hook = "newmail_hook"
)

// maxHookOutput bounds what is kept of a hook's output for the log.
const maxHookOutput = 4 << 10

// hookWaitDelay bounds how long a hook's output pipes may stay open after
// it exited or was killed: a hook that starts a background job (a notifier
// that lingers) must not hold the sync up.
const hookWaitDelay = 2 * time.Second

// runHook runs the account's hook h, if one is configured, with sh -c,
// the environment of mailsync plus MAILSYNC_ACCOUNT, MAILSYNC_MODE and
// extra. Its output goes to the log. It fails when the hook exits
// non-zero, cannot start, or outlives hook_timeout (then its process
// group is killed).
func (a *Account) runHook(ctx context.Context, h hook, mode Mode, extra []string) error {
	var command string
	switch h {
	case hookPresync:
		command = a.cfg.Hooks.Presync
	case hookPostsync:
		command = a.cfg.Hooks.Postsync
	case hookNewmail:
		command = a.cfg.Hooks.Newmail
	}
	if command == "" {
		return nil
	}
	if a.hookRunning != nil {
		a.hookRunning(true)
		defer a.hookRunning(false)
	}
	env := append([]string{"MAILSYNC_ACCOUNT=" + a.Name(), "MAILSYNC_MODE=" + string(mode)}, extra...)
	log := a.log.With().Str("mode", string(mode)).Logger()
	return runShell(ctx, log, string(h), command, a.cfg.Hooks.Timeout, env)
}

// runShell runs command, a hook named name, with sh -c and the
// environment of mailsync plus env. Its output goes to the log. It fails
// when the hook exits non-zero, cannot start, or outlives timeout (then
// its process group is killed).
func runShell(ctx context.Context, log zerolog.Logger, name, command string, timeout time.Duration, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(hookEnviron(), env...)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that a timeout ends what the shell
	// started too, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = hookWaitDelay
	start := time.Now()
	err := cmd.Run()
	log = log.With().Str("hook", name).Dur("took", time.Since(start)).Logger()
	output := strings.TrimSpace(out.String())
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("%s timed out after %s and was killed", name, timeout)
	case err != nil && ctx.Err() != nil:
		err = fmt.Errorf("%s interrupted", name)
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			err = fmt.Errorf("%s exited with status %d", name, ee.ExitCode())
		} else {
			err = fmt.Errorf("%s: %w", name, err)
		}
	}
	if err != nil {
		if output != "" {
			err = fmt.Errorf("%w: %s", err, lastLine(output))
		}
		log.Error().Err(err).Str("output", output).Msg("hook failed")
		return err
	}
	ev := log.Info()
	if output != "" {
		ev = ev.Str("output", output)
	}
	ev.Msg("hook ran")
	return nil
}

// afterHooks runs newmail_hook when the cycle pulled mail, then
// postsync_hook, whatever the result. Their failures are logged; the sync
// is done.
func (a *Account) afterHooks(ctx context.Context, res Result) {
	if sum := res.Summary; sum != nil && sum.Counts.Pulled > 0 {
		var folders []string
		for _, f := range sum.Folders {
			if f.Counts.Pulled > 0 {
				folders = append(folders, a.cfg.Remote.MapToLocal(f.Folder))
			}
		}
		_ = a.runHook(ctx, hookNewmail, res.Mode, []string{
			"MAILSYNC_NEW=" + strconv.Itoa(sum.Counts.Pulled),
			"MAILSYNC_FOLDERS=" + strings.Join(folders, "\n"),
		})
	}
	result := "ok"
	if res.Failed() {
		result = "error"
	}
	_ = a.runHook(ctx, hookPostsync, res.Mode, []string{"MAILSYNC_RESULT=" + result})
}

// hookEnviron is mailsync's environment without what systemd gave the
// daemon alone: a hook must not notify or feed the watchdog in its name,
// nor take its sockets.
func hookEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// limitedBuffer keeps the last maxHookOutput bytes written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > maxHookOutput {
		p = p[len(p)-maxHookOutput:]
	}
	if over := l.b.Len() + len(p) - maxHookOutput; over > 0 {
		l.b.Next(over)
	}
	l.b.Write(p)
	return n, nil
}

func (l *limitedBuffer) String() string { return l.b.String() }
