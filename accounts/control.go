package accounts

import (
	"context"
	"errors"

	"mailsync/config"
	"mailsync/internal/control"
	msync "mailsync/sync"
)

// controlHandler answers the control socket for a daemon.
type controlHandler struct{ d *Daemon }

func (h controlHandler) Status() []control.Account {
	ss := h.d.Status()
	out := make([]control.Account, len(ss))
	for i, s := range ss {
		out[i] = control.Account{
			Name: s.Name, State: string(s.State), Idle: s.Idle,
			LastResult: s.LastResult, LastError: s.LastError, Done: s.Done, Total: s.Total,
		}
		if !s.LastSync.IsZero() {
			t := s.LastSync
			out[i].LastSync = &t
		}
		if !s.NextSync.IsZero() {
			t := s.NextSync
			out[i].NextSync = &t
		}
	}
	return out
}

func (h controlHandler) Sync(ctx context.Context, req control.Request) ([]control.Result, error) {
	names := req.Accounts
	if len(names) == 0 {
		for _, s := range h.d.Status() {
			names = append(names, s.Name)
		}
	}
	rs, err := h.d.Sync(ctx, names, msync.Request{Folders: req.Folders, Quick: req.Quick, AllowMassDelete: req.AllowMassDelete})
	if err != nil {
		return nil, err
	}
	out := make([]control.Result, len(rs))
	for i, r := range rs {
		out[i] = ControlResult(r)
	}
	return out, nil
}

// ControlResult is r as the control socket reports it.
func ControlResult(r Result) control.Result {
	cr := control.Result{Account: r.Account, Failed: r.Failed()}
	if r.Summary != nil {
		cr.Summary = r.Summary.Line()
	}
	if r.Err != nil {
		cr.Error = r.Err.Error()
		switch {
		case errors.Is(r.Err, ErrStopping):
			cr.Kind = control.KindStopping
		case errors.As(r.Err, new(*config.Error)):
			cr.Kind = control.KindConfig
		case errors.Is(r.Err, msync.ErrUnknownFolder):
			cr.Kind = control.KindUsage
		}
	}
	if r.Summary != nil {
		for _, err := range r.Summary.Errors {
			var fe *msync.FolderError
			if errors.As(err, &fe) {
				cr.FolderErrors = append(cr.FolderErrors, err.Error())
			}
		}
	}
	return cr
}
