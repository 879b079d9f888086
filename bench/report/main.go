// Command report turns the harness's TSV records into the results table,
// printed and written as Markdown.
//
//	report -results R.tsv -verify V.tsv -meta M.tsv -dovecot-log LOG [-switch S.tsv]
//	       [-rtt-ms N -linkemu-log LOG] -out results.md
//
// R.tsv: phase, tool, wall seconds, peak RSS KB, exit code, Dovecot log
// offset at the start of the run, run number (optional: by default, the
// order of the phase's runs of the tool; phase 2 is run several times),
// bench/linkemu's log offset at the start of the run (optional: with the
// network emulator). A phase run several times shows, in the
// main table, the median wall time and the largest peak RSS of its runs;
// the per-run table lists every run. V.tsv: phase, tool, ok|FAIL, detail.
// M.tsv: key, value (shown in the header, in file order). The Dovecot log
// gives, per run, the number of IMAP sessions of the tool's user and the
// bytes the server sent them (the in=/out= of the logout lines) and the
// message bodies and headers it fetched (body_count=, hdr_count=): each
// run's lines are those of its user between its start offset and the start
// of that tool's next run.
//
// Phase 5 ("switch") is mailsync's first sync over the Maildir that TOOL
// made, against TOOL's server user: its R.tsv rows carry TOOL, and it gets
// a table of its own instead of a row of the main one. S.tsv: TOOL, the
// server's UIDNEXT summed over TOOL's folders before and after the run,
// and mailsync's summary line. The exit status is 3 (after the results are
// written) when a switch fetched a message body or appended a message,
// which adoption must never do; 0 otherwise.
//
// With -rtt-ms (the emulator's round-trip time), a table gives each
// phase's wall time divided by the RTT: the round trips the tool paid, if
// the time went to nothing else. With -linkemu-log, the per-run table adds
// the bytes the emulator carried to the client (on the wire, after any
// compression) and how many of the run's connections sent COMPRESS
// DEFLATE: the connections opened between the run's linkemu log offset
// and the next run's.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type run struct {
	phase, tool string
	n           int // run number within the phase, from 1
	wall        float64
	rssKB       int64
	exit        string
	logOff      int64
	sessions    int
	outBytes    int64
	bodies      int // message bodies fetched (Dovecot's body_count)
	headers     int // header fetches (hdr_count)
	counted     int // logout lines that had body_count
	verified    string
	detail      string
	emuOff      int64 // linkemu log offset at the start; -1 without the emulator
	emuConns    int   // connections through linkemu
	emuDown     int64 // bytes linkemu delivered to the client
	emuCompress int   // connections that sent COMPRESS DEFLATE
}

var phaseNames = map[string]string{
	"1": "1. initial pull",
	"2": "2. no-op resync",
	"3": "3. after server changes",
	"4": "4. after local changes",
	"5": "5. switch",
}

// switchPhase is mailsync's first sync over another tool's Maildir.
const switchPhase = "5"

// switchRec is one S.tsv row.
type switchRec struct {
	before, after int64 // UIDNEXT summed over the folders; -1 if unknown
	summary       string
}

