package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// The geometry of one SVG panel, in CSS pixels.
const (
	svgW, svgH           = 440, 250
	svgLeft, svgRight    = 56, 12
	svgTop, svgBottom    = 28, 36
	svgPlotW, svgPlotH   = svgW - svgLeft - svgRight, svgH - svgTop - svgBottom
	svgTicks, svgMaxPts  = 5, 4000
	svgLegendLineHeight  = 14
	svgLegendSwatchWidth = 16
)

// svgColors are the colours of a panel's lines, in order.
var svgColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// CurvesSVG draws each panel as an <svg> element of the class "curve",
// iteration on x, for inlining in a page. Non-finite values are left out.
// Each panel carries a hidden vertical line of the class "marker" and
// data-x0, data-x1, data-left and data-width attributes that map an
// iteration to its x position, so that a script can mark an iteration.
func CurvesSVG(panels ...Panel) string {
	var b strings.Builder
	for _, p := range panels {
		writePanel(&b, p)
	}
	return b.String()
}

func writePanel(b *strings.Builder, p Panel) {
	x0, x1 := 0.0, math.Inf(-1)
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, l := range p.Lines {
		for i := range min(len(l.X), len(l.Y)) {
			if !finite(l.X[i]) || !finite(l.Y[i]) {
				continue
			}
			x0, x1 = min(x0, l.X[i]), max(x1, l.X[i])
			y0, y1 = min(y0, l.Y[i]), max(y1, l.Y[i])
		}
	}
	if math.IsInf(x1, -1) { // no finite point at all
		x1, y0, y1 = 1, 0, 1
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		pad := max(math.Abs(y0)*0.1, 0.5)
		y0, y1 = y0-pad, y1+pad
	} else {
		pad := (y1 - y0) * 0.05
		y0, y1 = y0-pad, y1+pad
	}
	px := func(x float64) float64 { return svgLeft + (x-x0)/(x1-x0)*svgPlotW }
	py := func(y float64) float64 { return svgTop + (y1-y)/(y1-y0)*svgPlotH }

	fmt.Fprintf(b, `<svg class="curve" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" data-x0="%s" data-x1="%s" data-left="%d" data-width="%d">`,
		svgW, svgH, svgW, svgH, html.EscapeString(p.Title), exact(x0), exact(x1), svgLeft, svgPlotW)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#999"/>`, svgLeft, svgTop, svgPlotW, svgPlotH)
	fmt.Fprintf(b, `<text x="%d" y="18" text-anchor="middle" font-weight="bold">%s</text>`, svgLeft+svgPlotW/2, html.EscapeString(p.Title))
	for _, t := range ticks(x0, x1, svgTicks) {
		x := px(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`, x, svgTop, x, svgTop+svgPlotH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, svgTop+svgPlotH+14, formatNum(t))
	}
	for _, t := range ticks(y0, y1, svgTicks) {
		y := py(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, svgLeft, y, svgLeft+svgPlotW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, svgLeft-4, y, formatNum(t))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">iteration</text>`, svgLeft+svgPlotW/2, svgH-4)
	for i, l := range p.Lines {
		color := svgColors[i%len(svgColors)]
		for _, seg := range segments(l, px, py) {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`, color, seg)
		}
		ly := svgTop + 6 + i*svgLegendLineHeight
		lx := svgLeft + svgPlotW - 150
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, lx, ly+5, lx+svgLegendSwatchWidth, ly+5, color)
		fmt.Fprintf(b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`, lx+svgLegendSwatchWidth+4, ly+5, html.EscapeString(l.Name))
	}
	fmt.Fprintf(b, `<line class="marker" x1="0" y1="%d" x2="0" y2="%d" stroke="#000" stroke-dasharray="3 3" visibility="hidden"/>`, svgTop, svgTop+svgPlotH)
	b.WriteString("</svg>\n")
}

// segments are the polylines' point lists of l: finite points only, a
// gap wherever a value is not finite, at most svgMaxPts points in all.
func segments(l Line, px, py func(float64) float64) []string {
	n := min(len(l.X), len(l.Y))
	step := max(1, (n+svgMaxPts-1)/svgMaxPts)
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < n; i += step {
		if !finite(l.X[i]) || !finite(l.Y[i]) {
			flush()
			continue
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		fmt.Fprintf(&cur, "%.1f,%.1f", px(l.X[i]), py(l.Y[i]))
	}
	flush()
	return out
}

// ticks are round values (1, 2 or 5 times a power of ten apart) in
// [lo, hi], about n of them.
func ticks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * e
	switch f := raw / e; {
	case f < 1.5:
		step = e
	case f < 3:
		step = 2 * e
	case f < 7:
		step = 5 * e
	}
	var out []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		out = append(out, k*step+0) // +0: no "-0" label
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// exact writes v with as many digits as it needs, for attributes that a
// script reads back.
func exact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
