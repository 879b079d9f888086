package remote

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsync/internal/dovetest"
)

// TestListStatusWithKnownFolders runs List against Dovecot with and without
// the names from a previous sync, one of which is gone: every selectable
// folder gets its status either way, the gone one is no error, and the
// connection is in step afterwards (the stray STATUS answer was read).
func TestListStatusWithKnownFolders(t *testing.T) {
	srv := dovetest.Start(t, dovetest.Options{Users: []string{"ls"}})
	msg := func(i int) []byte {
		return []byte("Message-ID: <ls" + strconv.Itoa(i) + "@test>\r\nSubject: x\r\n\r\nbody\r\n")
	}
	srv.Append(t, "ls", "INBOX", msg(1))
	srv.Append(t, "ls", "INBOX", msg(2))
	srv.Append(t, "ls", "Work.Alpha", msg(3))
	for _, known := range [][]string{nil, {"INBOX", "Gone", "Work.Alpha"}, {"Gone"}} {
		t.Run(strings.Join(known, ","), func(t *testing.T) {
			ctx := context.Background()
			c, err := Dial(ctx, Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: "ls",
				Password: func(context.Context) (string, error) { return srv.Password("ls"), nil }, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			boxes, err := c.List(ctx, known)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]uint32{"INBOX": 2, "Work.Alpha": 1}
			for _, b := range boxes {
				n, ok := want[b.Name]
				if !ok {
					continue
				}
				delete(want, b.Name)
				if b.Status == nil || b.Status.Messages != n || b.Status.UIDNext != n+1 || b.Status.UIDValidity == 0 {
					t.Errorf("%s: status %+v, want %d messages", b.Name, b.Status, n)
				}
			}
			if len(want) > 0 {
				t.Errorf("not listed: %v (got %+v)", want, boxes)
			}
			if st, err := c.Select(ctx, "INBOX", true); err != nil || st.Messages != 2 {
				t.Fatalf("SELECT after List: %+v %v", st, err)
			}
		})
	}
}
