package progress

import (
	"fmt"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	msync "mailsync/sync"
)

// folderWidth bounds the folder column, so that a deep folder path leaves
// room for the counts.
const folderWidth = 24

// account is what one account's bar shows, kept from its events.
type account struct {
	mu      gosync.Mutex
	active  []string // folders started and not finished, oldest first
	last    string   // the folder most recently started or finished
	planned map[string]*[2]int
	moved   map[string]*[2]int
	dirs    [2]direction // by msync.Direction
	stopped bool
}

// direction is one way's tally: messages planned and moved, bytes moved,
// and the time spent with messages outstanding, which the rate and the ETA
// are measured over (time spent comparing flags between folders is not
// transfer time).
type direction struct {
	total, done int
	bytes       int64
	busy        time.Duration
	mark        time.Time // when busy was last brought up to date
}

func newAccount() *account {
	return &account{planned: map[string]*[2]int{}, moved: map[string]*[2]int{}}
}

// elapsed is the time spent with work outstanding, up to now.
func (d *direction) elapsed(now time.Time) time.Duration {
	e := d.busy
	if d.total > d.done && !d.mark.IsZero() {
		e += now.Sub(d.mark)
	}
	return e
}

// settle brings busy up to now; it comes before every change of total or
// done, so that busy counts only the time work was outstanding.
func (d *direction) settle(now time.Time) {
	d.busy, d.mark = d.elapsed(now), now
}

// event applies ev, which happened at now.
func (a *account) event(ev msync.Event, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.dirs {
		a.dirs[i].settle(now)
	}
	switch ev.Kind {
	case msync.FolderStarted:
		a.active = append(a.active, ev.Folder)
		a.last = ev.Folder
	case msync.FolderPlanned:
		p := &[2]int{ev.Pulls, ev.Pushes}
		a.planned[ev.Folder] = p
		a.moved[ev.Folder] = &[2]int{}
		for i, n := range p {
			a.dirs[i].total += n
		}
	case msync.Transferred:
		if ev.Dir != msync.Pull && ev.Dir != msync.Push {
			return
		}
		d := &a.dirs[ev.Dir]
		d.done += ev.N
		d.bytes += ev.Bytes
		if m := a.moved[ev.Folder]; m != nil {
			m[ev.Dir] += ev.N
		}
		// A folder's count can only fall short of its plan, but should
		// the events ever say more moved than planned, the bar still
		// reads as whole rather than past its end.
		d.total = max(d.total, d.done)
	case msync.FolderFinished:
		a.last = ev.Folder
		for i, f := range a.active {
			if f == ev.Folder {
				a.active = append(a.active[:i], a.active[i+1:]...)
				break
			}
		}
		// What a failed or cut-short folder did not move is no longer
		// to come: it leaves the totals, so that the bar can end full and
		// the ETA does not wait for it.
		if p, m := a.planned[ev.Folder], a.moved[ev.Folder]; p != nil {
			for i := range a.dirs {
				if left := p[i] - m[i]; left > 0 {
					a.dirs[i].total -= left
				}
			}
		}
		delete(a.planned, ev.Folder)
		delete(a.moved, ev.Folder)
	}
}

// stop freezes the account's line as the run's last word.
func (a *account) stop(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.dirs {
		a.dirs[i].settle(now)
	}
	a.active = nil
	a.stopped = true
}

// fraction is the bar's filling: messages moved out of planned, both ways.
func (a *account) fraction() (done, total int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range a.dirs {
		done += int64(d.done)
		total += int64(d.total)
	}
	return done, total
}

// folder is the folder column: the folder most recently started, and how
// many others are in progress beside it; between folders, the one just
// finished.
func (a *account) folder() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s string
	switch n := len(a.active); {
	case a.stopped:
		s = "done"
	case n == 0:
		s = a.last
	case n == 1:
		s = a.active[0]
	default:
		s = fmt.Sprintf("%s +%d", a.active[n-1], n-1)
	}
	return truncate(s, folderWidth)
}

// counts is the text after the bar: each direction that has had work,
// with messages, bytes, rate and ETA.
func (a *account) counts(now time.Time) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for i, arrow := range []string{"↓", "↑"} {
		d := &a.dirs[i]
		if d.total == 0 && d.done == 0 {
			continue
		}
		parts = append(parts, arrow+" "+d.line(now, !a.stopped))
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, "   ")
	case a.stopped:
		return "nothing to transfer"
	default:
		return "checking"
	}
}

// line is one direction: "12/40 1.2 MiB 300 KiB/s ETA 9s", with an ETA
// while work is outstanding and withETA.
func (d *direction) line(now time.Time, withETA bool) string {
	s := fmt.Sprintf("%d/%d %s", d.done, d.total, size(d.bytes))
	left := d.total - d.done
	el := d.elapsed(now)
	if d.done == 0 || el <= 0 {
		if left > 0 && withETA {
			s += " ETA -"
		}
		return s
	}
	s += " " + size(int64(float64(d.bytes)/el.Seconds())) + "/s"
	if left > 0 && withETA {
		s += " ETA " + eta(time.Duration(float64(el)*float64(left)/float64(d.done)))
	}
	return s
}

// size is n bytes in binary units, to three significant digits or so.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n)/unit, 0
	for v >= unit && exp < 4 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}

// eta is a duration rounded to what a reader can use: to the second under
// an hour ("4m5s"), to the minute beyond ("2h10m").
func eta(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
