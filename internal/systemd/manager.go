package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// ErrNoUserBus means there is no user bus to reach a systemd user manager
// on: not a systemd session.
var ErrNoUserBus = errors.New("no systemd user manager: there is no user D-Bus " +
	"(DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist). " +
	"Run `mailsync daemon` under your service manager instead; contrib/ has files for OpenRC, runit and launchd")

// Manager is a connection to the user's systemd manager.
type Manager struct{ c *sddbus.Conn }

// busAddress is the user bus's address: DBUS_SESSION_BUS_ADDRESS, or the
// socket systemd's user session puts in XDG_RUNTIME_DIR. Unlike godbus's
// own lookup, it never launches a bus of its own.
func busAddress(getenv func(string) string) (string, error) {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a, nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		p := filepath.Join(dir, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + godbus.EscapeBusAddressValue(p), nil
		}
	}
	return "", ErrNoUserBus
}

// Connect connects to the user manager over the user bus.
func Connect(ctx context.Context) (*Manager, error) {
	addr, err := busAddress(os.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := sddbus.NewConnection(func() (*godbus.Conn, error) {
		conn, err := godbus.Dial(addr, godbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			conn.Close()
			return nil, err
		}
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w (connecting to %s: %v)", ErrNoUserBus, addr, err)
	}
	return &Manager{c: c}, nil
}

// Close closes the connection.
func (m *Manager) Close() { m.c.Close() }

// Reload makes the manager read the unit files again (daemon-reload).
func (m *Manager) Reload(ctx context.Context) error { return m.c.ReloadContext(ctx) }

// Enable enables units and returns the symlinks created.
func (m *Manager) Enable(ctx context.Context, units []string) ([]string, error) {
	_, changes, err := m.c.EnableUnitFilesContext(ctx, units, false, true)
	if err != nil {
		return nil, fmt.Errorf("enabling %v: %w", units, err)
	}
	var out []string
	for _, c := range changes {
		if c.Type == "symlink" {
			out = append(out, c.Filename)
		}
	}
	return out, nil
}

// Disable disables units and returns the symlinks removed.
func (m *Manager) Disable(ctx context.Context, units []string) ([]string, error) {
	changes, err := m.c.DisableUnitFilesContext(ctx, units, false)
	if err != nil {
		return nil, fmt.Errorf("disabling %v: %w", units, err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, c.Filename)
	}
	return out, nil
}

// Active reports whether unit is active or activating.
func (m *Manager) Active(ctx context.Context, unit string) bool {
	p, err := m.c.GetUnitPropertyContext(ctx, unit, "ActiveState")
	if err != nil {
		return false
	}
	s, _ := p.Value.Value().(string)
	return s == "active" || s == "activating" || s == "reloading"
}

// Start starts unit and waits for the job to end.
func (m *Manager) Start(ctx context.Context, unit string) error {
	return m.job(ctx, unit, m.c.StartUnitContext)
}

// Stop stops unit and waits for the job to end.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	return m.job(ctx, unit, m.c.StopUnitContext)
}

func (m *Manager) job(ctx context.Context, unit string, f func(context.Context, string, string, chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return fmt.Errorf("%s: %w", unit, err)
	}
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("%s: job %s", unit, r)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Loaded lists the loaded units whose names match the patterns (instances
// of templates included), in any state.
func (m *Manager) Loaded(ctx context.Context, patterns ...string) ([]string, error) {
	us, err := m.c.ListUnitsByPatternsContext(ctx, nil, patterns)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out, nil
}

// Result returns a unit's Result ("exit-code", "watchdog", …) and its
// main process's exit status, for a failure report; "" when unknown.
func (m *Manager) Result(ctx context.Context, unit string) (result string, status int32) {
	if p, err := m.c.GetUnitTypePropertyContext(ctx, unit, "Service", "Result"); err == nil {
		result, _ = p.Value.Value().(string)
	}
	if p, err := m.c.GetUnitTypePropertyContext(ctx, unit, "Service", "ExecMainStatus"); err == nil {
		status, _ = p.Value.Value().(int32)
	}
	return result, status
}
