package accounts

import (
	"context"
	"net"

	"mailsync/config"
	"mailsync/internal/control"
)

// ServeOptions wire a daemon to its process.
type ServeOptions struct {
	DaemonOptions
	// SyncNow (SIGUSR1) asks for a full sync of every account now.
	SyncNow <-chan struct{}
	// Reload (SIGHUP) asks for the configuration to be read again with
	// LoadConfig; a broken one is logged and the old one kept.
	Reload     <-chan struct{}
	LoadConfig func() (*config.Config, error)
	// Control is the control socket's listener; nil for none.
	Control net.Listener
}

// Serve runs the daemon until ctx ends (SIGTERM) or, after Finish was
// closed, its cycles have finished. It tells systemd where it is
// (sd_notify) and answers on the control socket.
func Serve(ctx context.Context, o ServeOptions) error {
	d, err := NewDaemon(o.DaemonOptions)
	if err != nil {
		return err
	}
	n := newNotifier(o.Log)
	sctx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	if o.Control != nil {
		go control.Serve(sctx, o.Control, controlHandler{d}, o.Config.General.StateDir, o.Log)
		// Closed before returning, which removes the socket: the process
		// may die by its signal right after.
		defer o.Control.Close()
	}
	ran := d.Start(ctx)
	go n.run(sctx, d)
	n.ready(StatusText(d.Status()))
	o.Log.Info().Int("accounts", len(d.Status())).Msg("daemon started")
	finish, syncNow, reload := d.finish, o.SyncNow, o.Reload
	stopping := func() {
		// Once: nothing but the loops' end matters from now on.
		n.stopping()
		ctx, finish, syncNow, reload = context.Background(), nil, nil, nil
	}
	for {
		select {
		case <-ran:
			if finish != nil || ctx.Done() != nil {
				n.stopping()
			}
			return nil
		case <-ctx.Done():
			stopping()
		case <-finish:
			stopping()
		case <-syncNow:
			d.SyncAll()
		case <-reload:
			n.reloading()
			cfg, err := o.LoadConfig()
			if err != nil {
				o.Log.Error().Err(err).Msg("reload failed; keeping the configuration in use")
			} else {
				d.Reload(cfg)
				o.Log.Info().Msg("reloaded the configuration")
			}
			n.ready(StatusText(d.Status()))
		}
	}
}
