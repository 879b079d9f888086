// Command daemon measures `mailsync daemon` against a throwaway Dovecot:
//
//	go run ./bench/daemon cost    [--accounts 5] [--folders 3] [--duration 10m]
//	go run ./bench/daemon latency [--messages 50]
//
// cost runs a daemon over ACCOUNTS accounts, each holding IDLE on FOLDERS
// folders with autorefresh = "5m", and reports, over DURATION after the
// first syncs have settled, the daemon's CPU time (utime + stime from
// /proc) per hour and per account, and its resident memory (VmRSS at the
// end, VmHWM the peak).
//
// latency runs a daemon over one account with INBOX in idle_folders and
// saves MESSAGES messages, one at a time, with `doveadm save`. For each it
// measures, from the moment doveadm returned: when a plain IMAP client
// idling on INBOX beside the daemon hears of the message (the server's
// share: Dovecot's IDLE notification), and when the file appears in new/
// (inotify). It prints the median and 95th percentile of both and of the
// difference (mailsync's share).
//
// Run as root, with dovecot-imapd installed; --mailsync names the binary
// (default: built from this checkout with CGO_ENABLED=0).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/fsnotify/fsnotify"

	"mailsync/internal/dovetest"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "cost" && os.Args[1] != "latency") {
		fmt.Fprintln(os.Stderr, "usage: daemon cost|latency [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	bin := fs.String("mailsync", "", "the mailsync binary (default: build this checkout)")
	accounts := fs.Int("accounts", 5, "cost: accounts")
	folders := fs.Int("folders", 3, "cost: IDLE folders per account")
	perFolder := fs.Int("per-folder", 200, "cost: messages in each folder")
	duration := fs.Duration("duration", 10*time.Minute, "cost: how long to measure")
	messages := fs.Int("messages", 50, "latency: messages to time")
	_ = fs.Parse(os.Args[2:])

	h := &harness{}
	defer h.cleanup()
	if err := h.run(func() error {
		if *bin == "" {
			b, err := build(h.tempDir())
			if err != nil {
				return err
			}
			*bin = b
		}
		if mode == "cost" {
			return cost(h, *bin, *accounts, *folders, *perFolder, *duration)
		}
		return latency(h, *bin, *messages)
	}); err != nil {
		fmt.Fprintln(os.Stderr, "daemon bench:", err)
		os.Exit(1)
	}
}

// harness is the dovetest.TB of a program: a failure ends the run.
type harness struct {
	cleanups []func()
	failed   bool
	dirs     []string
}

type fatal struct{ msg string }

func (h *harness) Helper()           {}
func (h *harness) Fatal(args ...any) { h.failed = true; panic(fatal{fmt.Sprint(args...)}) }
func (h *harness) Fatalf(f string, args ...any) {
	h.failed = true
	panic(fatal{fmt.Sprintf(f, args...)})
}
func (h *harness) Errorf(f string, args ...any) {
	h.failed = true
	fmt.Fprintf(os.Stderr, f+"\n", args...)
}
func (h *harness) Skip(args ...any)           { h.Fatal(args...) }
func (h *harness) Logf(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...) }
func (h *harness) Cleanup(f func())           { h.cleanups = append(h.cleanups, f) }
func (h *harness) Failed() bool               { return h.failed }
func (h *harness) tempDir() string {
	d, _ := os.MkdirTemp("", "msd-")
	h.dirs = append(h.dirs, d)
	return d
}
func (h *harness) run(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = errors.New(f.msg)
		}
	}()
	return f()
}

func (h *harness) cleanup() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	for _, d := range h.dirs {
		os.RemoveAll(d)
	}
}

func build(dir string) (string, error) {
	out := filepath.Join(dir, "mailsync")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/mailsync")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return out, cmd.Run()
}

// message is a small test message.
func message(id string) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\nMessage-ID: <%s@bench>\r\n\r\n%s\r\n",
		id, id, strings.Repeat("body of "+id+" ", 40)))
}

// account is one account's config table.
func account(name string, srv *dovetest.Server, user, mail string, extra string) string {
	return fmt.Sprintf(`
[accounts.%s]
autorefresh = "5m"
%s
[accounts.%s.remote]
host = %q
port = %d
tls = "none"
allow_plaintext = true
user = %q
password = %q
[accounts.%s.local]
path = %q
`, name, extra, name, srv.Host, srv.Port, user, srv.Password(user), name, mail)
}

