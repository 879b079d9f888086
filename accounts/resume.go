package accounts

import "time"

// resumeTick is how often the daemon compares its clocks.
const resumeTick = 10 * time.Second

// resumeSlack is how far the wall clock may run ahead of the monotonic one
// between two ticks before that counts as a suspend: more than a clock
// adjustment by NTP, less than any real sleep.
const resumeSlack = 5 * time.Second

// resumeDetector notices that the machine was suspended and resumed. On
// Linux the monotonic clock stops while the machine sleeps and the wall
// clock does not, so after a resume the wall clock has moved further than
// the monotonic one since the last look. Connections held across a sleep
// are dead, and timers set before it fire late.
type resumeDetector struct {
	wall     func() time.Time     // the wall clock alone
	mono     func() time.Duration // the monotonic clock
	lastWall time.Time
	lastMono time.Duration
}

func newResumeDetector(wall func() time.Time, mono func() time.Duration) *resumeDetector {
	d := &resumeDetector{wall: wall, mono: mono}
	d.lastWall, d.lastMono = wall(), mono()
	return d
}

// systemClocks reads the real clocks: time.Now carries both readings, and
// Round(0) drops the monotonic one, so Sub compares wall times.
func systemClocks() (wall func() time.Time, mono func() time.Duration) {
	start := time.Now()
	return func() time.Time { return time.Now().Round(0) }, func() time.Duration { return time.Since(start) }
}

// check reports whether a suspend happened since the last check, and how
// long the machine slept.
func (d *resumeDetector) check() (slept time.Duration, resumed bool) {
	w, m := d.wall(), d.mono()
	gap := w.Sub(d.lastWall) - (m - d.lastMono)
	d.lastWall, d.lastMono = w, m
	return gap, gap > resumeSlack
}
