package systemd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestQuoteWord(t *testing.T) {
	for _, tc := range []struct {
		in   string
		arg  bool
		want string
	}{
		{"/usr/bin/mailsync", false, "/usr/bin/mailsync"},
		{"/home/me/My Mail/config.toml", true, `"/home/me/My Mail/config.toml"`},
		{"/a%b/$HOME", true, "/a%%b/$$HOME"},
		// systemd expands no variables in the executable itself.
		{"/opt/$x/mailsync", false, "/opt/$x/mailsync"},
		{"/opt/my apps/mailsync", false, `"/opt/my apps/mailsync"`},
		{`/a "q"\b`, true, `"/a \"q\"\\b"`},
	} {
		if got := quoteWord(tc.in, tc.arg); got != tc.want {
			t.Errorf("quoteWord(%q, %v) = %q, want %q", tc.in, tc.arg, got, tc.want)
		}
	}
	for p, ok := range map[string]bool{"/usr/bin/mailsync": true, "/opt/$x/mailsync": true, `/a"b/mailsync`: false, `/a\b`: false, "mailsync": false} {
		if err := CheckBinary(p); (err == nil) != ok {
			t.Errorf("CheckBinary(%q) = %v", p, err)
		}
	}
}

func TestUnitRendering(t *testing.T) {
	o := Options{Binary: "/opt/ms/mailsync", Config: "/home/me/mail config.toml", Doc: "/home/me/.local/share/doc/mailsync/systemd.md"}
	for _, name := range UnitNames() {
		f, err := Unit(name, o)
		if err != nil {
			t.Fatal(err)
		}
		text := string(f.Content)
		if strings.Contains(text, contribBinary) || strings.Contains(text, "/usr/share/doc") {
			t.Errorf("%s still names the packaged paths:\n%s", name, text)
		}
		if !strings.Contains(text, "\nDescription=") || !strings.Contains(text, "\nDocumentation=file:"+o.Doc+"\n") {
			t.Errorf("%s lacks Description= or Documentation=", name)
		}
		if name != "mail.target" && !strings.Contains(text, "\nPartOf=mail.target\n") {
			t.Errorf("%s is not PartOf=mail.target", name)
		}
		if strings.Contains(text, "ExecStart=") && !strings.Contains(text, `ExecStart=/opt/ms/mailsync -c "/home/me/mail config.toml" `) {
			t.Errorf("%s: ExecStart= does not run the binary with -c:\n%s", name, text)
		}
		if ours, pristine := Ours(f.Content); !ours || !pristine {
			t.Errorf("%s: a rendered file is not recognised as ours and pristine", name)
		}
		if name != "mailsync-failure@.service" && !strings.Contains(text, "WantedBy=") {
			t.Errorf("%s can't be enabled", name)
		}
	}
	// Without -c, nothing is added.
	f, _ := Unit("mailsync-oneshot@.service", Options{Binary: "/b/mailsync", Doc: "/d"})
	if !bytes.Contains(f.Content, []byte("\nExecStart=/b/mailsync sync -a %i\n")) {
		t.Errorf("oneshot@ without a config:\n%s", f.Content)
	}
}

func TestOnlineDropIn(t *testing.T) {
	f := OnlineDropIn("mailsync@work.service")
	if f.Name != "mailsync@work.service.d/online.conf" {
		t.Errorf("drop-in name %s", f.Name)
	}
	for _, want := range []string{"\nRequisite=internet-online.target\n", "\nPartOf=internet-online.target\n", "\nAfter=internet-online.target\n"} {
		if !strings.Contains(string(f.Content), want) {
			t.Errorf("the online drop-in lacks %q", strings.TrimSpace(want))
		}
	}
	// BindsTo= would start internet-online.target with the daemon.
	if strings.Contains(string(f.Content), "BindsTo=") {
		t.Error("the online drop-in binds to the target")
	}
	if ours, pristine := Ours(f.Content); !ours || !pristine {
		t.Error("the online drop-in is not recognised as ours")
	}
}

func TestOurUnit(t *testing.T) {
	for _, tc := range []struct {
		unit     string
		accounts []string
		want     bool
	}{
		{"mailsync.service", nil, true},
		{"mailsync@work.service", nil, true},
		{"mailsync-failure@mailsync-oneshot@work.service.service", nil, true},
		{"internet-online.target", nil, true},
		{"mailsync-mine.service", nil, false},
		{"mailsync@work.service", []string{"work"}, true},
		{"mailsync@work.old.service", []string{"work"}, false},
		{"mailsync-push@work.path", []string{"work"}, true},
		{"mailsync-failure@mailsync-oneshot@work.service.service", []string{"work"}, true},
		{"mailsync.service", []string{"work"}, false},
	} {
		if got := ourUnit(tc.unit, tc.accounts); got != tc.want {
			t.Errorf("ourUnit(%q, %v) = %v, want %v", tc.unit, tc.accounts, got, tc.want)
		}
	}
}

