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

	"mailsync/internal/safeio"
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
	// Online makes the daemon units of Mode follow internet-online.target
	// (OnlineDropIn); with ModeDaemon and not Online, an earlier
	// installation's drop-in is removed.
	Online bool
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
	if (o.Enable || o.Now) && !o.DefaultDir {
		return errors.New("--enable and --now act on the user manager's own unit directory; leave out --dir")
	}
	if o.Online && o.Mode != ModeDaemon {
		return errors.New("--online-target goes with --daemon")
	}
	files, err := installFiles(o)
	if err != nil {
		return err
	}
	changed, edited, err := writeFiles(o.Dir, files, o.Force, o.Out)
	if err != nil {
		return err
	}
	if o.Mode == ModeDaemon && !o.Online {
		gone, err := removeOnline(o.Dir, modeUnits(o), o.Out)
		if err != nil {
			return err
		}
		changed = changed || gone
	}
	if err := writeDoc(o.Doc, o.Out); err != nil {
		return err
	}
	if !o.DefaultDir {
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
		if err := enable(ctx, m, o); err != nil {
			return err
		}
	}
	if o.Now {
		if err := start(ctx, m, o); err != nil {
			return err
		}
	}
	return editedError(edited)
}

// enable enables mail.target and the units of Mode, and, for daemons that
// follow the network, links them into internet-online.target.
func enable(ctx context.Context, m *Manager, o InstallOptions) error {
	links, err := m.Enable(ctx, append([]string{"mail.target"}, modeUnits(o)...))
	if err != nil {
		return err
	}
	if o.Online {
		for _, u := range modeUnits(o) {
			made, err := linkOnline(o.Dir, u)
			if err != nil {
				return err
			}
			if made != "" {
				links = append(links, made)
			}
		}
	}
	printed := map[string]bool{}
	for _, l := range links {
		if u := filepath.Base(l); !printed[u] {
			printed[u] = true
			fmt.Fprintf(o.Out, "enabled %s\n", u)
		}
	}
	if len(links) > 0 {
		// So that the manager sees the new dependencies at once.
		return m.Reload(ctx)
	}
	return nil
}

// start starts the units of Mode, then mail.target (which would start
// them as its wants). A daemon that follows the network starts only while
// the machine is online: internet-online.target starts it otherwise.
func start(ctx context.Context, m *Manager, o InstallOptions) error {
	for _, u := range append(modeUnits(o), "mail.target") {
		if m.Active(ctx, u) {
			continue
		}
		if o.Online && u != "mail.target" && !m.Active(ctx, "internet-online.target") {
			fmt.Fprintf(o.Out, "%s starts when internet-online.target does\n", u)
			continue
		}
		if err := m.Start(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "started %s\n", u)
	}
	return nil
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
	if o.Online {
		for _, u := range modeUnits(o) {
			files = append(files, OnlineDropIn(u))
		}
	}
	return files, nil
}

// modeUnits are the units of Mode: the timer or daemon of each account
// named, or the account-less one.
func modeUnits(o InstallOptions) []string {
	base := "mailsync-oneshot%s.timer"
	if o.Mode == ModeDaemon {
		base = "mailsync%s.service"
	}
	if !o.Named {
		return []string{fmt.Sprintf(base, "")}
	}
	var units []string
	for _, a := range o.Accounts {
		units = append(units, fmt.Sprintf(base, "@"+a.Name))
	}
	return units
}

// unitFile is the file a unit is loaded from: its template's, for an
// instance.
func unitFile(dir, unit string) string {
	if base, inst, ok := strings.Cut(unit, "@"); ok {
		return filepath.Join(dir, base+"@"+filepath.Ext(inst))
	}
	return filepath.Join(dir, unit)
}

// linkOnline makes internet-online.target want unit, as `systemctl
// add-wants` would; it returns the link it made, "" if it was there.
func linkOnline(dir, unit string) (string, error) {
	link := filepath.Join(dir, OnlineLink(unit))
	if _, err := os.Lstat(link); err == nil {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", err
	}
	return link, os.Symlink(unitFile(dir, unit), link)
}

// removeOnline removes the online drop-in and link of units that install
// made earlier, when they are asked for without --online-target.
func removeOnline(dir string, units []string, out io.Writer) (bool, error) {
	gone := false
	for _, u := range units {
		p := filepath.Join(dir, OnlineDropIn(u).Name)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if ours, pristine := Ours(data); !ours || !pristine {
			continue
		}
		if err := os.Remove(p); err != nil {
			return gone, err
		}
		os.Remove(filepath.Dir(p))
		fmt.Fprintf(out, "removed %s\n", p)
		if link := filepath.Join(dir, OnlineLink(u)); isLink(link) {
			os.Remove(link)
			fmt.Fprintf(out, "removed %s\n", link)
		}
		gone = true
	}
	return gone, nil
}

