package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCmd(r *rootCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write the man pages into DIR",
		Long: `Man writes a page of section 1 for mailsync and for each of its commands
into DIR, which it creates if need be: mailsync.1, mailsync-sync.1,
mailsync-systemd-install.1, and so on. A page already there is replaced;
other files are left alone.

Read one in place with "man DIR/mailsync-sync.1", or copy them into a man1
directory on the MANPATH (~/.local/share/man/man1, /usr/share/man/man1).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pages, err := manPages(cmd.Root())
			if err != nil {
				return &exitError{exitFailed, err}
			}
			if err := writeManPages(args[0], pages); err != nil {
				return &exitError{exitFailed, err}
			}
			return nil
		},
	}
}

func completeDirs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// manDate stands in for the date cobra puts in each page's .TH line; it is
// removed again, so that the pages change only when the commands do.
var manDate = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// manPages renders a page for root and each of its available commands,
// keyed by file name. Like a run of mailsync, it includes cobra's
// completion command and, on the root, --version.
func manPages(root *cobra.Command) (map[string][]byte, error) {
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultVersionFlag()
	pages := map[string][]byte{}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		c.DisableAutoGenTag = true
		var buf bytes.Buffer
		header := &doc.GenManHeader{Date: &manDate, Source: "mailsync", Manual: "mailsync manual"}
		if err := doc.GenMan(c, header, &buf); err != nil {
			return err
		}
		page, err := undate(buf.Bytes())
		if err != nil {
			return fmt.Errorf("man page of %q: %w", c.CommandPath(), err)
		}
		pages[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = page
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
				continue
			}
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return pages, nil
}

// undate empties the date field of the page's .TH line.
func undate(page []byte) ([]byte, error) {
	date := []byte(`"` + manDate.Format("Jan 2006") + `"`)
	lines := bytes.SplitAfter(page, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte(".TH ")) && bytes.Contains(l, date) {
			lines[i] = bytes.Replace(l, date, []byte(`""`), 1)
			return bytes.Join(lines, nil), nil
		}
	}
	return nil, errors.New("the man page has no .TH line with the date")
}

func writeManPages(dir string, pages map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, page := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), page, 0o644); err != nil {
			return err
		}
	}
	return nil
}
