package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailsync/config"
	"mailsync/internal/control"
	"mailsync/internal/state"
)

// AccountReport is what `mailsync status` shows of one account: its
// record in the state, and the daemon's live view if one serves it.
type AccountReport struct {
	Name    string
	Live    *control.Account // nil when no daemon serves the account
	LastRun *state.Run       // nil before the first recorded sync
	Folders []state.FolderStatus
	// Failures are the systemd units of the account (or of every account)
	// that failed since its last good sync (see FailureReport).
	Failures []state.UnitFailure
	// acct gives the paths and names of the commands that resolve a stop.
	acct *config.Account
}

// ReadStatus reads the accounts' records and adds the live view of the
// daemons that serve them (control.Find). It opens no state that does not
// exist yet: an account never synced has no record.
func ReadStatus(ctx context.Context, cfg *config.Config, names []string, live map[string]control.Served) ([]AccountReport, error) {
	if len(names) == 0 {
		names = cfg.AccountNames()
	}
	// Failures are recorded in state_dir, or, by a report that could not
	// read the config, in the default one. A damaged record only costs the
	// failures it held.
	failures, _ := state.UnitFailures(cfg.General.StateDir)
	if d := config.DefaultStateDir(os.Getenv); d != "" && d != cfg.General.StateDir {
		more, _ := state.UnitFailures(d)
		failures = append(failures, more...)
	}
	var out []AccountReport
	for _, n := range names {
		r, err := readAccount(ctx, cfg, n)
		if err != nil {
			return nil, err
		}
		if s, ok := live[n]; ok {
			r.Live = &s.Account
		}
		for _, f := range failures {
			if (f.Account == "" || f.Account == n) && (r.LastRun == nil || r.LastRun.LastOK.Before(f.Time)) {
				r.Failures = append(r.Failures, f)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// readAccount reads one account's records.
func readAccount(ctx context.Context, cfg *config.Config, name string) (AccountReport, error) {
	r := AccountReport{Name: name, acct: cfg.Accounts[name]}
	path := filepath.Join(cfg.General.StateDir, name+".db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	st, err := state.Open(ctx, path, false)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	defer st.Close()
	run, ok, err := st.LastRun(ctx)
	if err == nil && ok {
		r.LastRun = &run
	}
	if err == nil {
		r.Folders, err = st.FolderStatuses(ctx)
	}
	if err != nil {
		return r, fmt.Errorf("%s: reading %s: %w", name, path, err)
	}
	return r, nil
}

// resolution is the command that clears a safety stop.
func (r AccountReport) resolution(folder, stop string) string {
	a := r.acct
	switch stop {
	case "unmounted":
		return fmt.Sprintf("mount the disk that holds %s, then: mailsync sync -a %s", a.Local.Path, r.Name)
	case "mass-delete":
		return fmt.Sprintf("check the folder, then: mailsync sync -a %s -f %s --allow-mass-delete", r.Name, shellQuote(folder))
	case "uidvalidity":
		dir, err := layoutOf(a).Dir(a.Local.Path, a.Remote.MapToLocal(folder))
		if err != nil {
			dir = "(the local folder)"
		}
		backup := a.Local.Path + "." + strings.ReplaceAll(a.Remote.MapToLocal(folder), "/", ".") + ".bak"
		return fmt.Sprintf("mv %s %s && mailsync sync -a %s -f %s", shellQuote(dir), shellQuote(backup), r.Name, shellQuote(folder))
	case "vanished":
		return fmt.Sprintf("restore the folder, or remove it on the other side too (see the error), then: mailsync sync -a %s", r.Name)
	case "folder-names":
		return fmt.Sprintf("set folder_names = \"imap-utf7\" in [accounts.%s.local] (see the error), then: mailsync sync -a %s", r.Name, r.Name)
	}
	return ""
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@,+:=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WriteStatusText writes the human form: one line per account, then the
// stopped folders with what resolves each.
func WriteStatusText(w io.Writer, rs []AccountReport, now time.Time) {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Name))
	}
	clock := func(t time.Time) string {
		if now.Sub(t) < 20*time.Hour && t.Sub(now) < 20*time.Hour {
			return t.Local().Format(time.TimeOnly)
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	for _, r := range rs {
		var parts []string
		if r.Live != nil {
			s := r.Live.State
			if len(r.Live.Idle) > 0 && s == string(StateIdle) {
				s += " (" + strings.Join(r.Live.Idle, ", ") + ")"
			}
			if r.Live.State == string(StateSyncing) && r.Live.Total > 0 {
				s += fmt.Sprintf(" %d/%d", r.Live.Done, r.Live.Total)
			}
			parts = append(parts, s)
		}
		var stopped []string
		for _, f := range r.Folders {
			if f.Stop != "" {
				stopped = append(stopped, f.Name)
			}
		}
		switch {
		case r.LastRun == nil:
			parts = append(parts, "never synced")
		case r.LastRun.Result == "ok":
			parts = append(parts, "last sync "+clock(r.LastRun.Finished)+" ok")
		case r.LastRun.Stop != "" || len(stopped) > 0:
			// The stops are listed below, with what resolves them.
			what := "stopped"
			if len(stopped) > 0 {
				what = strings.Join(stopped, ", ") + " stopped"
			}
			parts = append(parts, "last sync "+clock(r.LastRun.Finished)+" failed: "+what+" (see below)")
		default:
			parts = append(parts, "last sync "+clock(r.LastRun.Finished)+" failed: "+r.LastRun.Error)
		}
		if r.Live != nil && r.Live.NextSync != nil {
			parts = append(parts, "next "+clock(*r.Live.NextSync))
		}
		fmt.Fprintf(w, "%-*s  %s\n", width, r.Name, strings.Join(parts, ", "))
	}
	for _, r := range rs {
		for _, f := range r.Failures {
			fmt.Fprintf(w, "\n%s: %s\n", r.Name, describeFailure(f, clock))
		}
		if r.LastRun != nil && r.LastRun.Stop != "" {
			fmt.Fprintf(w, "\n%s: stopped: %s\n  to resolve: %s\n", r.Name, r.LastRun.Error, r.resolution("", r.LastRun.Stop))
		}
		for _, f := range r.Folders {
			if f.Stop == "" {
				continue
			}
			fmt.Fprintf(w, "\n%s/%s: stopped: %s\n  to resolve: %s\n", r.Name, f.Name, f.Error, r.resolution(f.Name, f.Stop))
		}
	}
}

// describeFailure says when and how a unit failed.
func describeFailure(f state.UnitFailure, clock func(time.Time) string) string {
	s := f.Unit + " failed at " + clock(f.Time)
	switch {
	case f.Result != "" && f.Status != 0:
		s += fmt.Sprintf(" (%s, exit status %d)", f.Result, f.Status)
	case f.Result != "":
		s += " (" + f.Result + ")"
	}
	return s + "; journalctl --user -u " + f.Unit + " says why"
}

// statusJSON is the shape of `mailsync status --json`.
type statusJSON struct {
	Daemon   bool          `json:"daemon"`
	Accounts []accountJSON `json:"accounts"`
}

type accountJSON struct {
	Name       string       `json:"name"`
	State      *string      `json:"state"`
	Idle       []string     `json:"idle,omitempty"`
	LastSync   *time.Time   `json:"last_sync"`
	LastResult string       `json:"last_result"`
	LastError  *string      `json:"last_error"`
	LastOK     *time.Time   `json:"last_ok,omitempty"`
	Stop       string       `json:"stop,omitempty"`
	NextSync   *time.Time   `json:"next_sync"`
	Folders    []folderJSON `json:"folders"`
	// UnitFailures are the account's systemd units that failed since its
	// last good sync.
	UnitFailures []state.UnitFailure `json:"unit_failures,omitempty"`
}

type folderJSON struct {
	Name     string     `json:"name"`
	LastSync *time.Time `json:"last_sync"`
	Result   string     `json:"result"`
	Error    string     `json:"error,omitempty"`
	Stop     string     `json:"stop,omitempty"`
	Resolve  string     `json:"resolve,omitempty"`
	Messages int        `json:"messages"`
}

// WriteStatusJSON writes the --json form: {"daemon": bool, "accounts": [...]}.
func WriteStatusJSON(w io.Writer, rs []AccountReport) error {
	out := statusJSON{Accounts: []accountJSON{}}
	for _, r := range rs {
		a := accountJSON{Name: r.Name, LastResult: "never", Folders: []folderJSON{}}
		if r.Live != nil {
			out.Daemon = true
			s := r.Live.State
			a.State, a.Idle, a.NextSync = &s, r.Live.Idle, r.Live.NextSync
		}
		if run := r.LastRun; run != nil {
			t := run.Finished.UTC()
			a.LastSync, a.LastResult, a.Stop = &t, run.Result, run.Stop
			if run.Error != "" {
				e := run.Error
				a.LastError = &e
			}
			if !run.LastOK.IsZero() {
				ok := run.LastOK.UTC()
				a.LastOK = &ok
			}
		}
		a.UnitFailures = r.Failures
		for _, f := range r.Folders {
			fj := folderJSON{Name: f.Name, Result: f.Result, Error: f.Error, Stop: f.Stop, Messages: f.Messages}
			if f.Result == "" {
				fj.Result = "never"
			}
			if !f.LastSync.IsZero() {
				t := f.LastSync.UTC()
				fj.LastSync = &t
			}
			if f.Stop != "" {
				fj.Resolve = r.resolution(f.Name, f.Stop)
			}
			a.Folders = append(a.Folders, fj)
		}
		out.Accounts = append(out.Accounts, a)
	}
	return writeJSON(w, out)
}