func TestOurs(t *testing.T) {
	f, _ := Unit("mail.target", Options{Binary: "/b", Doc: "/d"})
	edited := bytes.Replace(f.Content, []byte("Mail services"), []byte("My mail"), 1)
	for _, tc := range []struct {
		name           string
		data           []byte
		ours, pristine bool
	}{
		{"as written", f.Content, true, true},
		{"edited", edited, true, false},
		{"the user's own", []byte("[Unit]\nDescription=mine\n"), false, false},
		{"header without hash", []byte("# Installed by `mailsync systemd install` from x\n[Unit]\n"), true, false},
	} {
		ours, pristine := Ours(tc.data)
		if ours != tc.ours || pristine != tc.pristine {
			t.Errorf("%s: ours %v pristine %v, want %v %v", tc.name, ours, pristine, tc.ours, tc.pristine)
		}
	}
}

func TestPushPathsAndPrint(t *testing.T) {
	accts := []Account{{Name: "work", Dirs: []string{"/m/work/INBOX", "/m/work/100%"}}}
	out, err := Print("mailsync-push@work.path", Options{Binary: "/b", Doc: "/d"}, accts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Unit=mailsync-oneshot@%i.service", "# mailsync-push@work.path.d/paths.conf",
		"PathChanged=/m/work/INBOX/cur\n", "PathChanged=/m/work/INBOX/new\n", "PathChanged=/m/work/100%%/cur\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("print mailsync-push@work.path lacks %q:\n%s", want, out)
		}
	}
	if _, err := Print("nosuch.service", Options{}, nil); err == nil {
		t.Error("printing a unit that does not exist did not fail")
	}
}

// TestBusAddress: the user bus is DBUS_SESSION_BUS_ADDRESS or the socket in
// XDG_RUNTIME_DIR; without either there is no user manager to reach, and
// nothing is launched.
func TestBusAddress(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if a, err := busAddress(env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x/bus"})); err != nil || a != "unix:path=/x/bus" {
		t.Errorf("from DBUS_SESSION_BUS_ADDRESS: %q, %v", a, err)
	}
	for _, kv := range []map[string]string{{}, {"DBUS_SESSION_BUS_ADDRESS": "autolaunch:"}, {"XDG_RUNTIME_DIR": t.TempDir()}} {
		if _, err := busAddress(env(kv)); !errors.Is(err, ErrNoUserBus) {
			t.Errorf("%v: %v, want ErrNoUserBus", kv, err)
		}
	}
	if !strings.Contains(ErrNoUserBus.Error(), "mailsync daemon") {
		t.Error("the error does not point to mailsync daemon")
	}
}

// TestOurFiles: uninstall removes the files install wrote as it wrote
// them, keeps (and names) those changed since, never touches others, and
// with accounts takes exactly their drop-ins.
func TestOurFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unit, _ := Unit("mailsync.service", Options{Binary: "/b", Doc: "/d"})
	target, _ := Unit("mail.target", Options{Binary: "/b", Doc: "/d"})
	write("mailsync.service", unit.Content)
	write("mail.target", append(target.Content, "# mine\n"...))
	write("mine.service", []byte("[Service]\nExecStart=/bin/true\n"))
	for _, a := range []string{"work", "work.old"} {
		f := PushPaths(a, []string{"/m/" + a + "/INBOX"})
		write(f.Name, f.Content)
	}
	files, kept, err := ourFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		sort.Strings(out)
		return out
	}
	want := []string{"mailsync-push@work.old.path.d/paths.conf", "mailsync-push@work.path.d/paths.conf", "mailsync.service"}
	if got := rel(files); !reflect.DeepEqual(got, want) {
		t.Errorf("files to remove: %v, want %v", got, want)
	}
	if got := rel(kept); !reflect.DeepEqual(got, []string{"mail.target"}) {
		t.Errorf("files kept: %v, want the edited mail.target", got)
	}
	files, _, _ = ourFiles(dir, []string{"work"})
	if got := rel(files); !reflect.DeepEqual(got, []string{"mailsync-push@work.path.d/paths.conf"}) {
		t.Errorf("files of account work: %v", got)
	}
}
