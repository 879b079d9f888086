package accounts

import (
	"context"
	"fmt"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// statusEvery bounds how often STATUS= is sent while a sync moves.
const statusEvery = time.Second

// notifier speaks sd_notify for the daemon: READY, STATUS, WATCHDOG,
// RELOADING and STOPPING. Without NOTIFY_SOCKET every message is
// silently dropped (go-systemd's SdNotify does nothing then).
type notifier struct {
	log zerolog.Logger
	// watchdog is WATCHDOG_USEC when it is set for this process; 0 if not.
	watchdog time.Duration
}

func newNotifier(log zerolog.Logger) *notifier {
	n := &notifier{log: log}
	// Checks WATCHDOG_PID too: a watchdog meant for another process is not ours.
	if d, err := sd.SdWatchdogEnabled(false); err != nil {
		log.Warn().Err(err).Msg("sd_notify: ignoring a malformed WATCHDOG_USEC")
	} else {
		n.watchdog = d
	}
	return n
}

func (n *notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Debug().Err(err).Msg("sd_notify")
	}
}

func (n *notifier) ready(status string) { n.send("READY=1\nSTATUS=" + status) }

func (n *notifier) stopping() { n.send("STOPPING=1\nSTATUS=stopping") }

// reloading tells systemd a reload began, with the CLOCK_MONOTONIC time
// it asks for; ready follows when it is done.
func (n *notifier) reloading() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		n.send("RELOADING=1")
		return
	}
	n.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
}

// run keeps STATUS= current and, with a watchdog, pings it every half
// interval while the daemon is healthy, until ctx ends.
func (n *notifier) run(ctx context.Context, d *Daemon) {
	var ping <-chan time.Time
	if n.watchdog > 0 {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		ping = t.C
	}
	last := ""
	var lastSent time.Time
	var later <-chan time.Time
	sendStatus := func() {
		s := StatusText(d.Status())
		if s != last {
			n.send("STATUS=" + s)
			last, lastSent = s, time.Now()
		}
	}
	unhealthy := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Changed():
			if wait := statusEvery - time.Since(lastSent); wait > 0 {
				if later == nil {
					later = time.After(wait)
				}
				continue
			}
			sendStatus()
		case <-later:
			later = nil
			sendStatus()
		case <-ping:
			if d.Healthy(n.watchdog) {
				n.send("WATCHDOG=1")
				if unhealthy {
					n.log.Info().Msg("watchdog: syncs are moving again")
				}
				unhealthy = false
			} else if !unhealthy {
				unhealthy = true
				n.log.Warn().Dur("watchdog", n.watchdog).Msg("watchdog: a sync has made no progress; withholding the watchdog's pings")
			}
		}
	}
}
