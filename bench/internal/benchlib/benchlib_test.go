package benchlib

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMUTF7RoundTrip(t *testing.T) {
	for name, enc := range map[string]string{
		"INBOX":            "INBOX",
		"日本語":              "&ZeVnLIqe-",
		"Entwürfe":         "Entw&APw-rfe",
		"Reçus":            "Re&AOc-us",
		"Receipts & Bills": "Receipts &- Bills",
	} {
		if got := EncodeMUTF7(name); got != enc {
			t.Errorf("EncodeMUTF7(%q) = %q, want %q", name, got, enc)
		}
		if got, ok := DecodeMUTF7(enc); !ok || got != name {
			t.Errorf("DecodeMUTF7(%q) = %q, %v, want %q", enc, got, ok, name)
		}
	}
	if _, ok := DecodeMUTF7("Entwürfe"); ok {
		t.Error("DecodeMUTF7 accepted raw UTF-8")
	}
}

func TestDovecotDir(t *testing.T) {
	for name, want := range map[string]string{
		"INBOX":           "",
		"Archive/2023":    ".Archive.2023",
		"Listen/Entwürfe": ".Listen.Entw&APw-rfe",
		"a.b/c":           `.a\2eb.c`,
	} {
		if got := DovecotDir(name); got != want {
			t.Errorf("DovecotDir(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	if got := CanonFlags("SxFSa"); got != "FS" {
		t.Errorf("CanonFlags = %q", got)
	}
	if got := IMAPFlagsToLetters([]string{`\Seen`, `\Recent`, "$Forwarded", `\Flagged`}); got != "FS" {
		t.Errorf("IMAPFlagsToLetters = %q", got)
	}
	for in, want := range map[string]string{
		"123.M1P2.host,U=5:2,S":  "123.M1P2.host,U=5:2,FS",
		"123.M1P2.host,U=5":      "123.M1P2.host,U=5:2,F",
		"123.M1P2.host:2,RSa":    "123.M1P2.host:2,FRSa",
		"123.M1P2.host,U=5:2,FS": "123.M1P2.host,U=5:2,FS",
	} {
		if got := WithFlags(in, "F"); got != want {
			t.Errorf("WithFlags(%q) = %q, want %q", in, got, want)
		}
	}
	if got := FileFlags("x,U=1,FMD5=abc:2,SRa"); got != "RS" {
		t.Errorf("FileFlags = %q", got)
	}
}

func TestHeaderMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"From: a\r\nMessage-ID: <x@y>\r\nSubject: s\r\n\r\nbody Message-ID: <no>\r\n": "<x@y>",
		"message-id:\n  <folded@y>\nTo: b\n\nbody\n":                                  "<folded@y>",
		"Subject: s\n\nMessage-ID: <in-body@y>\n":                                     "<none>",
	} {
		got, err := HeaderMessageID(bufio.NewReader(strings.NewReader(in)))
		if err != nil || got != want {
			t.Errorf("HeaderMessageID(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestParsePager(t *testing.T) {
	out := "mailbox: INBOX\nuid: 1\nflags: \\Seen \\Recent\nhdr.message-id: <a@b>\n\f\n" +
		"mailbox: Listen/Entwürfe\nuid: 7\nflags: \nhdr.message-id: \n <c@d>\n\f\n"
	msgs, err := parsePager([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0] != (ServerMsg{"INBOX", 1, "S", "<a@b>"}) || msgs[1] != (ServerMsg{"Listen/Entwürfe", 7, "", "<c@d>"}) {
		t.Errorf("parsePager = %+v", msgs)
	}
}

func TestGenerateDeterministicCRLF(t *testing.T) {
	spec := MsgSpec{Seed: 1, NS: "c", Seq: 42, Folder: Folders[10], Date: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), Size: 6000, Attach: 120000}
	a, mid := Generate(spec)
	b, _ := Generate(spec)
	if !bytes.Equal(a, b) {
		t.Fatal("Generate is not deterministic")
	}
	if bytes.Count(a, []byte("\n")) != bytes.Count(a, []byte("\r\n")) {
		t.Error("message has bare LF")
	}
	if len(a) < 120000 || len(a) > 140000 {
		t.Errorf("size %d", len(a))
	}
	got, err := HeaderMessageID(bufio.NewReader(bytes.NewReader(a)))
	if err != nil || got != mid {
		t.Errorf("Message-ID %q, want %q", got, mid)
	}
}

func TestStateCompareAndFile(t *testing.T) {
	a, b := State{}, State{}
	a.Add("INBOX", "<1>", "S")
	a.Add("INBOX", "<2>", "FS")
	b.Add("INBOX", "<1>", "S")
	b.Add("INBOX", "<2>", "S")
	b.Add("INBOX", "<2>", "S")
	b.Add("Sent", "<3>", "")
	d := Compare(a, b)
	if len(d) != 2 || d[0].MID != "<2>" || d[1].MID != "<3>" || d[1].A != nil {
		t.Errorf("Compare = %v", d)
	}
	p := filepath.Join(t.TempDir(), "s.tsv")
	if err := WriteState(p, b); err != nil {
		t.Fatal(err)
	}
	c, err := ReadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(b, c); len(d) != 0 {
		t.Errorf("round trip: %v", d)
	}
}

func TestScanLocal(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"INBOX", "&ZeVnLIqe-", "Archive", "Archive/2023"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("INBOX/cur/1.a,U=1:2,S", "Message-ID: <1>\n\nx\n")
	write("INBOX/new/2.a", "Message-ID: <2>\n\nx\n")
	write("&ZeVnLIqe-/cur/3.a:2,FS", "Message-ID: <3>\n\nx\n")
	write("Archive/2023/cur/4.a:2,", "Message-ID: <4>\n\nx\n")
	write("INBOX/.mbsyncstate", "state")
	tree, err := ScanLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	want := State{"Archive": {}}
	want.Add("INBOX", "<1>", "S")
	want.Add("INBOX", "<2>", "")
	want.Add("日本語", "<3>", "FS")
	want.Add("Archive/2023", "<4>", "")
	if d := Compare(tree.State(), want); len(d) != 0 || len(tree.Dirs) != 4 {
		t.Errorf("ScanLocal: %v, dirs %v", d, tree.Dirs)
	}
	if len(tree.Encoded) != 1 || tree.Encoded[0] != "&ZeVnLIqe-" {
		t.Errorf("Encoded = %v", tree.Encoded)
	}
}
