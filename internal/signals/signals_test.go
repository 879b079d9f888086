package signals

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// helperEnv makes the test binary act as a process that handles its
// signals (see TestMain) instead of running the tests.
const helperEnv = "MAILSYNC_SIGNALS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helper(mode)
		return
	}
	os.Exit(m.Run())
}

// helper prints a line for each control it sees. After SIGTERM it stops
// at once ("quick") or hangs ("hang") before calling Done.
func helper(mode string) {
	s := Handle(zerolog.Nop())
	fmt.Println("ready")
	for {
		select {
		case <-s.SyncNow:
			fmt.Println("sync-now")
		case <-s.Reload:
			fmt.Println("reload")
		case <-s.Finish:
			fmt.Println("finish")
			s.Done()
			os.Exit(0)
		case <-s.Ctx.Done():
			fmt.Println("stop")
			if mode == "hang" {
				select {}
			}
			s.Done()
			os.Exit(0) // not reached: Done dies by the signal
		}
	}
}

type helperProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

func startHelper(t *testing.T, mode string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-h.done })
	h.expect(t, "ready")
	return h
}

func (h *helperProc) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-h.lines:
		if got != want {
			t.Fatalf("helper said %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("helper did not say %q", want)
	}
}

// ended waits for the helper to end and returns how.
func (h *helperProc) ended(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(within):
		t.Fatalf("the helper did not end within %v", within)
	}
	ws := h.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

func (h *helperProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func TestSignals(t *testing.T) {
	t.Run("USR1, HUP, then USR2", func(t *testing.T) {
		h := startHelper(t, "quick")
		h.signal(t, syscall.SIGUSR1)
		h.expect(t, "sync-now")
		h.signal(t, syscall.SIGHUP)
		h.expect(t, "reload")
		h.signal(t, syscall.SIGUSR2)
		h.expect(t, "finish")
		if how := h.ended(t, 10*time.Second); how != "exit 0" {
			t.Errorf("after SIGUSR2: %s, want exit 0", how)
		}
	})
	t.Run("ABRT is finish", func(t *testing.T) {
		h := startHelper(t, "quick")
		h.signal(t, syscall.SIGABRT)
		h.expect(t, "finish")
		if how := h.ended(t, 10*time.Second); how != "exit 0" {
			t.Errorf("after SIGABRT: %s, want exit 0", how)
		}
	})
	t.Run("TERM dies by the signal", func(t *testing.T) {
		h := startHelper(t, "quick")
		h.signal(t, syscall.SIGTERM)
		h.expect(t, "stop")
		if how := h.ended(t, 10*time.Second); how != "killed by terminated" {
			t.Errorf("after SIGTERM: %s, want death by it", how)
		}
	})
	t.Run("a second signal exits at once", func(t *testing.T) {
		h := startHelper(t, "hang")
		h.signal(t, syscall.SIGINT)
		h.expect(t, "stop")
		start := time.Now()
		h.signal(t, syscall.SIGTERM)
		how := h.ended(t, 10*time.Second)
		if how != "exit 143" || time.Since(start) > 2*time.Second {
			t.Errorf("after a second signal: %s in %v, want exit 143 at once", how, time.Since(start))
		}
	})
	t.Run("the grace period ends a stop that hangs", func(t *testing.T) {
		h := startHelper(t, "hang")
		start := time.Now()
		h.signal(t, syscall.SIGTERM)
		h.expect(t, "stop")
		how := h.ended(t, Grace+5*time.Second)
		took := time.Since(start)
		if how != "exit 143" || took < Grace-time.Second {
			t.Errorf("a hung stop: %s after %v, want exit 143 after the %v grace period", how, took, Grace)
		}
	})
}
