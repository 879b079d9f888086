// Package progress draws the live progress of `mailsync sync` on a
// terminal: one line per account with the folder in progress, messages
// moved out of planned, bytes, rate and ETA, for the pull and for the push.
//
// It knows the engine only by its events (sync.Event) and the terminal
// only through an io.Writer: the caller decides whether there is a
// terminal to draw on. While the bars are drawn, anything else bound for
// the same terminal must go through Display.Log (lines above the bars) or
// Display.Hold (held until the bars are gone), or it garbles them.
package progress

import (
	"bytes"
	"errors"
	"io"
	gosync "sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	msync "mailsync/sync"
)

// barWidth is the width of the bar itself; the text around it takes the
// rest of the line.
const barWidth = 20

// refresh is how often a frame is drawn.
const refresh = 150 * time.Millisecond

// Options tune a Display; the zero value is what `mailsync sync` uses.
type Options struct {
	// Now is the clock the rates and ETAs are measured with; nil means
	// time.Now.
	Now func() time.Time
	// Frames, if not nil, draws a frame at each receive instead of every
	// 150 ms, so that a test sees each frame it asks for.
	Frames <-chan time.Time
	// Width is the line width when out is not a terminal (on a terminal
	// the terminal's width is used); 0 means 80.
	Width int
}

// Display draws the bars on out from the events given to Event, until
// Stop.
type Display struct {
	p      *mpb.Progress
	out    io.Writer
	now    func() time.Time
	redraw chan any
	quit   chan struct{}
	ticked gosync.WaitGroup

	// barsMu guards accounts and stopped. It is never held while mpb
	// draws (the decorators lock only an account), so an event cannot
	// deadlock with a frame.
	barsMu   gosync.Mutex
	accounts map[string]*accountBar
	order    []*accountBar
	stopped  bool

	// outMu orders what goes to out around the bars: while live is set,
	// log lines go through mpb and held output is kept; Stop clears live
	// under it after the last frame.
	outMu output
	// shut hears when mpb has shut down, also should it give up early
	// (it stops drawing when a frame fails).
	shut chan any
}

// output is outMu's state.
type output struct {
	gosync.Mutex
	live bool
	held []heldWrite
}

// heldWrite is output kept for after the bars.
type heldWrite struct {
	w io.Writer
	b []byte
}

// accountBar is an account's state and its bar.
type accountBar struct {
	*account
	bar *mpb.Bar
}

// New starts a display on out. It draws an account's bar from the account's
// first event on; with no events it draws nothing but Log's lines.
func New(out io.Writer, o Options) *Display {
	d := &Display{
		out:      out,
		now:      o.Now,
		redraw:   make(chan any),
		quit:     make(chan struct{}),
		shut:     make(chan any, 1),
		accounts: map[string]*accountBar{},
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.outMu.live = true
	// mpb redraws on its own clock, and only on a terminal; driving every
	// frame from here draws the same frames on any writer, the last one
	// in Stop, and lets tests ask for each frame.
	frames := o.Frames
	var ticker *time.Ticker
	if frames == nil {
		ticker = time.NewTicker(refresh)
		frames = ticker.C
	}
	d.ticked.Add(1)
	go func() {
		defer d.ticked.Done()
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case t := <-frames:
				select {
				case d.redraw <- t:
				case <-d.quit:
					return
				}
			case <-d.quit:
				return
			}
		}
	}()
	width := o.Width
	if width <= 0 {
		width = 80
	}
	// WithWidth is also the width of every bar: barWidth is set per bar.
	d.p = mpb.New(mpb.WithOutput(out), mpb.WithManualRefresh(d.redraw), mpb.WithWidth(width),
		mpb.WithShutdownNotifier(d.shut))
	return d
}

// Event updates the bars with ev. It is safe for concurrent use and does
// not wait for a frame to be drawn.
func (d *Display) Event(ev msync.Event) {
	a := d.bar(ev.Account)
	if a == nil {
		return
	}
	a.event(ev, d.now())
}

