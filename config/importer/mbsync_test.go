package importer

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMbArgs(t *testing.T) {
	for line, want := range map[string][]string{
		`Host imap.example.org`:                 {"Host", "imap.example.org"},
		`  PassCmd "pass show mail/work"  `:     {"PassCmd", "pass show mail/work"},
		`PassCmd +"gpg -qd ~/x.gpg"`:            {"PassCmd", "+gpg -qd ~/x.gpg"},
		`Patterns * !Junk "!Sent Items" a"b c"`: {"Patterns", "*", "!Junk", "!Sent Items", "ab c"},
		`Pass a\"b\\c`:                          {"Pass", `a"b\c`},
		`Pass abc#def # a comment`:              {"Pass", "abc#def"},
		`# a comment`:                           nil,
		`   `:                                   nil,
		"Host\tx\r":                             {"Host", "x"},
	} {
		got, msg := mbArgs(line)
		if msg != "" || !reflect.DeepEqual(got, want) {
			t.Errorf("mbArgs(%q) = %q, %q; want %q", line, got, msg, want)
		}
	}
	for line, want := range map[string]string{`Pass "abc`: "quote", `Pass abc\`: "escape"} {
		if _, msg := mbArgs(line); !strings.Contains(msg, want) {
			t.Errorf("mbArgs(%q): %q, want an error about %s", line, msg, want)
		}
	}
}

func TestParseMbsync(t *testing.T) {
	src := "FSync no\n" +
		"IMAPStore a\n" +
		"Host h\n" +
		"# a comment does not end the section\n" +
		"User u\n" +
		"\n" +
		"Expunge Both\n" +
		"Channel c\n" +
		"Far :a:\n" +
		"  \n" +
		"Group g c\n" +
		"Channels c\n"
	c, err := parseMbsync("rc", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.globals) != 2 || c.globals[0].key() != "fsync" || c.globals[1].key() != "expunge" || c.globals[1].line != 7 {
		t.Errorf("globals %+v", c.globals)
	}
	var got []string
	for _, s := range c.sections {
		got = append(got, s.kind+" "+s.name+" "+strings.Repeat("+", len(s.items)))
	}
	if want := []string{"imapstore a ++", "channel c +", "group g +"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sections %q, want %q", got, want)
	}
	if _, err := parseMbsync("rc", []byte("IMAPStore a\nPass \"x\n")); err == nil || !strings.Contains(err.Error(), "rc:2:") {
		t.Errorf("broken quote: %v", err)
	}
}

func TestSyncOps(t *testing.T) {
	all := opTypes
	tests := []struct {
		args      string
		near, far int
		ok        bool
	}{
		{"All", all, all, true},
		{"Full", all, all, true},
		{"Pull", all, 0, true},
		{"Push", 0, all, true},
		{"Pull Push", all, all, true},
		{"New", opNew, opNew, true},
		{"Pull New Flags", opNew | opFlags, 0, true},
		{"New Delete", opNew | opDelete, opNew | opDelete, true},
		{"PullNew Push", opNew, all, true},
		{"PullNew PullFlags PushNew", opNew | opFlags, opNew, true},
		{"PullNew Flags", opNew | opFlags, opFlags, true},
		{"None", 0, 0, true},
		{"PullNew Pull", 0, 0, false},
		{"PullNew New", 0, 0, false},
		{"None Pull", 0, 0, false},
		{"Sideways", 0, 0, false},
	}
	for _, tc := range tests {
		m := &mbimp{t: &translation{file: "rc"}}
		near, far, ok := m.syncOps(nil, mbLine{line: 1, cmd: "Sync", args: strings.Fields(tc.args)})
		if ok != tc.ok || ok && (near != tc.near || far != tc.far) {
			t.Errorf("Sync %s = near %04b, far %04b, %v; want %04b, %04b, %v", tc.args, near, far, ok, tc.near, tc.far, tc.ok)
		}
		if !ok && len(m.t.problems) == 0 {
			t.Errorf("Sync %s: refused without a problem", tc.args)
		}
	}
}

func TestMbSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "100": 100, "200k": 200 << 10, "10M": 10 << 20, "1mb": 1 << 20, "5kB": 5 << 10, "7b": 7} {
		if got, ok := mbSize(in); !ok || got != want {
			t.Errorf("mbSize(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "k", "1g", "10 M", "-1", "1kk"} {
		if got, ok := mbSize(in); ok {
			t.Errorf("mbSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestDurString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 150 * time.Second: "2m30s", 90 * time.Minute: "1h30m", time.Second: "1s",
		195 * time.Second: "3m15s", 1500 * time.Millisecond: "1s500ms", 0: "0s", 25 * time.Hour: "25h",
	} {
		if got := durString(d); got != want {
			t.Errorf("durString(%v) = %q, want %q", d, got, want)
		}
		if d > 0 {
			if back, err := time.ParseDuration(durString(d)); err != nil || back != d {
				t.Errorf("%q reads back as %v, %v", durString(d), back, err)
			}
		}
	}
}

func TestAccountName(t *testing.T) {
	taken := map[string]bool{}
	for in, want := range map[string]string{"work": "work", "my mail": "my-mail", "Ünï": "n-", ".hidden": "hidden", "***": "account"} {
		got, note := accountName(in, taken)
		if got != want || (got != in) != (note != "") {
			t.Errorf("accountName(%q) = %q, %q; want %q", in, got, note, want)
		}
	}
	if got, _ := accountName("Work", taken); got != "Work-2" {
		t.Errorf("a name taken in another case: %q, want Work-2", got)
	}
}

// An Inbox inside Path is found there however the two are spelt: Path is
// written as ~/… in the TOML, and an absolute Inbox under $HOME must
// compare with it.
func TestMbsyncInboxUnderHome(t *testing.T) {
	const rc = `IMAPAccount a
Host imap.example.org
User u
PassCmd "pass mail"
TLSType IMAPS

IMAPStore a-remote
Account a

MaildirStore a-local
Path /home/u/Mail/a/
Inbox /home/u/Mail/a/INBOX
SubFolders Verbatim

Channel a
Far :a-remote:
Near :a-local:
Patterns *
Create Both
Expunge Both
`
	for _, inbox := range []string{"/home/u/Mail/a/INBOX", "~/Mail/a/INBOX"} {
		env := func(k string) string {
			if k == "HOME" {
				return "/home/u"
			}
			return ""
		}
		res, err := Mbsync("rc", []byte(strings.Replace(rc, "/home/u/Mail/a/INBOX", inbox, 1)), Options{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 0 {
			t.Errorf("Inbox %s: %v", inbox, res.Problems)
		}
	}
}
