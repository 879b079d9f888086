package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startDaemon runs `mailsync -c CONFIG --log-level info daemon args...`
// with extra environment variables.
func (e *env) startDaemon(extraEnv []string, args ...string) *proc {
	e.t.Helper()
	all := append([]string{"-c", e.cfg, "--log-level", "info", "daemon"}, args...)
	return startBin(e.t, append(e.binEnv(), extraEnv...), all...)
}

// stopDaemon ends a daemon with SIGUSR2 and checks that it exits 0.
func stopDaemon(t *testing.T, p *proc) result {
	t.Helper()
	p.signal(syscall.SIGUSR2)
	r := p.wait(30 * time.Second)
	if r.code != 0 || r.signal != 0 {
		t.Errorf("daemon after SIGUSR2: want exit 0, got %s", r)
	}
	return r
}

// statusOut is `mailsync status --json`.
type statusOut struct {
	Daemon   bool `json:"daemon"`
	Accounts []struct {
		Name       string     `json:"name"`
		State      *string    `json:"state"`
		Idle       []string   `json:"idle"`
		LastSync   *time.Time `json:"last_sync"`
		LastResult string     `json:"last_result"`
		LastError  *string    `json:"last_error"`
		NextSync   *time.Time `json:"next_sync"`
		Folders    []struct {
			Name     string     `json:"name"`
			LastSync *time.Time `json:"last_sync"`
			Result   string     `json:"result"`
			Stop     string     `json:"stop"`
			Resolve  string     `json:"resolve"`
			Messages int        `json:"messages"`
		} `json:"folders"`
	} `json:"accounts"`
}

// state is the account's state in the status, "" for null.
func (s statusOut) state() string {
	if len(s.Accounts) == 0 || s.Accounts[0].State == nil {
		return ""
	}
	return *s.Accounts[0].State
}

func (e *env) status(t *testing.T) statusOut {
	t.Helper()
	r := e.run("status", "--json")
	if r.code != 0 {
		t.Fatalf("mailsync status --json: %s", r)
	}
	var s statusOut
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("mailsync status --json: %v\n%s", err, r.stdout)
	}
	return s
}

// until polls cond every 20 ms for up to timeout; false if it never held.
func until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// localIDs returns the Message-IDs of a local folder's files, by file path.
func (e *env) localIDs(t *testing.T, folder string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(e.localDir(folder), sub)
		es, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, de := range es {
			// A daemon may rename or remove the file meanwhile.
			p := filepath.Join(dir, de.Name())
			if id, ok := headerID(p); ok {
				out[p] = id
			}
		}
	}
	return out
}

// localFile returns the path of the local file holding id, "" if none.
func (e *env) localFile(t *testing.T, folder, id string) string {
	t.Helper()
	for p, mid := range e.localIDs(t, folder) {
		if mid == msgID(id) {
			return p
		}
	}
	return ""
}

// flagsOf is the Maildir flags of a file name.
func flagsOf(path string) string {
	_, info, ok := strings.Cut(filepath.Base(path), ":2,")
	if !ok {
		return ""
	}
	return info
}

// headerID reads a file's Message-ID; false if the file is gone.
func headerID(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	head, _, _ := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n")
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.TrimSpace(v), true
		}
	}
	return "", true
}

// serverUID is the UID of message id on the server.
func (e *env) serverUID(t *testing.T, mailbox, id string) uint32 {
	t.Helper()
	return netServerUID(t, e, mailbox, msgID(id))
}