func isLink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
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
	return safeio.WriteFile(p, data, 0o644)
}

// UninstallOptions are `mailsync systemd uninstall`'s.
type UninstallOptions struct {
	// Dir is the unit directory; DefaultDir says it is the user's own,
	// whose manager stops and forgets the units.
	Dir        string
	DefaultDir bool
	// Accounts limits the removal to these accounts' instances and files;
	// empty removes everything install wrote.
	Accounts []string
	Out      io.Writer
}

// Uninstall stops and disables what install set up and removes the files
// it wrote, as it wrote them: a file without its header, or changed since,
// stays (and is named in the error). With Accounts, only those accounts'
// instances go; the templates stay for the others.
func Uninstall(ctx context.Context, o UninstallOptions) error {
	var m *Manager
	if o.DefaultDir {
		var err error
		if m, err = Connect(ctx); err != nil {
			return err
		}
		defer m.Close()
		if err := stopOurs(ctx, m, o); err != nil {
			return err
		}
	}
	removed, err := removeLinks(o.Dir, o.Accounts)
	if err != nil {
		return err
	}
	for _, l := range removed {
		fmt.Fprintf(o.Out, "disabled %s\n", filepath.Base(l))
	}
	files, kept, err := ourFiles(o.Dir, o.Accounts)
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
	if m != nil {
		if err := m.Reload(ctx); err != nil {
			return err
		}
	}
	if len(kept) > 0 {
		return fmt.Errorf("changed since they were installed, these were kept: %s", strings.Join(kept, ", "))
	}
	return nil
}

// stopOurs stops the loaded units install set up (of the accounts, if
// any): timers and path units first, so that they start nothing meanwhile.
func stopOurs(ctx context.Context, m *Manager, o UninstallOptions) error {
	loaded, err := m.Loaded(ctx, append([]string{"mailsync*", "mail.target"}, NetworkUnitNames()...)...)
	if err != nil {
		return err
	}
	var units []string
	for _, u := range loaded {
		if ourUnit(u, o.Accounts) {
			units = append(units, u)
		}
	}
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
	return nil
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

// instanceOf returns the instance of a unit name ("work" of
// mailsync@work.service) and whether it is one.
func instanceOf(name string) (string, bool) {
	_, inst, ok := strings.Cut(name, "@")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(inst, filepath.Ext(inst)), true
}

// ourUnit reports whether a unit name is one install sets up: a contrib
// unit or an instance of one (of the accounts, if any; the failure
// handler's instances name a unit, not an account).
func ourUnit(name string, accounts []string) bool {
	base, _, templ := strings.Cut(name, "@")
	if templ && !slices.Contains(UnitNames(), base+"@"+filepath.Ext(name)) {
		return false
	}
	if len(accounts) > 0 {
		inst, ok := instanceOf(name)
		if !ok {
			return false
		}
		if base == "mailsync-failure" {
			inst, ok = instanceOf(inst)
		}
		return ok && slices.Contains(accounts, inst)
	}
	return templ || slices.Contains(UnitNames(), name) || slices.Contains(NetworkUnitNames(), name)
}

// removeLinks removes the enablement symlinks (in *.wants and *.requires)
// of our units from dir; disabling over D-Bus does not reach every
// instance of a template.
func removeLinks(dir string, accounts []string) ([]string, error) {
	links, _ := filepath.Glob(filepath.Join(dir, "*.wants", "*"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.requires", "*"))
	var out []string
	for _, l := range append(links, more...) {
		if !isLink(l) || !ourUnit(filepath.Base(l), accounts) {
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

// ourFiles lists the files in dir that install wrote, unchanged, and
// those it wrote that were changed since (kept): all of them, or the
// drop-ins of the accounts' instances.
func ourFiles(dir string, accounts []string) (files, kept []string, err error) {
	top, _ := filepath.Glob(filepath.Join(dir, "*"))
	drop, _ := filepath.Glob(filepath.Join(dir, "*.d", "*.conf"))
	var cands []string
	if len(accounts) == 0 {
		cands = append(top, drop...)
	} else {
		for _, p := range drop {
			if ourUnit(strings.TrimSuffix(filepath.Base(filepath.Dir(p)), ".d"), accounts) {
				cands = append(cands, p)
			}
		}
	}
	for _, p := range cands {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		switch ours, pristine := Ours(data); {
		case ours && pristine:
			files = append(files, p)
		case ours:
			kept = append(kept, p)
		}
	}
	return files, kept, nil
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