// daemon starts `mailsync -c CFG daemon` and waits until every account
// is idle.
func daemon(h *harness, bin, cfg string, accounts int) *exec.Cmd {
	cmd := exec.Command(bin, "-c", cfg, "daemon")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		h.Fatal(err)
	}
	h.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, _ := exec.Command(bin, "-c", cfg, "status", "--json").Output()
		var st struct {
			Accounts []struct {
				State *string  `json:"state"`
				Idle  []string `json:"idle"`
			} `json:"accounts"`
		}
		if json.Unmarshal(out, &st) == nil && len(st.Accounts) == accounts {
			idle := 0
			for _, a := range st.Accounts {
				if a.State != nil && *a.State == "idle" {
					idle++
				}
			}
			if idle == accounts {
				return cmd
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.Fatalf("the daemon's accounts did not all go idle within 2 minutes")
	return nil
}

// procStat returns a process's CPU time (utime + stime).
func procStat(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// procMem returns VmRSS and VmHWM in KB.
func procMem(pid int) (rss, hwm int64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(l, ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

func cost(h *harness, bin string, accounts, folders, perFolder int, duration time.Duration) error {
	users := make([]string, accounts)
	for i := range users {
		users[i] = fmt.Sprintf("bench%d", i)
	}
	srv := dovetest.Start(h, dovetest.Options{Users: users})
	names := []string{"INBOX", "Lists", "Work", "Archive", "Sent", "Drafts"}[:folders]
	for _, u := range users {
		for _, f := range names {
			for i := 0; i < perFolder; i++ {
				srv.Append(h, u, f, message(fmt.Sprintf("%s-%s-%d", u, f, i)))
			}
		}
	}
	dir := h.tempDir()
	cfg := fmt.Sprintf("[general]\nstate_dir = %q\nmax_sync_accounts = 2\n", filepath.Join(dir, "state"))
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	for i, u := range users {
		cfg += account(fmt.Sprintf("a%d", i), srv, u, filepath.Join(dir, "mail", u), "idle_folders = ["+strings.Join(quoted, ", ")+"]")
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := daemon(h, bin, path, accounts)
	pid := cmd.Process.Pid
	time.Sleep(5 * time.Second) // let the first syncs' garbage settle
	cpu0, err := procStat(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "measuring for %v: %d accounts × %d IDLE folders, %d messages each\n", duration, accounts, folders, perFolder)
	time.Sleep(duration)
	cpu1, err := procStat(pid)
	if err != nil {
		return fmt.Errorf("the daemon died: %w", err)
	}
	took := time.Since(start)
	rss, hwm := procMem(pid)
	used := cpu1 - cpu0
	perHour := used.Seconds() * float64(time.Hour) / float64(took)
	fmt.Printf("daemon idle cost over %v: %.2f s CPU (%.2f s/hour, %.3f s/hour per account); RSS %.1f MB, peak %.1f MB\n",
		took.Round(time.Second), used.Seconds(), perHour, perHour/float64(accounts), float64(rss)/1024, float64(hwm)/1024)
	return nil
}

func latency(h *harness, bin string, messages int) error {
	user := "lat"
	srv := dovetest.Start(h, dovetest.Options{Users: []string{user}})
	srv.Append(h, user, "INBOX", message("seed"))
	dir := h.tempDir()
	mail := filepath.Join(dir, "mail")
	cfg := fmt.Sprintf("[general]\nstate_dir = %q\n", filepath.Join(dir, "state")) +
		account("a", srv, user, mail, `idle_folders = ["INBOX"]`)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	daemon(h, bin, path, 1)

	// The server's share: a client of our own, idling beside the daemon.
	heard := make(chan time.Time, 16)
	c, err := imapclient.DialInsecure(srv.Addr(), &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				heard <- time.Now()
			}
		},
	}})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(user, srv.Password(user)).Wait(); err != nil {
		return err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return err
	}
	idle, err := c.Idle()
	if err != nil {
		return err
	}
	defer idle.Close()

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Join(mail, "INBOX", "new")); err != nil {
		return err
	}
	var server, total, ours, saving []time.Duration
	for i := 0; i < messages; i++ {
		// The daemon is back in IDLE, and Dovecot has no notification pending
		// for either session (its 500 ms delay, see docs/benchmarks.md).
		time.Sleep(1500 * time.Millisecond)
		drain(heard)
		drainEvents(w)
		// doveadm save alone: dovetest's Append asks for the UID after.
		save := exec.Command("doveadm", "-c", srv.ConfigPath, "save", "-u", user, "-m", "INBOX")
		save.Stdin = strings.NewReader(string(message(fmt.Sprintf("lat-%d", i))))
		began := time.Now()
		if out, err := save.CombinedOutput(); err != nil {
			return fmt.Errorf("doveadm save: %v: %s", err, out)
		}
		saved := time.Now()
		saving = append(saving, saved.Sub(began))
		var tHeard, tFile time.Time
		timeout := time.After(10 * time.Second)
		for tHeard.IsZero() || tFile.IsZero() {
			select {
			case t := <-heard:
				if tHeard.IsZero() {
					tHeard = t
				}
			case ev := <-w.Events:
				if ev.Op&fsnotify.Create != 0 && tFile.IsZero() {
					tFile = time.Now()
				}
			case <-timeout:
				return fmt.Errorf("message %d: not delivered within 10 s", i)
			}
		}
		server = append(server, tHeard.Sub(saved))
		total = append(total, tFile.Sub(saved))
		ours = append(ours, tFile.Sub(tHeard))
	}
	pr := func(what string, ds []time.Duration) {
		slices.Sort(ds)
		p := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
		fmt.Printf("%-48s median %4d ms   p95 %4d ms   max %4d ms\n", what, p(0.5).Milliseconds(), p(0.95).Milliseconds(), ds[len(ds)-1].Milliseconds())
	}
	fmt.Printf("IDLE latency over %d messages, from doveadm save returning:\n", messages)
	pr("doveadm save itself (for scale)", saving)
	pr("to the file in new/ (total)", total)
	pr("to an idling client hearing EXISTS (server)", server)
	pr("from EXISTS to the file in new/ (mailsync)", ours)
	return nil
}

func drain(ch chan time.Time) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func drainEvents(w *fsnotify.Watcher) {
	for {
		select {
		case <-w.Events:
		default:
			return
		}
	}
}
