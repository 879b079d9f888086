package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Modes of Install: which units it enables.
const (
	ModeTimer  = "timer"  // mailsync-oneshot[@ACCOUNT].timer
	ModeDaemon = "daemon" // mailsync[@ACCOUNT].service
)

// Account is what install needs of an account: its name and the
// directories of its local folders (for its path unit).
type Account struct {
	Name string
	Dirs []string
}

// InstallOptions are `mailsync systemd install`'s.
type InstallOptions struct {
	Options
	// Dir is the unit directory; DefaultDir says it is the user's own, on
	// which the user manager must be told of changes.
	Dir        string
	DefaultDir bool
	// Mode is ModeTimer, ModeDaemon or "" (write the units only).
	Mode string
	// Accounts are the accounts given with -a (Named), or every account.
	Accounts []Account
	Named    bool
	// Enable enables the units of Mode; Now also starts them.
	Enable, Now bool
	// Force replaces files the user edited.
	Force bool
	Out   io.Writer
}

// ErrEdited means install left files alone that the user had changed.
var ErrEdited = errors.New("files changed since they were installed were left alone; --force replaces them")

// Install writes the units, reloads the user manager if any changed, and
// enables or starts those of Mode. Every file written and every unit
// enabled or started is printed; a second run prints nothing.
func Install(ctx context.Context, o InstallOptions) error {
	if (o.Enable || o.Now) && o.Mode == "" {
		return errors.New("--enable and --now need --timer or --daemon: which units to enable")
	}
	files, err := installFiles(o)
	if err != nil {
		return err
	}
	changed, edited, err := writeFiles(o.Dir, files, o.Force, o.Out)
	if err != nil {
		return err
	}
	if err := writeDoc(o.Doc, o.Out); err != nil {
		return err
	}
	if !o.DefaultDir && !o.Enable && !o.Now {
		// Another directory (a package's staging tree, say): no manager
		// to tell.
		return editedError(edited)
	}
	m, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	if changed {
		if err := m.Reload(ctx); err != nil {
			return fmt.Errorf("reloading the user manager: %w", err)
		}
	}
	if o.Enable || o.Now {
		units := enabledUnits(o)
		links, err := m.Enable(ctx, units)
		if err != nil {
			return err
		}
		for _, l := range links {
			fmt.Fprintf(o.Out, "enabled %s\n", l)
		}
		if len(links) > 0 {
			// So that the manager sees the new dependencies at once.
			if err := m.Reload(ctx); err != nil {
				return err
			}
		}
	}
	if o.Now {
		for _, u := range startedUnits(o) {
			if m.Active(ctx, u) {
				continue
			}
			if err := m.Start(ctx, u); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "started %s\n", u)
		}
	}
	return editedError(edited)
}

func editedError(edited []string) error {
	if len(edited) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrEdited, strings.Join(edited, ", "))
}

// installFiles are the files install writes.
func installFiles(o InstallOptions) ([]File, error) {
	names := UnitNames()
	if o.Online {
		names = append(names, NetworkUnitNames()...)
	}
	var files []File
	for _, n := range names {
		f, err := Unit(n, o.Options)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	for _, a := range o.Accounts {
		if len(a.Dirs) > 0 {
			files = append(files, PushPaths(a.Name, a.Dirs))
		}
	}
	return files, nil
}

// enabledUnits are the units --enable enables: mail.target, which the
// others are wanted by, and the timer or daemon of each account named, or
// the account-less one. With Online the daemons are wanted by
// internet-online.target instead of mail.target.
func enabledUnits(o InstallOptions) []string {
	units := []string{"mail.target"}
	for _, u := range startedUnits(o) {
		if u != "mail.target" {
			units = append(units, u)
		}
	}
	return units
}

// startedUnits are the units --now starts: mail.target last, which would
// otherwise start the others as its wants.
func startedUnits(o InstallOptions) []string {
	base := "mailsync-oneshot%s.timer"
	if o.Mode == ModeDaemon {
		base = "mailsync%s.service"
	}
	var units []string
	if !o.Named {
		units = append(units, fmt.Sprintf(base, ""))
	} else {
		for _, a := range o.Accounts {
			units = append(units, fmt.Sprintf(base, "@"+a.Name))
		}
	}
	return append(units, "mail.target")
}

// writeFiles writes files into dir, leaving alone those already as they
// would be written, and those the user changed unless force. It reports
// whether any file changed and which were left alone as edited.
func writeFiles(dir string, files []File, force bool, out io.Writer) (changed bool, edited []string, err error) {
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		old, rerr := os.ReadFile(p)
		switch {
		case rerr == nil && bytes.Equal(old, f.Content):
			continue
		case rerr == nil && !force:
			if ours, pristine := Ours(old); !ours || !pristine {
				edited = append(edited, p)
				continue
			}
		case rerr != nil && !errors.Is(rerr, os.ErrNotExist):
			return changed, edited, rerr
		}
		if err := writeFile(p, f.Content); err != nil {
			return changed, edited, err
		}
		changed = true
		fmt.Fprintf(out, "wrote %s\n", p)
	}
	return changed, edited, nil
}