// bar returns the account's bar, adding it at the account's first event:
// an account that moves nothing through this process (a daemon syncs it,
// or it failed to start) gets no line.
func (d *Display) bar(name string) *accountBar {
	d.barsMu.Lock()
	defer d.barsMu.Unlock()
	if d.stopped {
		return nil
	}
	if a := d.accounts[name]; a != nil {
		return a
	}
	a := &accountBar{account: newAccount()}
	// Total 0: the bar never ends by itself; Stop ends it. Its filling
	// comes from the account's counts, not from mpb's.
	bar, err := d.p.Add(0, filler{mpb.BarStyle().Build(), a.account},
		mpb.BarWidth(barWidth),
		mpb.PrependDecorators(
			decor.Name(name, decor.WC{C: decor.DSyncWidthR | decor.DextraSpace}),
			decor.Any(func(decor.Statistics) string { return a.folder() }, decor.WC{C: decor.DSyncWidthR}),
		),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return a.counts(d.now()) })),
	)
	if err != nil {
		return nil
	}
	a.bar = bar
	d.accounts[name] = a
	d.order = append(d.order, a)
	return a
}

// filler fills the bar from an account's counts.
type filler struct {
	mpb.BarFiller
	a *account
}

func (f filler) Fill(w io.Writer, st decor.Statistics) error {
	st.Current, st.Total = f.a.fraction()
	return f.BarFiller.Fill(w, st)
}

// Log returns a writer for log lines: while the bars are drawn they print
// above them; after Stop they go straight to out. Each Write should be
// whole lines.
func (d *Display) Log() io.Writer { return logWriter{d} }

type logWriter struct{ d *Display }

func (l logWriter) Write(b []byte) (int, error) {
	d := l.d
	d.outMu.Lock()
	defer d.outMu.Unlock()
	if d.outMu.live {
		n, err := d.p.Write(b)
		if !errors.Is(err, mpb.ErrDone) {
			return n, err
		}
		// mpb gave up drawing: the terminal is free.
	}
	return d.out.Write(b)
}

// Hold returns a writer that keeps what is written to it until Stop, which
// writes it to w after the bars' last frame; after Stop it writes to w
// directly. Output for another stream on the same terminal (stdout) goes
// through it, so it doesn't land between two frames.
func (d *Display) Hold(w io.Writer) io.Writer { return holdWriter{d, w} }

type holdWriter struct {
	d *Display
	w io.Writer
}

func (h holdWriter) Write(b []byte) (int, error) {
	d := h.d
	d.outMu.Lock()
	defer d.outMu.Unlock()
	if d.outMu.live {
		d.outMu.held = append(d.outMu.held, heldWrite{h.w, bytes.Clone(b)})
		return len(b), nil
	}
	return h.w.Write(b)
}

// Stop draws the last frame, with each account's totals, ends the bars and
// then writes what Hold kept. Events after Stop are ignored. Stop is
// idempotent.
func (d *Display) Stop() {
	d.barsMu.Lock()
	if d.stopped {
		d.barsMu.Unlock()
		return
	}
	d.stopped = true
	bars := d.order
	d.barsMu.Unlock()

	// outMu is held from the last frame on, so that no log line can
	// slip into mpb after it (it would never be printed) or onto the
	// terminal before it.
	d.outMu.Lock()
	defer d.outMu.Unlock()
	now := d.now()
	for _, a := range bars {
		a.stop(now)
	}
	// The last frame, which also prints the log lines mpb holds. mpb
	// takes the request before the bars end and draws it before it shuts
	// down.
	select {
	case d.redraw <- now:
	case <-d.shut:
	}
	close(d.quit)
	d.ticked.Wait()
	for _, a := range bars {
		a.bar.SetTotal(-1, true)
	}
	d.p.Wait()
	d.outMu.live = false
	for _, h := range d.outMu.held {
		_, _ = h.w.Write(h.b)
	}
	d.outMu.held = nil
}
