package dovetest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func (s *Server) stop(t TB) {
	if t.Failed() {
		// Dumped before stopping, while the log barrier still works.
		_ = s.logBarrier()
		t.Logf("dovetest: last lines of %s:\n%s", s.LogPath, s.logTail(60))
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	// On its own the master takes over a second to exit: it waits for its
	// log process, which lingers until it gives up on its clients. So we
	// terminate the other processes ourselves and the log process last, and
	// a stop takes milliseconds.
	logPrefix := "dovecot-" + s.instance + "/log"
	termed := map[int]bool{}
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		var others, logs []int
		for _, p := range instanceProcs(s.instance) {
			if strings.HasPrefix(p.title, logPrefix) {
				logs = append(logs, p.pid)
			} else {
				others = append(others, p.pid)
			}
		}
		if len(others) == 0 {
			for _, pid := range logs {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
			break
		}
		for _, pid := range others {
			if !termed[pid] {
				termed[pid] = true
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case <-s.exited:
	case <-time.After(time.Until(deadline)):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if left := killInstance(s.instance); len(left) > 0 {
		t.Errorf("dovetest: dovecot processes still running after stop: %v", left)
	}
}

// killInstance waits for processes of the instance to disappear, SIGKILLing
// stragglers after a grace period. It returns the pids that would not die.
func killInstance(instance string) []int {
	deadline := time.Now().Add(stopTimeout)
	grace := time.Now().Add(3 * time.Second)
	for {
		var pids []int
		for _, p := range instanceProcs(instance) {
			pids = append(pids, p.pid)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return pids
		}
		if time.Now().After(grace) {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type proc struct {
	pid   int
	title string
}

// instanceProcs finds processes by their title "dovecot-<instance>/...".
// The instance name embeds our unique temp dir name, so this never matches
// another test's (or the system's) Dovecot. Zombies have an empty cmdline
// and are ignored: they are already dead. Without /proc (non-Linux) it
// finds nothing, and stopping degrades to waiting for the master.
func instanceProcs(instance string) []proc {
	prefix := []byte("dovecot-" + instance + "/")
	ents, _ := os.ReadDir("/proc")
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.HasPrefix(b, prefix) {
			ps = append(ps, proc{pid: pid, title: string(bytes.TrimRight(b, "\x00"))})
		}
	}
	return ps
}

func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
