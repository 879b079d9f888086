package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"mailsync/internal/mutf7"
)

// The switch from offlineimap or mbsync, end to end, with the real tools
// (Debian's offlineimap3 and isync) against Dovecot: the tool syncs an
// account; flags then change on both sides, as they do while a user
// switches; mailsync takes over the tool's Maildir, with `mailsync
// import` or with a config written by hand. It must fetch no message body
// (Dovecot's body_count), append nothing, merge the flag changes and leave
// both sides agreeing; and the tool must still work afterwards.

// adoptFolders are the server folders of the test, with non-ASCII
// "Entwürfe", which both tools keep on disk in modified UTF-7.
var adoptFolders = []string{"INBOX", "Sent", "Entwürfe"}

func TestAdopt(t *testing.T) {
	for _, tool := range []string{"mbsync", "offlineimap"} {
		for _, how := range []string{"import", "by-hand"} {
			t.Run(tool+"/"+how, func(t *testing.T) {
				t.Parallel()
				testAdopt(t, tool, how)
			})
		}
	}
}

func needTool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s is not installed (Debian: isync, offlineimap3); refusing to skip because CI=true", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func testAdopt(t *testing.T, tool, how string) {
	e := newEnv(t, envOptions{})
	e.seedServer("INBOX", seeds("in", 12, 3000))
	e.srv.Append(t, e.user, "INBOX", []byte("From: a@example.org\r\nSubject: no id\r\n\r\nA message without a Message-ID.\r\n"))
	e.seedServer("Sent", seeds("sent", 4, 2000))
	e.seedServer("Entwürfe", seeds("draft", 3, 1000))

	for _, d := range []string{e.mail, filepath.Join(e.dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rc, toolState := writeToolConfig(t, e, tool)
	runTool := func(stage string) {
		t.Helper()
		cmd := toolCommand(t, tool, rc)
		cmd.Env = append(os.Environ(), "HOME="+filepath.Join(e.dir, "home"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s (%s): %v\n%s", tool, stage, err, out)
		}
	}
	runTool("first sync")
	// The user's client saves a message, and the tool uploads it: mbsync
	// adds an X-TUID line to the copy it sends, not to its file.
	writeFileT(t, filepath.Join(adoptDir(e, "INBOX"), "new", "1763000000.client.host"), string(toLF(makeMsg("client-0001", 1800))))
	runTool("upload")
	serverCount := map[string]int{}
	for _, f := range adoptFolders {
		serverCount[f] = len(e.srv.Messages(t, e.user, f))
		if n := len(adoptLocal(t, e, f)); n != serverCount[f] {
			t.Fatalf("%s left %d files in %s, the server has %d", tool, n, f, serverCount[f])
		}
	}

	// The switch: flags change on both sides behind the tool's back.
	uid := func(id string) uint32 {
		for _, m := range e.srv.Messages(t, e.user, "INBOX") {
			if m.MessageID == msgID(id) {
				return m.UID
			}
		}
		t.Fatalf("no %s on the server", id)
		return 0
	}
	e.srv.AddFlags(t, e.user, "INBOX", uid("in-0001"), `\Flagged`)
	e.srv.RemoveFlags(t, e.user, "INBOX", uid("in-0003"), `\Seen`)
	e.srv.AddFlags(t, e.user, "INBOX", uid("in-0004"), `\Flagged`)
	setLocalFlags(t, e, "INBOX", "in-0002", "R")
	setLocalFlags(t, e, "INBOX", "in-0006", "")
	setLocalFlags(t, e, "INBOX", "in-0004", "S")

	stateBefore := hashTree(t, toolState)
	bodiesBefore := e.srv.BodyFetches(t, e.user)

	// Without the tool's state (offlineimap's lives outside the Maildir,
	// and a config written by hand does not name it), a flag set on
	// either side wins; with it, removals made during the switch stick.
	withBase := how == "import" || tool == "mbsync"
	switch how {
	case "import":
		cfg := filepath.Join(e.dir, "imported.toml")
		r := startBin(t, e.binEnv(), "-c", cfg, "import", tool, "--from", rc, "--write").wait(30e9)
		if r.code != 0 {
			t.Fatalf("mailsync import %s: %s", tool, r)
		}
		e.cfg = cfg
		e.mustSync("sync")
	case "by-hand":
		// A user points mailsync at the tool's Maildir with the plain
		// config of newEnv: the non-ASCII folder stops with advice, and
		// nothing moves for it.
		r := e.run("sync")
		if r.code != 1 || !strings.Contains(r.stderr, `folder_names = "imap-utf7"`) {
			t.Fatalf("first sync by hand: want exit 1 advising folder_names, got %s", r)
		}
		cfg := strings.Replace(string(readFile(t, e.cfg)), "fsync = true", "fsync = true\nfolder_names = \"imap-utf7\"", 1)
		if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		e.mustSync("sync")
	}

	if n := e.srv.BodyFetches(t, e.user) - bodiesBefore; n != 0 {
		t.Errorf("mailsync fetched %d message bodies; want none", n)
	}
	want := map[string]string{ // INBOX, by Message-ID: the merged flags
		"in-0001": "F", "in-0002": "R", "in-0004": "FS",
		"in-0003": "", "in-0006": "",
	}
	if !withBase {
		want["in-0003"], want["in-0006"] = "S", "S"
	}
	for _, f := range adoptFolders {
		srv, loc := adoptServerFlags(t, e, f), adoptLocalFlags(t, e, f)
		if len(srv) != serverCount[f] {
			t.Errorf("%s: the server holds %d messages, had %d: something was appended or lost", f, len(srv), serverCount[f])
		}
		if fmt.Sprint(srv) != fmt.Sprint(loc) {
			t.Errorf("%s: sides differ\nserver: %v\nlocal:  %v", f, srv, loc)
		}
		if f != "INBOX" {
			continue
		}
		for id, fl := range want {
			if got := srv[msgID(id)]; got != fl {
				t.Errorf("INBOX %s: flags %q, want %q", id, got, fl)
			}
		}
	}
	if r := e.mustSync("sync"); !strings.Contains(r.stdout, noopSummary) {
		t.Errorf("the sync after the switch was not a no-op:\n%s", r.stdout)
	}
	if after := hashTree(t, toolState); after != stateBefore {
		t.Errorf("mailsync changed %s's state files", tool)
	}

	// Life goes on under mailsync: mail arrives on the server, also in the
	// folder whose name is modified UTF-7 on disk, and the user's client
	// saves a message in Sent. mailsync names these files.
	e.srv.Append(t, e.user, "INBOX", makeMsg("late-in", 1500))
	e.srv.Append(t, e.user, "Entwürfe", makeMsg("late-draft", 1500))
	writeFileT(t, filepath.Join(adoptDir(e, "Sent"), "new", "1764000000.late.host"), string(toLF(makeMsg("late-sent", 1500))))
	e.mustSync("sync")
	for _, f := range adoptFolders {
		serverCount[f]++
	}

	// The way back. offlineimap knows the files mailsync named: they carry
	// its FMD5 for the folder and the server's UID. mbsync's U= is a UID of
	// its own, recorded in its state, which mailsync never writes; so a file
	// mailsync named has a U= mbsync never assigned (mbsync stops: "UID …
	// is beyond highest assigned UID"). The way back from mbsync is to
	// remove those files, all of them on the server by then, which
	// docs/migrating.md gives as: find ~/Mail -name '*,FMD5=*' -delete.
	if tool == "mbsync" {
		for _, f := range adoptFolders {
			for _, m := range adoptLocal(t, e, f) {
				if m.fmd5 != "" {
					if err := os.Remove(m.path); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// The tool syncs the same Maildir again, and duplicates nothing.
	runTool("switching back")
	for _, f := range adoptFolders {
		if n := len(e.srv.Messages(t, e.user, f)); n != serverCount[f] {
			t.Errorf("after switching back, the server holds %d messages in %s, want %d", n, f, serverCount[f])
		}
		if n := len(adoptLocal(t, e, f)); n != serverCount[f] {
			t.Errorf("after switching back, %s holds %d files, want %d", f, n, serverCount[f])
		}
	}
}

// writeToolConfig writes the tool's config for the test's account and
// Maildir root, as a user of the tool would have it, and returns its path
// and where the tool keeps its state.
func writeToolConfig(t *testing.T, e *env, tool string) (rc, state string) {
	t.Helper()
	pass := e.srv.Password(e.user)
	switch tool {
	case "mbsync":
		rc = filepath.Join(e.dir, "mbsyncrc")
		state = e.mail // SyncState *: in each folder
		writeFileT(t, rc, fmt.Sprintf(`IMAPAccount acct
Host 127.0.0.1
Port %d
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore acct-remote
Account acct

MaildirStore acct-local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel acct
Far :acct-remote:
Near :acct-local:
Patterns *
Create Both
Expunge Both
Sync All
SyncState *
`, e.srv.Port, e.user, pass, e.mail, e.mail))
	case "offlineimap":
		rc = filepath.Join(e.dir, "offlineimaprc")
		state = filepath.Join(e.dir, "offlineimap")
		writeFileT(t, rc, fmt.Sprintf(`[general]
accounts = acct
metadata = %s

[Account acct]
localrepository = acct-local
remoterepository = acct-remote

[Repository acct-local]
type = Maildir
localfolders = %s

[Repository acct-remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
`, state, e.mail, e.srv.Port, e.user, pass))
	}
	return rc, state
}

func toolCommand(t *testing.T, tool, rc string) *exec.Cmd {
	switch tool {
	case "mbsync":
		return exec.Command(needTool(t, "mbsync"), "-q", "-c", rc, "-a")
	default:
		return exec.Command(needTool(t, "offlineimap"), "-c", rc, "-u", "quiet")
	}
}

func writeFileT(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// adoptDir is a folder's directory as both tools name it: modified UTF-7.
func adoptDir(e *env, folder string) string { return filepath.Join(e.mail, mutf7.Encode(folder)) }

func adoptLocal(t *testing.T, e *env, folder string) []localMsg {
	t.Helper()
	var out []localMsg
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(adoptDir(e, folder), sub)
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			m := parseLocalName(de.Name())
			m.sub, m.path = sub, filepath.Join(dir, de.Name())
			m.messageID = fileMessageID(t, m.path)
			out = append(out, m)
		}
	}
	return out
}

// setLocalFlags renames a message's file as a mail client would.
func setLocalFlags(t *testing.T, e *env, folder, id, flags string) {
	t.Helper()
	for _, m := range adoptLocal(t, e, folder) {
		if m.messageID != msgID(id) {
			continue
		}
		base, _, _ := strings.Cut(m.file, ":2,")
		to := filepath.Join(adoptDir(e, folder), "cur", base+":2,"+flags)
		if err := os.Rename(m.path, to); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no local file of %s in %s", id, folder)
}

// adoptServerFlags and adoptLocalFlags map each message (by Message-ID,
// or "(none)#N" for those without) to its flags; a duplicate shows as a
// second key.
func adoptServerFlags(t *testing.T, e *env, folder string) map[string]string {
	out := map[string]string{}
	for _, m := range e.srv.Messages(t, e.user, folder) {
		addUnique(out, m.MessageID, serverLetters(m.Flags))
	}
	return out
}

func adoptLocalFlags(t *testing.T, e *env, folder string) map[string]string {
	out := map[string]string{}
	for _, m := range adoptLocal(t, e, folder) {
		addUnique(out, m.messageID, m.flags)
	}
	return out
}

func addUnique(m map[string]string, id, flags string) {
	if id == "" {
		id = "(none)"
	}
	k := id
	for n := 2; ; n++ {
		if _, dup := m[k]; !dup {
			break
		}
		k = id + "#" + strconv.Itoa(n)
	}
	m[k] = flags
}

// hashTree sums the tool's state files (offlineimap's metadata directory,
// or mbsync's .mbsyncstate and .uidvalidity files).
func hashTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch filepath.Base(filepath.Dir(rel)) {
		case "cur", "new", "tmp":
			return nil // messages, not state
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		lines = append(lines, p+" "+hex.EncodeToString(sum[:]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		t.Fatalf("no state files under %s", root)
	}
	return strings.Join(lines, "\n")
}
