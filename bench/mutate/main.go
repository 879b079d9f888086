// Command mutate applies the benchmark's deterministic changes, identically
// for every tool, and updates the expected state.
//
//	mutate server -config dovecot.conf -expected E.tsv -users u1,u2,u3
//	    100 new messages (doveadm save), 20 flagged, 30 marked unseen,
//	    50 expunged, spread over a few folders, for each user.
//	mutate local -expected E.tsv tool1=ROOT1 tool2=ROOT2 ...
//	    50 new client-written files, 60 files renamed to add F to their
//	    ":2," info, 40 files deleted, in each tool's own Maildir.
//
// The messages to change are picked from the expected state with a PCG
// stream of the seed, so every tool (and every run with the same seed and
// size) gets exactly the same changes. A message missing from a user's
// server or a tool's Maildir (a tool that did not converge) is reported and
// skipped for that user/tool only.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailsync/bench/internal/benchlib"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "local":
		local(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mutate server|local [flags] ...")
	os.Exit(2)
}

type pickReq struct {
	folders []string
	n       int
	want    func(flags string) bool
	maxFrac float64 // if > 0, take at most this share of a folder's messages
}

// pick chooses n messages (folder, mid) from st, round-robin over the
// folders, each eligible and not in used, deterministically. If the
// folders run out (a small corpus), the other folders follow, largest
// first. maxFrac keeps deletions below mailsync's (and common sense's)
// mass-deletion threshold of half a folder, however small the corpus.
func pick(r *rand.Rand, st benchlib.State, req pickReq, used map[string]bool) [][2]string {
	out := pickFrom(r, st, req, used)
	if len(out) < req.n {
		in := map[string]bool{}
		for _, f := range req.folders {
			in[f] = true
		}
		var rest []string
		for _, f := range st.FolderNames() {
			if !in[f] {
				rest = append(rest, f)
			}
		}
		sort.SliceStable(rest, func(i, j int) bool { return len(st[rest[i]]) > len(st[rest[j]]) })
		more := req
		more.folders, more.n = rest, req.n-len(out)
		out = append(out, pickFrom(r, st, more, used)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

func pickFrom(r *rand.Rand, st benchlib.State, req pickReq, used map[string]bool) [][2]string {
	cands := map[string][]string{}
	for _, f := range req.folders {
		var c []string
		for _, mid := range st.MIDs(f) {
			fl, _ := st.Flags(f, mid)
			if !used[f+"\x00"+mid] && (req.want == nil || req.want(fl)) {
				c = append(c, mid)
			}
		}
		r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		if req.maxFrac > 0 {
			if limit := int(req.maxFrac * float64(len(st[f]))); len(c) > limit {
				c = c[:limit]
			}
		}
		cands[f] = c
	}
	var out [][2]string
	for len(out) < req.n {
		progress := false
		for _, f := range req.folders {
			if len(out) == req.n {
				break
			}
			if len(cands[f]) == 0 {
				continue
			}
			mid := cands[f][0]
			cands[f] = cands[f][1:]
			used[f+"\x00"+mid] = true
			out = append(out, [2]string{f, mid})
			progress = true
		}
		if !progress {
			break
		}
	}
	return out
}

func hasNot(c byte) func(string) bool {
	return func(f string) bool { return strings.IndexByte(f, c) < 0 }
}

func has(c byte) func(string) bool {
	return func(f string) bool { return strings.IndexByte(f, c) >= 0 }
}

func folderByName(name string) benchlib.Folder {
	for _, f := range benchlib.Folders {
		if f.Name == name {
			return f
		}
	}
	return benchlib.Folder{Name: name, From: 2025, To: 2025}
}

func server(args []string) {
	fs := flag.NewFlagSet("mutate server", flag.ExitOnError)
	seed := fs.Uint64("seed", 1, "random seed")
	cfg := fs.String("config", "", "dovecot.conf")
	bin := fs.String("doveadm", "doveadm", "doveadm binary")
	expPath := fs.String("expected", "", "expected state file (read and rewritten)")
	users := fs.String("users", "", "comma-separated users")
	nNew := fs.Int("new", 100, "new messages")
	nFlag := fs.Int("flag", 20, "messages to flag")
	nUnseen := fs.Int("unseen", 30, "seen messages to mark unseen")
	nExpunge := fs.Int("expunge", 50, "messages to expunge")
	_ = fs.Parse(args)
	if *cfg == "" || *expPath == "" || *users == "" {
		fatalf("server: -config, -expected and -users are required")
	}
	d := benchlib.Doveadm{Bin: *bin, Config: *cfg}
	st, err := benchlib.ReadState(*expPath)
	if err != nil {
		fatalf("%v", err)
	}
	r := benchlib.Rand(*seed, "mutate-server", 0)
	used := map[string]bool{}
	chg := benchlib.PreferFolders(st, []string{"INBOX", "Archive/2024", "Lists/debian-devel", "Work"})
	flagged := pick(r, st, pickReq{chg, *nFlag, hasNot('F'), 0}, used)
	unseen := pick(r, st, pickReq{chg, *nUnseen, has('S'), 0}, used)
	expunged := pick(r, st, pickReq{chg, *nExpunge, nil, 0.4}, used)

	// New messages: generated once, saved for every user.
	newFolders := benchlib.PreferFolders(st, []string{"INBOX", "Lists/golang-nuts", "Notifications", "日本語"})
	type newMsg struct {
		folder string
		body   []byte
		mid    string
	}
	var news []newMsg
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < *nNew; i++ {
		f := folderByName(newFolders[i%len(newFolders)])
		spec := benchlib.MsgSpec{Seed: *seed, NS: "s", Seq: i + 1, Folder: f, Date: base.Add(time.Duration(i) * 7 * time.Minute), Size: 2048 + r.IntN(14*1024)}
		if i%25 == 24 {
			spec.Attach = 300 * 1024
		}
		b, mid := benchlib.Generate(spec)
		news = append(news, newMsg{f.Name, b, mid})
	}

	byFolder := func(sel [][2]string) map[string][]string {
		m := map[string][]string{}
		for _, x := range sel {
			m[x[0]] = append(m[x[0]], x[1])
		}
		return m
	}
	// The folders the picks landed in (more than chg for a tiny corpus).
	var touched []string
	seen := map[string]bool{}
	for _, sel := range [][][2]string{flagged, unseen, expunged} {
		for _, x := range sel {
			if !seen[x[0]] {
				seen[x[0]] = true
				touched = append(touched, x[0])
			}
		}
	}
	problems := 0
	for _, u := range strings.Split(*users, ",") {
		uidOf := map[string]map[string]uint32{}
		for _, f := range touched {
			msgs, err := d.Fetch(u, "mailbox", f, "all")
			if err != nil {
				fatalf("%v", err)
			}
			uidOf[f] = map[string]uint32{}
			for _, m := range msgs {
				uidOf[f][m.MID] = m.UID
			}
		}
		apply := func(what string, sel [][2]string, sub []string, extra ...string) {
			for f, mids := range byFolder(sel) {
				var uids []uint32
				for _, mid := range mids {
					uid, ok := uidOf[f][mid]
					if !ok {
						fmt.Fprintf(os.Stderr, "mutate server: user %s: %s: %s not on the server, skipped\n", u, f, mid)
						problems++
						continue
					}
					uids = append(uids, uid)
				}
				if len(uids) == 0 {
					continue
				}
				sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
				a := append(append([]string(nil), sub...), "-u", u)
				a = append(append(a, extra...), "mailbox", f, "uid", benchlib.UIDSet(uids))
				if _, err := d.Run(nil, a...); err != nil {
					fatalf("%s: %v", what, err)
				}
			}
		}
		apply("flag", flagged, []string{"flags", "add"}, `\Flagged`)
		apply("unseen", unseen, []string{"flags", "remove"}, `\Seen`)
		apply("expunge", expunged, []string{"expunge"})
		for _, m := range news {
			if _, err := d.Run(m.body, "save", "-u", u, "-m", m.folder); err != nil {
				fatalf("%v", err)
			}
		}
	}

	for _, x := range flagged {
		fl, _ := st.Flags(x[0], x[1])
		st.Set(x[0], x[1], fl+"F")
	}
	for _, x := range unseen {
		fl, _ := st.Flags(x[0], x[1])
		st.Set(x[0], x[1], strings.ReplaceAll(fl, "S", ""))
	}
	for _, x := range expunged {
		st.Delete(x[0], x[1])
	}
	for _, m := range news {
		st.Set(m.folder, m.mid, "")
	}
	if err := benchlib.WriteState(*expPath, st); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("mutate server: %d new in %s; %d flagged, %d unseen, %d expunged in %s; users %s\n",
		len(news), strings.Join(newFolders, ", "), len(flagged), len(unseen), len(expunged), strings.Join(touched, ", "), *users)
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "mutate server: %d change(s) could not be applied (see above)\n", problems)
	}
}

func local(args []string) {
	fs := flag.NewFlagSet("mutate local", flag.ExitOnError)
	seed := fs.Uint64("seed", 1, "random seed")
	expPath := fs.String("expected", "", "expected state file (read and rewritten)")
	nFlag := fs.Int("flag", 60, "files to rename to add F")
	nDelete := fs.Int("delete", 40, "files to delete")
	nNew := fs.Int("new", 50, "new client-written files (40% INBOX new/, 40% Sent cur/ S, 20% Drafts cur/ DS)")
	_ = fs.Parse(args)
	if *expPath == "" || fs.NArg() == 0 {
		fatalf("local: -expected and TOOL=ROOT arguments are required")
	}
	st, err := benchlib.ReadState(*expPath)
	if err != nil {
		fatalf("%v", err)
	}
	r := benchlib.Rand(*seed, "mutate-local", 0)
	used := map[string]bool{}
	flagged := pick(r, st, pickReq{benchlib.PreferFolders(st, []string{"INBOX", "Archive/2023", "Listen/Entwürfe", "日本語"}), *nFlag, hasNot('F'), 0}, used)
	deleted := pick(r, st, pickReq{benchlib.PreferFolders(st, []string{"Lists/golang-nuts", "Trash", "Work/Projects", "INBOX"}), *nDelete, nil, 0.4}, used)

	// New files: folder, sub dir, flags.
	type newFile struct {
		folder, sub, flags string
		body               []byte
		mid                string
		name               string
	}
	var news []newFile
	base := time.Date(2025, 7, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < *nNew; i++ {
		var nf newFile
		switch k := i % 5; {
		case k < 2:
			nf.folder, nf.sub = "INBOX", "new"
		case k < 4:
			nf.folder, nf.sub, nf.flags = "Sent", "cur", "S"
		default:
			nf.folder, nf.sub, nf.flags = "Drafts", "cur", "DS"
		}
		if st[nf.folder] == nil {
			nf.folder = benchlib.PreferFolders(st, []string{"INBOX"})[0]
		}
		date := base.Add(time.Duration(i) * 3 * time.Minute)
		spec := benchlib.MsgSpec{Seed: *seed, NS: "l", Seq: i + 1, Folder: folderByName(nf.folder), Date: date, Size: 1500 + r.IntN(8*1024)}
		crlf, mid := benchlib.Generate(spec)
		nf.body = bytes.ReplaceAll(crlf, []byte("\r\n"), []byte("\n")) // mail clients write LF
		nf.mid = mid
		// The seed is in the name: files of runs with different seeds (or a
		// second "mutate local" by hand) must not share a unique part.
		nf.name = fmt.Sprintf("%d.M%06dP%dQ%d.benchclient", date.Unix(), i*1000, *seed, i+1)
		if nf.sub == "cur" {
			nf.name += ":2," + nf.flags
		}
		news = append(news, nf)
	}

	problems := 0
	for _, arg := range fs.Args() {
		tool, root, ok := strings.Cut(arg, "=")
		if !ok {
			fatalf("local: want TOOL=ROOT, got %q", arg)
		}
		tree, err := benchlib.ScanLocal(root)
		if err != nil {
			fatalf("%s: %v", tool, err)
		}
		idx := tree.Index()
		find := func(f, mid string) (benchlib.LocalMsg, bool) {
			ms := idx[f][mid]
			if len(ms) == 0 {
				fmt.Fprintf(os.Stderr, "mutate local: %s: %s: %s not in the Maildir, skipped\n", tool, f, mid)
				problems++
				return benchlib.LocalMsg{}, false
			}
			if len(ms) > 1 {
				fmt.Fprintf(os.Stderr, "mutate local: %s: %s: %s has %d copies, changing the first\n", tool, f, mid, len(ms))
			}
			return ms[0], true
		}
		for _, x := range flagged {
			m, ok := find(x[0], x[1])
			if !ok {
				continue
			}
			dir, name := filepath.Split(m.Path)
			to := filepath.Join(filepath.Dir(filepath.Clean(dir)), "cur", benchlib.WithFlags(name, "F"))
			if err := os.Rename(m.Path, to); err != nil {
				fatalf("%s: %v", tool, err)
			}
		}
		for _, x := range deleted {
			m, ok := find(x[0], x[1])
			if !ok {
				continue
			}
			if err := os.Remove(m.Path); err != nil {
				fatalf("%s: %v", tool, err)
			}
		}
		for _, nf := range news {
			dir, ok := tree.Dirs[nf.folder]
			if !ok {
				fatalf("%s: folder %q missing from %s", tool, nf.folder, root)
			}
			tmp := filepath.Join(dir, "tmp", strings.SplitN(nf.name, ":", 2)[0])
			if err := os.WriteFile(tmp, nf.body, 0o600); err != nil {
				fatalf("%s: %v", tool, err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, nf.sub, nf.name)); err != nil {
				fatalf("%s: %v", tool, err)
			}
		}
	}

	for _, x := range flagged {
		fl, _ := st.Flags(x[0], x[1])
		st.Set(x[0], x[1], fl+"F")
	}
	for _, x := range deleted {
		st.Delete(x[0], x[1])
	}
	for _, nf := range news {
		st.Set(nf.folder, nf.mid, nf.flags)
	}
	if err := benchlib.WriteState(*expPath, st); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("mutate local: %d new, %d flagged, %d deleted; in %s\n", len(news), len(flagged), len(deleted), strings.Join(fs.Args(), " "))
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "mutate local: %d change(s) could not be applied (see above)\n", problems)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mutate: "+format+"\n", args...)
	os.Exit(1)
}
