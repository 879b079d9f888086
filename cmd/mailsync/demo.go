package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"mailsync/accounts"
	"mailsync/config"
	"mailsync/internal/maildir"
	"mailsync/internal/memserver"
	"mailsync/internal/signals"
	msync "mailsync/sync"
)

func newDemoCmd(r *rootCmd) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sync against a built-in in-memory IMAP server (no account needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "mailsync-demo-")
				if err != nil {
					return &exitError{exitFailed, err}
				}
				dir = d
			}
			sig := signals.Handle(r.log)
			defer sig.Done()
			if err := runDemo(sig.Ctx, r.stdout, dir, r.log); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the Maildir and state (default: a new temp dir)")
	return cmd
}

const (
	demoUser     = "demo"
	demoPassword = "demo-password"
)

type seedFolder struct {
	name  string
	count int
}

// seedFolders is the demo tree: nested and non-ASCII names on purpose.
func seedFolders() []seedFolder {
	return []seedFolder{
		{"INBOX", 12},
		{"Archive/2024", 8},
		{"Archive/2025", 6},
		{"Lists/golang-nuts", 6},
		{"Entwürfe", 3},
		{"日本語", 2},
	}
}

// startDemoServer starts an in-memory server holding the demo tree.
func startDemoServer() (*memserver.Server, error) {
	srv, err := memserver.Start([]string{demoUser}, demoPassword)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, f := range seedFolders() {
		if err := srv.Create(demoUser, f.name); err != nil {
			srv.Close()
			return nil, err
		}
		for i := 0; i < f.count; i++ {
			n++
			msg := demoMessage(n, f.name, fmt.Sprintf("Message %d in %s", i+1, f.name))
			var flags []imap.Flag
			if i%3 == 0 {
				flags = append(flags, imap.FlagSeen)
			}
			if i%5 == 0 {
				flags = append(flags, imap.FlagFlagged)
			}
			if i%4 == 1 {
				flags = append(flags, imap.FlagAnswered, imap.FlagSeen)
			}
			date := time.Date(2025, 1, 1+n%28, 9, n%60, 0, 0, time.UTC)
			if err := srv.Append(demoUser, f.name, msg, date, flags...); err != nil {
				srv.Close()
				return nil, err
			}
		}
	}
	return srv, nil
}

// demoMessage builds a small RFC 5322 message.
func demoMessage(n int, folder, subject string) []byte {
	return []byte(fmt.Sprintf("From: Demo Sender <sender%d@example.org>\r\n"+
		"To: demo@example.org\r\n"+
		"Subject: %s\r\n"+
		"Date: Wed, 01 Jan 2025 09:%02d:00 +0000\r\n"+
		"Message-ID: <demo-%d@mailsync.example>\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"\r\n"+
		"This is message %d, filed in %s.\r\n", n, subject, n%60, n, n, folder))
}

// runDemo performs the demo: sync into dir, change a flag and add a message on
// each side, sync again, show that a third run changes nothing.
func runDemo(ctx context.Context, w io.Writer, dir string, log zerolog.Logger) error {
	srv, err := startDemoServer()
	if err != nil {
		return fmt.Errorf("starting the in-memory IMAP server: %w", err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr)
	mailDir := filepath.Join(dir, "Mail")
	cfgText := fmt.Sprintf(`[general]
state_dir = %q

[accounts.demo]
[accounts.demo.remote]
host = %q
port = %s
tls = "none"
allow_plaintext = true
user = %q
password = %q

[accounts.demo.local]
path = %q
`, filepath.Join(dir, "state"), host, port, demoUser, demoPassword, mailDir)
	cfg, err := config.Parse("(demo)", []byte(cfgText), os.Getenv)
	if err != nil {
		return err
	}
	run := func(title string) (*msync.Summary, error) {
		fmt.Fprintf(w, "\n== %s\n", title)
		rs := accounts.Run(ctx, accounts.Options{Config: cfg, Log: log, Summary: w})
		if rs[0].Failed() {
			if rs[0].Err != nil {
				return nil, rs[0].Err
			}
			return nil, rs[0].Summary.Errors[0]
		}
		return rs[0].Summary, nil
	}

	fmt.Fprintf(w, "mailsync demo: in-memory IMAP server at %s with %d folders; Maildir at %s\n", srv.Addr, len(seedFolders()), mailDir)
	if _, err := run("1. initial sync: everything comes down"); err != nil {
		return err
	}
	if err := printDemoTree(w, mailDir); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n== 2. changes on both sides\n")
	if err := demoServerChanges(ctx, srv.Addr); err != nil {
		return err
	}
	fmt.Fprintln(w, "server: new message in INBOX; \\Flagged set on INBOX uid 2")
	if err := demoLocalChanges(mailDir, w); err != nil {
		return err
	}
	sum, err := run("3. second sync: each side gets the other's changes")
	if err != nil {
		return err
	}
	c := sum.Counts
	if c.Pulled != 1 || c.Pushed != 1 || c.FlagsDown != 1 || c.FlagsUp != 1 {
		return fmt.Errorf("demo: expected 1 pulled, 1 pushed, 1 flag each way; got %+v", c)
	}
	sum, err = run("4. third sync: nothing left to do")
	if err != nil {
		return err
	}
	if sum.Counts != (msync.Counts{}) {
		return fmt.Errorf("demo: the third sync still changed something: %+v", sum.Counts)
	}
	fmt.Fprintf(w, "\nDone. Browse the result with e.g. `mutt -f %s/INBOX`.\n", mailDir)
	return nil
}

func demoServerChanges(ctx context.Context, addr string) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(demoUser, demoPassword).Wait(); err != nil {
		return err
	}
	msg := demoMessage(1000, "INBOX", "Sent to the server while you were away")
	ac := c.Append("INBOX", int64(len(msg)), nil)
	if _, err := ac.Write(msg); err != nil {
		return err
	}
	if err := ac.Close(); err != nil {
		return err
	}
	if _, err := ac.Wait(); err != nil {
		return err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return err
	}
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// localChanges acts like a mail client: it marks one message as read (a
// rename into cur/ with S) and writes a new message the way mutt would.
func demoLocalChanges(mailDir string, w io.Writer) error {
	f := &maildir.Folder{Dir: filepath.Join(mailDir, "Archive", "2024"), Fsync: true}
	entries, _, _, err := f.Scan()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.Contains(e.Name.Flags, "S") {
			n := e.Name
			n.Flags = maildir.SortFlags(n.Flags + "S")
			if _, err := f.Rename(e, n); err != nil {
				return err
			}
			fmt.Fprintf(w, "local: marked %s as read\n", e.File)
			break
		}
	}
	name := fmt.Sprintf("%d.demo.localhost", time.Now().Unix())
	msg := strings.ReplaceAll(string(demoMessage(2000, "Archive/2024", "Written locally")), "\r\n", "\n")
	if err := os.WriteFile(filepath.Join(f.Dir, "new", name), []byte(msg), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(w, "local: new message Archive/2024/new/%s\n", name)
	return nil
}

func printDemoTree(w io.Writer, root string) error {
	names, err := (maildir.FS{}).List(root)
	if err != nil {
		return err
	}
	for _, n := range names {
		f := &maildir.Folder{Dir: filepath.Join(root, n)}
		es, _, _, err := f.Scan()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-22s %2d messages\n", n, len(es))
	}
	return nil
}