// writeDoc installs the README the units' Documentation= names.
func writeDoc(p string, out io.Writer) error {
	if p == "" {
		return nil
	}
	data := README()
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := writeFile(p, data); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\n", p)
	return nil
}

// writeFile replaces p atomically.
func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".mailsync-tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// UninstallOptions are `mailsync systemd uninstall`'s.
type UninstallOptions struct {
	Dir string
	// Accounts limits the removal to these accounts' instances and files;
	// empty removes everything install wrote.
	Accounts []string
	Out      io.Writer
}

// Uninstall stops and disables what install set up and removes the files
// it wrote (never a file without its header). With Accounts, only those
// accounts' instances go; the templates stay for the others.
func Uninstall(ctx context.Context, o UninstallOptions) error {
	m, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	var units []string
	if len(o.Accounts) == 0 {
		loaded, err := m.Loaded(ctx, "mailsync*", "mail.target", "internet-online.target", "internet-offline.target")
		if err != nil {
			return err
		}
		units = loaded
	} else {
		for _, a := range o.Accounts {
			for _, f := range []string{"mailsync-oneshot@%s.timer", "mailsync-oneshot@%s.service", "mailsync@%s.service", "mailsync-push@%s.path"} {
				units = append(units, fmt.Sprintf(f, a))
			}
		}
	}
	// Timers and path units first, so that they start nothing meanwhile.
	slices.SortStableFunc(units, func(a, b string) int { return order(a) - order(b) })
	for _, u := range units {
		if !m.Active(ctx, u) {
			continue
		}
		if err := m.Stop(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "stopped %s\n", u)
	}
	removed, err := removeLinks(o.Dir, o.Accounts)
	if err != nil {
		return err
	}
	for _, l := range removed {
		fmt.Fprintf(o.Out, "disabled %s\n", l)
	}
	files, err := ourFiles(o.Dir, o.Accounts)
	if err != nil {
		return err
	}
	for _, p := range files {
		if err := os.Remove(p); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "removed %s\n", p)
		if d := filepath.Dir(p); strings.HasSuffix(d, ".d") {
			os.Remove(d) // if empty
		}
	}
	return m.Reload(ctx)
}

func order(unit string) int {
	switch filepath.Ext(unit) {
	case ".timer", ".path":
		return 0
	case ".target":
		return 2
	}
	return 1
}

// ours reports whether a unit name is one install sets up: a contrib unit
// or an instance of one, for accounts (all if empty).
func ourUnit(name string, accounts []string) bool {
	base, inst, templ := strings.Cut(name, "@")
	if len(accounts) > 0 {
		if !templ {
			return false
		}
		acct := strings.TrimSuffix(inst, filepath.Ext(inst))
		return slices.Contains(accounts, acct) && strings.HasPrefix(base, "mailsync")
	}
	if templ {
		return slices.Contains(UnitNames(), base+"@"+filepath.Ext(name))
	}
	return slices.Contains(UnitNames(), name) || slices.Contains(NetworkUnitNames(), name)
}

// removeLinks removes the enablement symlinks (in *.wants and *.requires)
// of our units from dir; disabling over D-Bus does not reach every
// instance of a template.
func removeLinks(dir string, accounts []string) ([]string, error) {
	links, _ := filepath.Glob(filepath.Join(dir, "*.wants", "*"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.requires", "*"))
	var out []string
	for _, l := range append(links, more...) {
		fi, err := os.Lstat(l)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 || !ourUnit(filepath.Base(l), accounts) {
			continue
		}
		if err := os.Remove(l); err != nil {
			return out, err
		}
		os.Remove(filepath.Dir(l)) // if empty
		out = append(out, l)
	}
	return out, nil
}

// ourFiles lists the files in dir that install wrote: all of them, or the
// drop-ins of the accounts.
func ourFiles(dir string, accounts []string) ([]string, error) {
	var cands []string
	if len(accounts) == 0 {
		top, _ := filepath.Glob(filepath.Join(dir, "*"))
		drop, _ := filepath.Glob(filepath.Join(dir, "*.d", "*.conf"))
		cands = append(top, drop...)
	} else {
		for _, a := range accounts {
			drop, _ := filepath.Glob(filepath.Join(dir, "mailsync*@"+a+".*.d", "*.conf"))
			cands = append(cands, drop...)
		}
	}
	var out []string
	for _, p := range cands {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if ours, _ := Ours(data); ours {
			out = append(out, p)
		}
	}
	return out, nil
}

// Print renders unit as install would write it; for an instance of the
// push path unit, with its paths.
func Print(unit string, o Options, accounts []Account) ([]byte, error) {
	base, inst, templ := strings.Cut(unit, "@")
	name := unit
	if templ {
		name = base + "@" + filepath.Ext(inst)
	}
	f, err := Unit(name, o)
	if err != nil {
		return nil, err
	}
	out := f.Content
	if templ && base == "mailsync-push" {
		acct := strings.TrimSuffix(inst, filepath.Ext(inst))
		for _, a := range accounts {
			if a.Name == acct {
				d := PushPaths(a.Name, a.Dirs)
				out = append(append(out, []byte("\n# "+d.Name+"\n")...), d.Content...)
			}
		}
	}
	return out, nil
}
