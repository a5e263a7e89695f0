package sheet

import (
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"io"

	"ganshift/biggan"
	"ganshift/internal/atomicfile"
)

// PingPong is the frame order of an animation of n steps that goes from
// the first step to the last and back without repeating either end:
// 0, 1, …, n−1, n−2, …, 1. It has 2n−2 frames (n for n < 2).
func PingPong(n int) []int {
	out := make([]int, 0, max(2*n-2, n))
	for i := range n {
		out = append(out, i)
	}
	for i := n - 2; i >= 1; i-- {
		out = append(out, i)
	}
	return out
}

// InterpSteps draws the class interpolation of Interp in steps ≥ 2 even
// steps: image k is a column with one sample per pair, z fixed (row i
// uses z[i]) and the class embedding at t = k/(steps−1) of the way from
// the pair's first class to its second.
func InterpSteps(g *biggan.Generator, pairs [][2]int64, z []float32, steps int) ([]*image.RGBA, error) {
	dz := g.Cfg.DimZ
	if len(z) != len(pairs)*dz {
		return nil, fmt.Errorf("sheet: %d latent values for %d rows of dim_z %d", len(z), len(pairs), dz)
	}
	if steps < 2 {
		return nil, fmt.Errorf("sheet: %d interpolation steps, need at least 2", steps)
	}
	n := steps * len(pairs)
	zs := make([]float32, 0, n*dz)
	a, b, t := make([]int64, n), make([]int64, n), make([]float32, n)
	for k := range steps {
		for r, p := range pairs {
			i := k*len(pairs) + r
			zs = append(zs, z[r*dz:(r+1)*dz]...)
			a[i], b[i], t[i] = p[0], p[1], float32(k)/float32(steps-1)
		}
	}
	pix, err := g.Blend(zs, a, b, t, 50)
	if err != nil {
		return nil, err
	}
	res := g.Cfg.Resolution
	per := len(pairs) * 3 * res * res
	out := make([]*image.RGBA, steps)
	for k := range out {
		out[k] = Grid(pix[k*per:(k+1)*per], len(pairs), 3, res, res, 1, 2, Scale(res))
	}
	return out, nil
}

// CompareInterpSteps is InterpSteps for several generators: step k puts
// their columns side by side under their titles (a single generator's
// column has no title).
func CompareInterpSteps(gens []*biggan.Generator, titles []string, pairs [][2]int64, z []float32, steps int) ([]*image.RGBA, error) {
	if len(gens) != len(titles) {
		return nil, fmt.Errorf("sheet: %d generators with %d titles", len(gens), len(titles))
	}
	cols := make([][]*image.RGBA, len(gens))
	for i, g := range gens {
		c, err := InterpSteps(g, pairs, z, steps)
		if err != nil {
			return nil, fmt.Errorf("sheet: %s: %w", titles[i], err)
		}
		cols[i] = c
	}
	if len(gens) == 1 {
		return cols[0], nil
	}
	out := make([]*image.RGBA, steps)
	panels := make([]image.Image, len(gens))
	for k := range out {
		for i := range gens {
			panels[i] = cols[i][k]
		}
		out[k] = Labeled(panels, titles, 8)
	}
	return out, nil
}

// SaveGIF writes frames as an animated GIF that loops forever, frame i
// shown for delays[i] hundredths of a second. Colours are reduced to the
// Plan 9 palette with Floyd-Steinberg dithering. The file is written
// atomically.
func SaveGIF(path string, frames []image.Image, delays []int) error {
	if len(frames) == 0 || len(frames) != len(delays) {
		return fmt.Errorf("sheet: %s: %d frames with %d delays", path, len(frames), len(delays))
	}
	anim := &gif.GIF{LoopCount: 0}
	for _, f := range frames {
		b := f.Bounds()
		p := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), palette.Plan9)
		draw.FloydSteinberg.Draw(p, p.Bounds(), f, b.Min)
		anim.Image = append(anim.Image, p)
	}
	anim.Delay = append([]int(nil), delays...)
	return atomicfile.Write(path, func(w io.Writer) error {
		return gif.EncodeAll(w, anim)
	})
}