func main() {
	resPath := flag.String("results", "", "runs TSV")
	verPath := flag.String("verify", "", "verification TSV")
	metaPath := flag.String("meta", "", "metadata TSV")
	logPath := flag.String("dovecot-log", "", "Dovecot log")
	outPath := flag.String("out", "", "write Markdown here")
	switchPath := flag.String("switch", "", "phase 5 TSV: tool, UIDNEXT sum before, after, mailsync's summary")
	rttMS := flag.Float64("rtt-ms", 0, "the emulated round-trip time (0: none)")
	emuLog := flag.String("linkemu-log", "", "bench/linkemu's log")
	flag.Parse()
	if *resPath == "" || *outPath == "" {
		fmt.Fprintln(os.Stderr, "usage: report -results R.tsv -out FILE [-verify V.tsv -meta M.tsv -dovecot-log LOG]")
		os.Exit(2)
	}
	var runs []*run
	nth := map[[2]string]int{} // runs so far per phase and tool
	for _, f := range readTSV(*resPath) {
		if len(f) < 6 {
			continue
		}
		key := [2]string{f[0], f[1]}
		nth[key]++
		r := &run{phase: f[0], tool: f[1], exit: f[4], n: nth[key]}
		r.wall, _ = strconv.ParseFloat(f[2], 64)
		r.rssKB, _ = strconv.ParseInt(f[3], 10, 64)
		r.logOff, _ = strconv.ParseInt(f[5], 10, 64)
		r.emuOff = -1
		if len(f) >= 8 && f[7] != "" {
			r.emuOff, _ = strconv.ParseInt(f[7], 10, 64)
		}
		if len(f) >= 7 {
			if n, err := strconv.Atoi(f[6]); err == nil {
				r.n = n
			}
		}
		runs = append(runs, r)
	}
	if *verPath != "" {
		for _, f := range readTSV(*verPath) {
			if len(f) < 4 {
				continue
			}
			for _, r := range runs {
				if r.phase == f[0] && r.tool == f[1] {
					r.verified, r.detail = f[2], f[3]
				}
			}
		}
	}
	if *logPath != "" {
		sessions(*logPath, runs)
	}
	haveEmu := false
	if *emuLog != "" {
		if _, err := os.Stat(*emuLog); err == nil {
			haveEmu = linkemuConns(*emuLog, runs)
		}
	}
	rtt := *rttMS / 1000
	var meta [][]string
	if *metaPath != "" {
		meta = readTSV(*metaPath)
	}
	switches := map[string]switchRec{}
	if *switchPath != "" {
		if _, err := os.Stat(*switchPath); err == nil {
			for _, f := range readTSV(*switchPath) {
				if len(f) < 3 {
					continue
				}
				rec := switchRec{before: -1, after: -1}
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					rec.before = n
				}
				if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
					rec.after = n
				}
				if len(f) >= 4 {
					rec.summary = f[3]
				}
				switches[f[0]] = rec
			}
		}
	}

	var tools, phases []string
	seenT, seenP := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		if !seenT[r.tool] {
			seenT[r.tool] = true
			tools = append(tools, r.tool)
		}
		if !seenP[r.phase] {
			seenP[r.phase] = true
			phases = append(phases, r.phase)
		}
	}
	sort.Strings(phases)
	// get returns the runs of tool t in phase p, in run order.
	get := func(p, t string) []*run {
		var rs []*run
		for _, r := range runs {
			if r.phase == p && r.tool == t {
				rs = append(rs, r)
			}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].n < rs[j].n })
		return rs
	}
	// repeats[p] is the largest number of runs of one tool in phase p.
	repeats := map[string]int{}
	for _, p := range phases {
		for _, t := range tools {
			repeats[p] = max(repeats[p], len(get(p, t)))
		}
	}

	var b strings.Builder
	b.WriteString("# mailsync benchmark results\n\n")
	for _, m := range meta {
		if len(m) >= 2 {
			fmt.Fprintf(&b, "- %s: %s\n", m[0], strings.Join(m[1:], " "))
		}
	}
	b.WriteString("\nWall time and peak RSS (MB), measured by `bench/timeit` (wall clock to the millisecond; ru_maxrss of the `timeout` wrapper, which includes the tool it waits for)")
	var mainPhases []string
	for _, p := range phases {
		if p != switchPhase {
			mainPhases = append(mainPhases, p)
		}
	}
	for _, p := range mainPhases {
		if n := repeats[p]; n > 1 {
			fmt.Fprintf(&b, "; phase %s: median of %d runs per tool, the tools interleaved (peak RSS: the largest of the %d)", p, n, n)
		}
	}
	b.WriteString(".\n\n")
	b.WriteString("| phase |")
	for _, t := range tools {
		fmt.Fprintf(&b, " %s |", t)
	}
	ratio := seenT["mailsync"] && seenT["mbsync"]
	if ratio {
		b.WriteString(" mailsync ÷ mbsync (wall) |")
	}
	b.WriteString("\n|---|")
	for range tools {
		b.WriteString("---:|")
	}
	if ratio {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, p := range mainPhases {
		name := phaseNames[p]
		if name == "" {
			name = p
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, t := range tools {
			rs := get(p, t)
			if len(rs) == 0 {
				b.WriteString(" – |")
				continue
			}
			var rssKB int64
			mark := ""
			for _, r := range rs {
				rssKB = max(rssKB, r.rssKB)
				if r.exit != "0" {
					mark += " (exit " + r.exit
					if len(rs) > 1 {
						mark += fmt.Sprintf(" in run %d", r.n)
					}
					mark += ")"
				}
			}
			if v := rs[0].verified; v != "" && v != "ok" {
				mark += " **not converged**"
			}
			fmt.Fprintf(&b, " %s, %.0f MB%s |", seconds(medianWall(rs)), float64(rssKB)/1024, mark)
		}
		if ratio {
			ms, mb := get(p, "mailsync"), get(p, "mbsync")
			switch {
			case len(ms) == 0 || len(mb) == 0:
				b.WriteString(" – |")
			case medianWall(mb) <= 0:
				b.WriteString(" n/a |")
			default:
				fmt.Fprintf(&b, " %.2f |", medianWall(ms)/medianWall(mb))
			}
		}
		b.WriteString("\n")
	}

	if rtt > 0 {
		fmt.Fprintf(&b, "\nRound trips paid: wall time ÷ RTT (%g ms), per phase and tool (phase 2: of the median; phase 5: mailsync over the named tool's Maildir).\n\n", *rttMS)
		b.WriteString("| phase |")
		for _, t := range tools {
			fmt.Fprintf(&b, " %s wall ÷ RTT |", t)
		}
		b.WriteString("\n|---|")
		for range tools {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
		for _, p := range phases {
			name := phaseNames[p]
			if name == "" {
				name = p
			}
			fmt.Fprintf(&b, "| %s |", name)
			for _, t := range tools {
				if rs := get(p, t); len(rs) > 0 {
					fmt.Fprintf(&b, " %.0f |", medianWall(rs)/rtt)
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}

	bad := writeSwitch(&b, get, switches)

	b.WriteString("\nPer run: wall time, peak RSS, exit code, convergence check after the phase (server = local Maildir = expected, per folder, Message-IDs and flags; after the last run of a repeated phase), IMAP sessions, bytes sent by the server and message bodies it sent (Dovecot logout lines). Phase 5's runs are mailsync's, over the named tool's Maildir and server user.\n\n")
	extraHead, extraSep := "", ""
	if rtt > 0 {
		extraHead += " wall ÷ RTT |"
		extraSep += "---:|"
	}
	if haveEmu {
		b.WriteString("Through bench/linkemu: \"wire MB down\" is what the emulator delivered to the client (after compression, when the connection used COMPRESS), \"COMPRESS\" the run's connections that sent COMPRESS DEFLATE, of all its connections.\n\n")
		extraHead += " wire MB down | COMPRESS |"
		extraSep += "---:|---:|"
	}
	b.WriteString("| phase | tool | wall |" + extraHead + " peak RSS MB | exit | verified | IMAP sessions | server sent MB | bodies fetched | detail |\n|---|---|---:|" + extraSep + "---:|---:|---|---:|---:|---:|---|\n")
	for _, p := range phases {
		// A repeated phase lists its runs in the order they ran.
		for n := 1; n <= max(repeats[p], 1); n++ {
			for _, t := range tools {
				for _, r := range get(p, t) {
					if repeats[p] > 1 && r.n != n {
						continue
					}
					ph := p
					if repeats[p] > 1 {
						ph = fmt.Sprintf("%s (run %d)", p, r.n)
					}
					v, detail := r.verified, r.detail
					switch {
					case repeats[p] > 1 && r.n != len(get(p, t)):
						v, detail = "–", "" // checked after the last run
					case v == "":
						v = "not checked"
					}
					tool := t
					if p == switchPhase {
						tool = "mailsync over " + t + "'s Maildir"
					}
					extra := ""
					if rtt > 0 {
						extra += fmt.Sprintf(" %.0f |", r.wall/rtt)
					}
					if haveEmu {
						extra += fmt.Sprintf(" %.1f | %d of %d |", float64(r.emuDown)/1e6, r.emuCompress, r.emuConns)
					}
					fmt.Fprintf(&b, "| %s | %s | %s |%s %.0f | %s | %s | %d | %.1f | %d | %s |\n", ph, tool, seconds(r.wall), extra, float64(r.rssKB)/1024, r.exit, v, r.sessions, float64(r.outBytes)/1e6, r.bodies, strings.ReplaceAll(detail, "|", "\\|"))
				}
			}
		}
	}

	if err := os.MkdirAll(filepath.Dir(*outPath), 0o755); err != nil {
		fatalf("%v", err)
	}
	if err := os.WriteFile(*outPath, []byte(b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Print(b.String())
	if bad {
		os.Exit(3)
	}
}

// writeSwitch writes phase 5's table, one row per tool whose Maildir
// mailsync took over, and reports whether a switch fetched a message body
// or appended a message (or could not be counted).
func writeSwitch(b *strings.Builder, get func(p, t string) []*run, switches map[string]switchRec) bool {
	var from []string
	for _, t := range []string{"mbsync", "offlineimap"} {
		if len(get(switchPhase, t)) > 0 {
			from = append(from, t)
		}
	}
	if len(from) == 0 {
		return false
	}
	pull := get("1", "mailsync")
	b.WriteString("\nPhase 5, switching: mailsync's first sync over the Maildir another tool made (after that tool's last phase), against that tool's server user, with the configuration `mailsync import TOOL` wrote from the tool's own and a state dir of its own. " +
		"Bodies and header fetches are Dovecot's body_count and hdr_count; appended is the growth of the server's UIDNEXT, summed over the folders; the ratio is to mailsync's own initial pull (phase 1, into an empty Maildir). Adopting a Maildir must fetch no body and append nothing.\n\n")
	b.WriteString("| switching from | wall | peak RSS MB | bodies fetched | header fetches | appended | exit | converged | mailsync's summary | ÷ mailsync's initial pull |\n|---|---:|---:|---:|---:|---:|---:|---|---|---:|\n")
	bad := false
	for _, t := range from {
		r := get(switchPhase, t)[0]
		appended := "?"
		sw, ok := switches[t]
		if ok && sw.before >= 0 && sw.after >= 0 {
			n := sw.after - sw.before
			appended = strconv.FormatInt(n, 10)
			if n != 0 {
				bad = true
				appended = "**" + appended + "**"
			}
		} else {
			bad = true
		}
		bodies := strconv.Itoa(r.bodies)
		switch {
		case r.sessions == 0 || r.counted < r.sessions:
			// No session, or logout lines without body_count: not counted.
			bad = true
			bodies = "? (" + bodies + " in " + strconv.Itoa(r.counted) + " of " + strconv.Itoa(r.sessions) + " sessions)"
		case r.bodies != 0:
			bad = true
			bodies = "**" + bodies + "**"
		}
		conv := r.verified
		switch conv {
		case "":
			conv = "not checked"
		case "ok":
		default:
			conv = "**" + conv + "**: " + r.detail
		}
		ratio := "–"
		if len(pull) > 0 && medianWall(pull) > 0 {
			ratio = fmt.Sprintf("%.2f", r.wall/medianWall(pull))
		}
		summary := sw.summary
		if summary == "" {
			summary = "–"
		} else {
			summary = "`" + summary + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %d | %s | %s | %s | %s | %s |\n", t, seconds(r.wall), float64(r.rssKB)/1024,
			bodies, r.headers, appended, r.exit, strings.ReplaceAll(conv, "|", "\\|"), strings.ReplaceAll(summary, "|", "\\|"), ratio)
	}
	return bad
}

// medianWall is the median wall time of rs (the mean of the middle two for
// an even count).
func medianWall(rs []*run) float64 {
	w := make([]float64, len(rs))
	for i, r := range rs {
		w[i] = r.wall
	}
	sort.Float64s(w)
	m := len(w) / 2
	switch {
	case len(w) == 0:
		return 0
	case len(w)%2 == 1:
		return w[m]
	}
	return (w[m-1] + w[m]) / 2
}

// seconds formats a wall time: milliseconds under a second (no-op runs
// take tens of them), hundredths above.
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.3f s", s)
	}
	return fmt.Sprintf("%.2f s", s)
}

var (
	outRe  = regexp.MustCompile(` in=(\d+) out=(\d+)`)
	bodyRe = regexp.MustCompile(` body_count=(\d+)`)
	hdrRe  = regexp.MustCompile(` hdr_count=(\d+)`)
)

// sessions attributes Dovecot's imap logout lines to runs.
func sessions(path string, runs []*run) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v (IMAP session counts left at 0)\n", err)
		return
	}
	defer f.Close()
	byTool := map[string][]*run{}
	for _, r := range runs {
		byTool[r.tool] = append(byTool[r.tool], r)
	}
	for _, rs := range byTool {
		sort.Slice(rs, func(i, j int) bool { return rs[i].logOff < rs[j].logOff })
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	var off int64
	for sc.Scan() {
		line := sc.Text()
		start := off
		off += int64(len(line)) + 1
		m := outRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for tool, rs := range byTool {
			if !strings.Contains(line, " imap("+tool+")") {
				continue
			}
			var cur *run
			for _, r := range rs {
				if r.logOff <= start {
					cur = r
				}
			}
			if cur != nil {
				n, _ := strconv.ParseInt(m[2], 10, 64)
				cur.sessions++
				cur.outBytes += n
				if c := bodyRe.FindStringSubmatch(line); c != nil {
					k, _ := strconv.Atoi(c[1])
					cur.bodies += k
					cur.counted++
				}
				if c := hdrRe.FindStringSubmatch(line); c != nil {
					k, _ := strconv.Atoi(c[1])
					cur.headers += k
				}
			}
		}
	}
}

var (
	emuOpenRe  = regexp.MustCompile(`conn (\d+): open$`)
	emuCloseRe = regexp.MustCompile(`conn (\d+): up (\d+) B, down (\d+) B, [0-9.]+ s, compress=(true|false)`)
)

// linkemuConns attributes bench/linkemu's connections to runs: a
// connection belongs to the run whose linkemu log offset is the largest at
// or before its "open" line (the tool opens it while it runs; its close
// line may come a little after the run). It reports whether any run had
// an offset.
func linkemuConns(path string, runs []*run) bool {
	var rs []*run
	for _, r := range runs {
		if r.emuOff >= 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return false
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].emuOff < rs[j].emuOff })
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v (no linkemu figures)\n", err)
		return false
	}
	defer f.Close()
	owner := map[string]*run{}
	sc := bufio.NewScanner(f)
	var off int64
	for sc.Scan() {
		line := sc.Text()
		start := off
		off += int64(len(line)) + 1
		if m := emuOpenRe.FindStringSubmatch(line); m != nil {
			var cur *run
			for _, r := range rs {
				if r.emuOff <= start {
					cur = r
				}
			}
			if cur != nil {
				owner[m[1]] = cur
				cur.emuConns++
			}
			continue
		}
		if m := emuCloseRe.FindStringSubmatch(line); m != nil {
			if r := owner[m[1]]; r != nil {
				n, _ := strconv.ParseInt(m[3], 10, 64)
				r.emuDown += n
				if m[4] == "true" {
					r.emuCompress++
				}
			}
		}
	}
	return true
}

func readTSV(path string) [][]string {
	b, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" {
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	return rows
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "report: "+format+"\n", args...)
	os.Exit(1)
}
