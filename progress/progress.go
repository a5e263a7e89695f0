// Package progress shows how far long work has got, with an ETA: a
// progress bar on a terminal, and on anything else (a log, CI) one plain
// line every few seconds. Everything goes to stderr.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar reports progress through a known number of steps.
type Bar struct {
	bar   *progressbar.ProgressBar // nil when not on a terminal
	w     io.Writer
	desc  string
	total int
	done  int
	start time.Time
	last  time.Time
	note  string
}

// Quiet silences every bar (for tests and scripted use).
var Quiet bool

// New starts a bar for total steps labelled desc.
func New(total int, desc string) *Bar {
	b := &Bar{w: os.Stderr, desc: desc, total: total, start: time.Now(), last: time.Now()}
	if Quiet {
		b.w = io.Discard
		return b
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
		)
	}
	return b
}

// Add advances the bar by n steps; note, when not empty, replaces the
// short status (losses, accuracy) shown beside it.
func (b *Bar) Add(n int, note string) {
	b.done += n
	if note != "" {
		b.note = note
	}
	if b.bar != nil {
		if note != "" {
			b.bar.Describe(b.desc + " " + note)
		}
		b.bar.Add(n)
		return
	}
	if time.Since(b.last) >= 5*time.Second || b.done == b.total {
		b.last = time.Now()
		fmt.Fprintf(b.w, "%s %d/%d %s, ETA %s\n", b.desc, b.done, b.total, b.note, b.eta().Round(time.Second))
	}
}

// eta estimates the time left from the mean pace so far.
func (b *Bar) eta() time.Duration {
	if b.done == 0 {
		return 0
	}
	per := time.Since(b.start) / time.Duration(b.done)
	return per * time.Duration(b.total-b.done)
}

// Finish completes the bar.
func (b *Bar) Finish() {
	if b.bar != nil {
		b.bar.Finish()
		return
	}
	fmt.Fprintf(b.w, "%s done in %s %s\n", b.desc, time.Since(b.start).Round(time.Second), b.note)
}

// Printf writes a line that does not break the bar.
func Printf(format string, args ...any) {
	if Quiet {
		return
	}
	fmt.Fprintf(os.Stderr, format, args...)
}
