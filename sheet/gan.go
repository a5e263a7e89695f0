package sheet

import (
	"fmt"
	"image"

	"ganshift/biggan"
)

// Scale is the enlargement used for sheets of images of size res, so that
// 32×32 samples are easy to look at.
func Scale(res int) int {
	if res <= 32 {
		return 2
	}
	return 1
}

// Samples draws the images of z and y from g as a grid of cols columns.
func Samples(g *biggan.Generator, z []float32, y []int64, cols int) (*image.RGBA, error) {
	pix, err := g.Images(z, y, 50)
	if err != nil {
		return nil, err
	}
	res := g.Cfg.Resolution
	return Grid(pix, len(y), 3, res, res, cols, 2, Scale(res)), nil
}

// Compare draws the same z and y from each generator and puts the grids
// side by side under their titles.
func Compare(gens []*biggan.Generator, titles []string, z []float32, y []int64, cols int) (*image.RGBA, error) {
	return compare(gens, titles, func(g *biggan.Generator) (*image.RGBA, error) {
		return Samples(g, z, y, cols)
	})
}

func compare(gens []*biggan.Generator, titles []string, draw func(*biggan.Generator) (*image.RGBA, error)) (*image.RGBA, error) {
	if len(gens) != len(titles) {
		return nil, fmt.Errorf("sheet: %d generators with %d titles", len(gens), len(titles))
	}
	panels := make([]image.Image, len(gens))
	for i, g := range gens {
		img, err := draw(g)
		if err != nil {
			return nil, fmt.Errorf("sheet: %s: %w", titles[i], err)
		}
		panels[i] = img
	}
	if len(panels) == 1 {
		return panels[0].(*image.RGBA), nil
	}
	return Labeled(panels, titles, 8), nil
}

// InterpCols is the number of columns of an interpolation row: two
// endpoints and eight midpoints, as in the reference code's sheets.
const InterpCols = 10

// Interp draws one row per class pair: z fixed (row i uses z[i]) while the
// class embedding moves in InterpCols steps from the first class to the
// second, as in the paper's Figure 3.
func Interp(g *biggan.Generator, pairs [][2]int64, z []float32) (*image.RGBA, error) {
	dz := g.Cfg.DimZ
	if len(z) != len(pairs)*dz {
		return nil, fmt.Errorf("sheet: %d latent values for %d rows of dim_z %d", len(z), len(pairs), dz)
	}
	n := len(pairs) * InterpCols
	zs := make([]float32, 0, n*dz)
	a, b, t := make([]int64, n), make([]int64, n), make([]float32, n)
	for r, p := range pairs {
		for c := range InterpCols {
			i := r*InterpCols + c
			zs = append(zs, z[r*dz:(r+1)*dz]...)
			a[i], b[i], t[i] = p[0], p[1], float32(c)/float32(InterpCols-1)
		}
	}
	pix, err := g.Blend(zs, a, b, t, 50)
	if err != nil {
		return nil, err
	}
	res := g.Cfg.Resolution
	return Grid(pix, n, 3, res, res, InterpCols, 2, Scale(res)), nil
}

// CompareInterp is Interp for several generators side by side.
func CompareInterp(gens []*biggan.Generator, titles []string, pairs [][2]int64, z []float32) (*image.RGBA, error) {
	return compare(gens, titles, func(g *biggan.Generator) (*image.RGBA, error) {
		return Interp(g, pairs, z)
	})
}
