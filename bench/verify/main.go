// Command verify checks convergence after a benchmark phase:
//
//	verify -config dovecot.conf -expected E.tsv -phase NAME -status S.tsv \
//	       TOOL=USER=ROOT ...
//
// For every tool it compares, per folder, the multiset of (Message-ID,
// flags) on the server (doveadm fetch of USER) with the tool's local
// Maildir at ROOT (Message-ID headers of the files, flags from the ":2,"
// info), and the server with the expected state the harness maintains (the
// corpus plus every change it made). Only the system flags D F R S T are
// compared; keywords and \Recent are not. Local folder directories in
// modified UTF-7 (mbsync 1.4, offlineimap without utf8foldernames) are
// decoded first. An empty ROOT checks the server only.
//
// One line per tool is appended to -status: phase, tool, ok|FAIL, detail.
// The exit status is 1 if any tool failed.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"mailsync/bench/internal/benchlib"
)

func main() {
	cfg := flag.String("config", "", "dovecot.conf")
	bin := flag.String("doveadm", "doveadm", "doveadm binary")
	expPath := flag.String("expected", "", "expected state file")
	phase := flag.String("phase", "", "phase name for the status file")
	statusPath := flag.String("status", "", "append results here (TSV)")
	show := flag.Int("show", 10, "differences to print per comparison")
	flag.Parse()
	if *cfg == "" || *expPath == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: verify -config CONF -expected FILE [-phase P -status FILE] TOOL=USER=ROOT...")
		os.Exit(2)
	}
	exp, err := benchlib.ReadState(*expPath)
	if err != nil {
		fatalf("%v", err)
	}
	d := benchlib.Doveadm{Bin: *bin, Config: *cfg}
	var status *os.File
	if *statusPath != "" {
		status, err = os.OpenFile(*statusPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fatalf("%v", err)
		}
		defer status.Close()
	}
	failed := false
	for _, arg := range flag.Args() {
		parts := strings.SplitN(arg, "=", 3)
		if len(parts) != 3 {
			fatalf("want TOOL=USER=ROOT, got %q", arg)
		}
		tool, user, root := parts[0], parts[1], parts[2]
		var problems []string
		var lines []string
		report := func(what string, diffs []benchlib.Diff) {
			if len(diffs) == 0 {
				return
			}
			problems = append(problems, fmt.Sprintf("%s: %d", what, len(diffs)))
			for i, df := range diffs {
				if i == *show {
					lines = append(lines, fmt.Sprintf("    ... %d more", len(diffs)-i))
					break
				}
				lines = append(lines, "    "+df.String())
			}
		}
		srv, err := d.ServerState(user)
		if err != nil {
			fatalf("%s: %v", tool, err)
		}
		report("server vs expected", benchlib.Compare(srv, exp))
		if missing := missingFolders(exp, srv); len(missing) > 0 {
			problems = append(problems, "folders missing on server: "+strings.Join(missing, ", "))
		}
		note := ""
		if root != "" {
			tree, err := benchlib.ScanLocal(root)
			if err != nil {
				problems = append(problems, "cannot scan local Maildir: "+err.Error())
			} else {
				loc := tree.State()
				report("local vs server", benchlib.Compare(loc, srv))
				if missing := missingFolders(srv, loc); len(missing) > 0 {
					problems = append(problems, "folders missing locally: "+strings.Join(missing, ", "))
				}
				if extra := missingFolders(loc, srv); len(extra) > 0 {
					problems = append(problems, "local folders not on server: "+strings.Join(extra, ", "))
				}
				if len(tree.Encoded) > 0 {
					note = fmt.Sprintf(" (local names in modified UTF-7: %s)", strings.Join(tree.Encoded, ", "))
				}
			}
		}
		res, detail := "ok", fmt.Sprintf("%d folders, %d messages", len(srv), srv.Count())
		if len(problems) > 0 {
			failed = true
			res, detail = "FAIL", strings.Join(problems, "; ")
		}
		fmt.Printf("verify %s %s: %s: %s%s\n", *phase, tool, res, detail, note)
		for _, l := range lines {
			fmt.Println(l)
		}
		if status != nil {
			fmt.Fprintf(status, "%s\t%s\t%s\t%s\n", *phase, tool, res, detail)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// missingFolders returns the folders of a (with messages, or any folder if
// a lists empty ones) that b does not have.
func missingFolders(a, b benchlib.State) []string {
	var out []string
	for f := range a {
		if _, ok := b[f]; !ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "verify: "+format+"\n", args...)
	os.Exit(1)
}
