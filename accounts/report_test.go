package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"mailsync/internal/control"
	msync "mailsync/sync"
)

// TestReportShape: Report logs a failure in one shape, whether this process
// synced or a daemon did: the message says what happened, the account and
// folder are fields (each once), the cause is the error field without the
// account/folder prefix. The summary line goes to w as it is.
func TestReportShape(t *testing.T) {
	folderErr := &msync.FolderError{Account: "alice", Folder: "Lists/go", Err: errors.New("SELECT: NO no such folder")}
	acctErr := &msync.AccountError{Account: "alice", Err: errors.New("dial tcp: connection refused")}
	tests := []struct {
		name string
		r    Result
		want []map[string]string
	}{
		{"account failure", Result{Account: "alice", Err: acctErr},
			[]map[string]string{{"level": "error", "message": "account sync failed", "account": "alice", "error": "dial tcp: connection refused"}}},
		{"forwarded", Result{Account: "alice", Forwarded: &control.Result{
			Account: "alice", Summary: "alice: pulled 0", Failed: true,
			Error: acctErr.Error(), FolderErrors: []string{folderErr.Error()},
		}}, []map[string]string{
			{"level": "error", "message": "folder sync failed", "account": "alice", "folder": "Lists/go", "error": "SELECT: NO no such folder"},
			{"level": "error", "message": "account sync failed", "account": "alice", "error": "dial tcp: connection refused"},
		}},
	}
	for _, tt := range tests {
		var logBuf, out bytes.Buffer
		Report(zerolog.New(&logBuf), &out, tt.r)
		var got []map[string]string
		for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
			if strings.Count(line, `"account"`) != 1 {
				t.Errorf("%s: want the account field once: %s", tt.name, line)
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: %v: %s", tt.name, err, line)
			}
			got = append(got, m)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s: logged %v, want %v", tt.name, got, tt.want)
		}
		for i := range got {
			if len(got[i]) != len(tt.want[i]) {
				t.Errorf("%s: line %d is %v, want %v", tt.name, i, got[i], tt.want[i])
				continue
			}
			for k, v := range tt.want[i] {
				if got[i][k] != v {
					t.Errorf("%s: line %d: %s = %q, want %q", tt.name, i, k, got[i][k], v)
				}
			}
		}
		if tt.r.Forwarded != nil && out.String() != "alice: pulled 0\n" {
			t.Errorf("%s: summary %q, want it as the daemon gave it", tt.name, out.String())
		}
	}
}
