package accounts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// hookEnv reads the MAILSYNC_ variables a hook wrote with `env`.
func hookEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	out := map[string]string{}
	// MAILSYNC_FOLDERS holds newlines: the file is NUL-separated (env -0).
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MAILSYNC_") {
			out[k] = v
		}
	}
	return out
}

func TestHooks(t *testing.T) {
	dump := func(dir, name string) string {
		return fmt.Sprintf("env -0 > %q", filepath.Join(dir, name))
	}
	t.Run("environment", func(t *testing.T) {
		hooks := t.TempDir()
		w := newWorld(t, "hooks", fmt.Sprintf("presync_hook = %q\npostsync_hook = %q\nnewmail_hook = %q\n",
			dump(hooks, "pre"), dump(hooks, "post"), dump(hooks, "new")))
		w.add(t, "INBOX", 2)
		w.add(t, "Work", 1)
		r := w.open(t).Sync(context.Background(), Cycle{Mode: ModeFull})
		if r.Failed() || r.Summary.Counts.Pulled != 3 {
			t.Fatalf("cycle: %+v %v", r, r.Errors())
		}
		pre, post, nw := hookEnv(t, filepath.Join(hooks, "pre")), hookEnv(t, filepath.Join(hooks, "post")), hookEnv(t, filepath.Join(hooks, "new"))
		want := map[string]string{"MAILSYNC_ACCOUNT": "t", "MAILSYNC_MODE": "full"}
		for k, v := range want {
			if pre[k] != v || post[k] != v || nw[k] != v {
				t.Errorf("%s: presync %q, postsync %q, newmail %q; want %q", k, pre[k], post[k], nw[k], v)
			}
		}
		if _, ok := pre["MAILSYNC_RESULT"]; ok {
			t.Errorf("presync got MAILSYNC_RESULT")
		}
		if post["MAILSYNC_RESULT"] != "ok" {
			t.Errorf("postsync MAILSYNC_RESULT = %q, want ok", post["MAILSYNC_RESULT"])
		}
		folders := strings.Split(nw["MAILSYNC_FOLDERS"], "\n")
		sort.Strings(folders)
		if nw["MAILSYNC_NEW"] != "3" || strings.Join(folders, ",") != "INBOX,Work" {
			t.Errorf("newmail: MAILSYNC_NEW %q, MAILSYNC_FOLDERS %q; want 3 and INBOX, Work", nw["MAILSYNC_NEW"], nw["MAILSYNC_FOLDERS"])
		}

		// Nothing new: no newmail_hook; the mode is the cycle's.
		os.Remove(filepath.Join(hooks, "new"))
		r = w.open(t).Sync(context.Background(), Cycle{Mode: ModeIdle})
		if r.Failed() {
			t.Fatal(r.Errors())
		}
		if _, err := os.Stat(filepath.Join(hooks, "new")); err == nil {
			t.Error("newmail_hook ran for a sync that pulled nothing")
		}
		if m := hookEnv(t, filepath.Join(hooks, "post"))["MAILSYNC_MODE"]; m != "idle" {
			t.Errorf("MAILSYNC_MODE = %q, want idle", m)
		}
	})

	t.Run("presync fails", func(t *testing.T) {
		hooks := t.TempDir()
		w := newWorld(t, "presync", fmt.Sprintf("presync_hook = \"echo offline; exit 3\"\npostsync_hook = %q\n", dump(hooks, "post")))
		w.add(t, "INBOX", 1)
		r := w.open(t).Sync(context.Background(), Cycle{Mode: ModeQuick})
		if !r.Skipped || !r.Failed() || r.Err == nil ||
			!strings.Contains(r.Err.Error(), "presync_hook exited with status 3") || !strings.Contains(r.Err.Error(), "offline") {
			t.Errorf("want a skipped cycle whose error gives the status and output; got skipped %v, %v", r.Skipped, r.Err)
		}
		if n := w.local(t, "INBOX"); n != 0 {
			t.Errorf("the skipped sync pulled %d messages", n)
		}
		if got := hookEnv(t, filepath.Join(hooks, "post"))["MAILSYNC_RESULT"]; got != "error" {
			t.Errorf("postsync after a skipped sync: MAILSYNC_RESULT = %q, want error", got)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		hooks := t.TempDir()
		// The hook's background child holds its output open too: the
		// whole process group must go.
		w := newWorld(t, "timeout", fmt.Sprintf("hook_timeout = \"1s\"\npostsync_hook = \"sleep 30 & sleep 30\"\nnewmail_hook = %q\n", dump(hooks, "new")))
		w.add(t, "INBOX", 1)
		a := w.open(t)
		start := time.Now()
		err := a.runHook(context.Background(), hookPostsync, ModeFull, nil)
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "postsync_hook timed out after 1s") {
			t.Errorf("want a timeout error, got %v", err)
		}
		if took > 1*time.Second+hookWaitDelay+time.Second {
			t.Errorf("the hook held the cycle for %v; its timeout is 1s", took)
		}
		// A failing postsync_hook does not fail the sync.
		r := a.Sync(context.Background(), Cycle{Mode: ModeFull})
		if r.Failed() || r.Summary.Counts.Pulled != 1 {
			t.Errorf("cycle with a timing-out postsync_hook: %v %+v", r.Errors(), r.Summary)
		}
	})
}
