// Package report draws the pictures and pages that let people compare
// fine-tuning runs: the loss and score curves of a run, its report.html,
// and a sweep's contact sheet and report.html. It reads only the files of
// run directories.
package report

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"ganshift/internal/atomicfile"
)

// Line is one named curve: Y[i] at iteration X[i].
type Line struct {
	Name string
	X, Y []float64
}

// Panel is one plot of several lines.
type Panel struct {
	Title string
	Lines []Line
}

// Curves writes a PNG with the panels side by side, x being the iteration.
func Curves(path string, panels ...Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("report: %s: nothing to plot", path)
	}
	plots := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p, err := newPlot(pn)
		if err != nil {
			return fmt.Errorf("report: %s: %w", path, err)
		}
		plots[i] = p
	}

	img := vgimg.New(vg.Length(len(panels))*4.5*vg.Inch, 3.5*vg.Inch)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter, PadY: vg.Millimeter}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, draw.New(img))
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

func newPlot(pn Panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.Title
	p.X.Label.Text = "iteration"
	p.Add(plotter.NewGrid())
	for i, l := range pn.Lines {
		if len(l.X) != len(l.Y) || len(l.X) == 0 {
			return nil, fmt.Errorf("line %q: %d x and %d y values", l.Name, len(l.X), len(l.Y))
		}
		pts := make(plotter.XYs, len(l.X))
		for j := range l.X {
			pts[j].X, pts[j].Y = l.X[j], l.Y[j]
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", l.Name, err)
		}
		line.Color = lineColor(i)
		p.Add(line)
		p.Legend.Add(l.Name, line)
	}
	p.Legend.Top = true
	return p, nil
}

func lineColor(i int) color.Color { return plotutil.Color(i) }
