// Command corpus writes the benchmark corpus straight into Dovecot
// Maildir++ stores, deterministically (math/rand/v2 PCG, fixed seed).
//
//	corpus -messages 20000 -folders 20 -expected out/expected.tsv \
//	       -owner 102:105 DIR1 [DIR2 ...]
//
// Each DIR is a user's Maildir root (mail_location = maildir:~/Maildir with
// separator "/" and listescape). The first gets the files; the others get
// hard links to the same files, which Dovecot is fine with (it never
// rewrites a Maildir file in place: flag changes are renames, expunges are
// unlinks). File names carry exact ,S= and ,W= sizes (the files are CRLF,
// as mail_save_crlf = yes would store them, so both are the file size) and
// the message date as mtime (Dovecot's INTERNALDATE). Names start with the
// date, so Dovecot assigns UIDs in date order.
//
// The expected state (folder, Message-ID, flags) is written to -expected
// and the folder names to -folderlist.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"mailsync/bench/internal/benchlib"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed")
	n := flag.Int("messages", 20000, "number of messages")
	nFolders := flag.Int("folders", len(benchlib.Folders), "number of folders (1 = INBOX only)")
	attachPct := flag.Float64("attach-pct", 3, "percentage of messages with a 0.1-2 MB base64 attachment")
	expected := flag.String("expected", "", "write the expected state (TSV) here")
	folderList := flag.String("folderlist", "", "write the folder names here, one per line")
	owner := flag.String("owner", "", "uid:gid to chown everything to (as root)")
	flag.Parse()
	roots := flag.Args()
	if len(roots) == 0 || *expected == "" {
		fmt.Fprintln(os.Stderr, "usage: corpus [flags] -expected FILE MAILDIR_ROOT...")
		os.Exit(2)
	}
	uid, gid := -1, -1
	if *owner != "" {
		u, g, ok := strings.Cut(*owner, ":")
		var e1, e2 error
		uid, e1 = strconv.Atoi(u)
		gid, e2 = strconv.Atoi(g)
		if !ok || e1 != nil || e2 != nil {
			fatalf("bad -owner %q, want UID:GID", *owner)
		}
	}
	start := time.Now()
	folders := benchlib.SelectFolders(*nFolders)
	counts := apportion(*n, folders)

	// Directories first.
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o700); err != nil {
			fatalf("%v", err)
		}
		if uid >= 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				fatalf("%v", err)
			}
		}
	}
	for _, root := range roots {
		mk(root)
		for _, f := range folders {
			dir := filepath.Join(root, benchlib.DovecotDir(f.Name))
			for _, sub := range []string{"", "cur", "new", "tmp"} {
				mk(filepath.Join(dir, sub))
			}
			if f.Name != "INBOX" {
				// Dovecot creates this marker in every Maildir++ subfolder.
				p := filepath.Join(dir, "maildirfolder")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					fatalf("%v", err)
				}
				if uid >= 0 {
					_ = os.Chown(p, uid, gid)
				}
			}
		}
	}

	exp := benchlib.State{}
	var total, attached int64
	var nAttach int
	seq := 0
	for fi, f := range folders {
		exp[f.Name] = map[string][]string{}
		r := benchlib.Rand(*seed, "plan-"+f.Name, 0)
		cnt := counts[fi]
		dates := make([]time.Time, cnt)
		lo := time.Date(f.From, 1, 1, 0, 0, 0, 0, time.UTC)
		hi := time.Date(f.To+1, 1, 1, 0, 0, 0, 0, time.UTC)
		if max := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC); hi.After(max) {
			hi = max
		}
		span := hi.Sub(lo)
		for i := range dates {
			dates[i] = lo.Add(time.Duration(r.Int64N(int64(span))))
		}
		sort.Slice(dates, func(i, j int) bool { return dates[i].Before(dates[j]) })
		for i := 0; i < cnt; i++ {
			seq++
			zone := time.FixedZone("", []int{0, 3600, 7200, -5 * 3600, 9 * 3600}[r.IntN(5)])
			spec := benchlib.MsgSpec{
				Seed:   *seed,
				NS:     "c",
				Seq:    seq,
				Folder: f,
				Date:   dates[i].In(zone).Truncate(time.Second),
				Size:   2048 + r.IntN(18*1024),
			}
			if r.Float64()*100 < *attachPct {
				spec.Attach = 100*1024 + r.IntN(1900*1024)
				nAttach++
			}
			flags := initialFlags(r, f.Name, i, cnt)
			msg, mid := benchlib.Generate(spec)
			exp.Set(f.Name, mid, flags)
			total += int64(len(msg))
			if spec.Attach > 0 {
				attached += int64(len(msg))
			}
			usec := dates[i].Nanosecond() / 1000
			name := fmt.Sprintf("%d.M%06dP%d.bench,S=%d,W=%d:2,%s", spec.Date.Unix(), usec%1000000, seq, len(msg), len(msg), flags)
			for k, root := range roots {
				p := filepath.Join(root, benchlib.DovecotDir(f.Name), "cur", name)
				if k == 0 {
					if err := os.WriteFile(p, msg, 0o600); err != nil {
						fatalf("%v", err)
					}
					if uid >= 0 {
						if err := os.Chown(p, uid, gid); err != nil {
							fatalf("%v", err)
						}
					}
					if err := os.Chtimes(p, spec.Date, spec.Date); err != nil {
						fatalf("%v", err)
					}
					continue
				}
				first := filepath.Join(roots[0], benchlib.DovecotDir(f.Name), "cur", name)
				if err := os.Link(first, p); err != nil {
					fatalf("%v", err)
				}
			}
		}
	}
	if err := benchlib.WriteState(*expected, exp); err != nil {
		fatalf("%v", err)
	}
	if *folderList != "" {
		var b strings.Builder
		for _, f := range folders {
			b.WriteString(f.Name + "\n")
		}
		if err := os.WriteFile(*folderList, []byte(b.String()), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
	fmt.Printf("corpus: %d messages (%d with attachments, %.0f MB of them) in %d folder(s), %.0f MB, seed %d, %d store(s) hard-linked, %.1fs\n",
		seq, nAttach, float64(attached)/1e6, len(folders), float64(total)/1e6, *seed, len(roots), time.Since(start).Seconds())
	for i, f := range folders {
		fmt.Printf("  %6d  %s\n", counts[i], f.Name)
	}
}

// apportion splits n over the folders by weight (largest remainder).
func apportion(n int, folders []benchlib.Folder) []int {
	var sum float64
	for _, f := range folders {
		sum += f.Weight
	}
	counts := make([]int, len(folders))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	given := 0
	for i, f := range folders {
		x := float64(n) * f.Weight / sum
		counts[i] = int(math.Floor(x))
		given += counts[i]
		rems = append(rems, rem{i, x - math.Floor(x)})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < n; k++ {
		counts[rems[k%len(rems)].i]++
		given++
	}
	return counts
}

// initialFlags: mostly \Seen, the newest messages of INBOX and the lists
// unread, some \Flagged and \Answered, drafts \Draft.
func initialFlags(r interface {
	IntN(int) int
	Float64() float64
}, folder string, i, n int) string {
	age := 1 - float64(i)/float64(max(n, 1)) // 1 = oldest, ~0 = newest
	var f []byte
	seen := true
	switch {
	case folder == "Junk":
		seen = r.IntN(2) == 0
	case folder == "INBOX" || folder == "Notifications":
		seen = age > 0.08 || r.IntN(4) == 0
	case strings.HasPrefix(folder, "Lists/") || strings.HasPrefix(folder, "Listen/"):
		seen = age > 0.2 || r.IntN(3) == 0
	}
	if folder == "Drafts" {
		f = append(f, 'D')
	}
	if folder != "Junk" && folder != "Trash" && r.Float64() < 0.03 {
		f = append(f, 'F')
	}
	if (folder == "INBOX" || strings.HasPrefix(folder, "Archive") || strings.HasPrefix(folder, "Work")) && r.Float64() < 0.12 {
		f = append(f, 'R')
	}
	if seen {
		f = append(f, 'S')
	}
	return benchlib.CanonFlags(string(f))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "corpus: "+format+"\n", args...)
	os.Exit(1)
}
