package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailsync/config"
	"mailsync/internal/state"
	"mailsync/internal/systemd"
)

// UnitAccount is the account a unit of mailsync serves:
// mailsync-oneshot@work.service and mailsync@work.service serve work; a
// unit without an instance serves every account ("").
func UnitAccount(unit string) string {
	i := strings.LastIndexByte(unit, '@')
	if i < 0 {
		return ""
	}
	inst := unit[i+1:]
	if j := strings.LastIndexByte(inst, '.'); j >= 0 {
		inst = inst[:j]
	}
	return inst
}

// FailureOptions are what a failure report needs of the configuration.
type FailureOptions struct {
	// StateDir is where the failure is recorded.
	StateDir string
	// Hook is [general] failure_hook ("" for none), run with HookTimeout.
	Hook        string
	HookTimeout time.Duration
	Log         zerolog.Logger
}

// FailureOptionsOf are cfg's.
func FailureOptionsOf(cfg *config.Config, log zerolog.Logger) FailureOptions {
	return FailureOptions{StateDir: cfg.General.StateDir, Hook: cfg.General.FailureHook, HookTimeout: cfg.General.Hooks.Timeout, Log: log}
}

// FailureReport is systemd's OnFailure= handler for a unit of mailsync
// (mailsync-failure@.service runs `mailsync failure-report UNIT`): it
// logs the failure with what the user manager says of it, records it for
// `mailsync status`, and runs failure_hook with MAILSYNC_UNIT (and
// MAILSYNC_ACCOUNT for a unit of one account).
func FailureReport(ctx context.Context, unit string, o FailureOptions) error {
	f := state.UnitFailure{Unit: unit, Account: UnitAccount(unit), Time: time.Now()}
	if m, err := systemd.Connect(ctx); err == nil {
		r, status := m.Result(ctx, unit)
		f.Result, f.Status = r, int(status)
		m.Close()
	}
	l := o.Log.With().Str("unit", unit).Logger()
	if f.Account != "" {
		l = l.With().Str("account", f.Account).Logger()
	}
	ev := l.Error()
	if f.Result != "" {
		ev = ev.Str("result", f.Result)
	}
	if f.Status != 0 {
		ev = ev.Int("exit_status", f.Status)
	}
	ev.Msg("unit failed")
	err := state.RecordUnitFailure(o.StateDir, f)
	if err != nil {
		l.Error().Err(err).Msg("recording the failure for mailsync status")
	}
	if o.Hook != "" {
		env := []string{"MAILSYNC_UNIT=" + unit}
		if f.Account != "" {
			env = append(env, "MAILSYNC_ACCOUNT="+f.Account)
		}
		if herr := runShell(ctx, l, "failure_hook", o.Hook, o.HookTimeout, env); herr != nil && err == nil {
			err = herr
		}
	}
	return err
}
