package lock

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.lock")
	l, err := TryAcquire(p)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second open in the
	// same process conflicts just as another process would.
	// The error names the holder: this process, from the pid in the file.
	_, err = TryAcquire(p)
	if want := fmt.Sprintf("(pid %d: %s", os.Getpid(), filepath.Base(os.Args[0])); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second TryAcquire: got %v, want ErrHeld naming %q", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryAcquire(p)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestHeldByOtherProcess(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	p := filepath.Join(t.TempDir(), "a.lock")
	cmd := exec.Command("flock", p, "sh", "-c", "echo locked; read x")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "locked") {
		t.Fatalf("helper didn't lock: %q %v", buf, err)
	}
	if _, err := TryAcquire(p); !errors.Is(err, ErrHeld) {
		t.Errorf("got %v, want ErrHeld while another process holds it", err)
	}
	stdin.Close()
	cmd.Wait()
	l, err := TryAcquire(p)
	if err != nil {
		t.Fatalf("after the other process exited: %v", err)
	}
	l.Release()
	_ = os.Remove(p)
}

// TestReleasedWhileWaiting: a lock let go within a few milliseconds (as
// when the holder was one of our own children between fork and exec) is
// taken, not reported as held by another mailsync.
func TestReleasedWhileWaiting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.lock")
	l, err := TryAcquire(p)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		l.Release()
	}()
	l2, err := TryAcquire(p)
	if err != nil {
		t.Fatalf("lock released 5 ms later: %v", err)
	}
	l2.Release()
}
