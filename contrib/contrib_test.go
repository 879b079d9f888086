package contrib

import (
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestScripts: the shell scripts parse (sh -n) and the launchd agent is
// well-formed XML naming mailsync daemon. Their service managers are not
// on the machines the tests run on; the systemd units are tested under a
// real one (test/systemd_test.go).
func TestScripts(t *testing.T) {
	for _, p := range []string{"openrc/mailsync", "runit/run", "systemd/network/90-mailsync-internet"} {
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", p, err, out)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", p)
		}
	}
	data, err := os.ReadFile("launchd/org.mailsync.daemon.plist")
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the launchd agent is not well-formed: %v", err)
		}
	}
	if !strings.Contains(string(data), "<string>daemon</string>") {
		t.Error("the launchd agent does not run mailsync daemon")
	}
}
