package accounts

import (
	"context"
	"fmt"
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

// FailureReport is systemd's OnFailure= handler for a unit of mailsync
// (mailsync-failure@.service runs `mailsync failure-report UNIT`): it
// logs the failure with what the user manager says of it, records it for
// `mailsync status`, and runs [general] failure_hook with MAILSYNC_UNIT
// (and MAILSYNC_ACCOUNT for a unit of one account).
func FailureReport(ctx context.Context, cfg *config.Config, unit string, log zerolog.Logger) error {
	f := state.UnitFailure{Unit: unit, Account: UnitAccount(unit), Time: time.Now()}
	if m, err := systemd.Connect(ctx); err == nil {
		r, status := m.Result(ctx, unit)
		f.Result, f.Status = r, int(status)
		m.Close()
	}
	msg := unit + " failed"
	switch {
	case f.Result != "" && f.Status != 0:
		msg += fmt.Sprintf(" (%s, exit status %d)", f.Result, f.Status)
	case f.Result != "":
		msg += " (" + f.Result + ")"
	}
	l := log.With().Str("unit", unit).Logger()
	if f.Account != "" {
		l = l.With().Str("account", f.Account).Logger()
	}
	l.Error().Msg(msg)
	err := state.RecordUnitFailure(cfg.General.StateDir, f)
	if err != nil {
		l.Error().Err(err).Msg("recording the failure for mailsync status")
	}
	if cfg.General.FailureHook != "" {
		env := []string{"MAILSYNC_UNIT=" + unit}
		if f.Account != "" {
			env = append(env, "MAILSYNC_ACCOUNT="+f.Account)
		}
		if herr := runShell(ctx, l, "failure_hook", cfg.General.FailureHook, cfg.General.Hooks.Timeout, env); herr != nil && err == nil {
			err = herr
		}
	}
	return err
}
