package systemd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestQuoteArg(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/mailsync", "/usr/bin/mailsync"},
		{"/home/me/My Mail/config.toml", `"/home/me/My Mail/config.toml"`},
		{"/a%b/$HOME", "/a%%b/$$HOME"},
		{`/a "q"\b`, `"/a \"q\"\\b"`},
	} {
		if got := quoteArg(tc.in); got != tc.want {
			t.Errorf("quoteArg(%q) = %q, want %q", tc.in, got, tc.want)
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

func TestOnlineTarget(t *testing.T) {
	o := Options{Binary: "/b/mailsync", Doc: "/d", Online: true}
	for _, name := range []string{"mailsync.service", "mailsync@.service"} {
		f, _ := Unit(name, o)
		text := string(f.Content)
		for _, want := range []string{"\nBindsTo=internet-online.target\n", "\nAfter=internet-online.target\n", "\nWantedBy=internet-online.target\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s with --online-target lacks %q", name, strings.TrimSpace(want))
			}
		}
		if strings.Contains(text, "WantedBy=mail.target") {
			t.Errorf("%s with --online-target is still wanted by mail.target", name)
		}
	}
	f, _ := Unit("mailsync-oneshot.service", o)
	if strings.Contains(string(f.Content), "internet-online") {
		t.Error("--online-target changed the oneshot service")
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
