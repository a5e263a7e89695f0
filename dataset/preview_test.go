package dataset

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"
)

// TestTypesetPreview writes a 10×10 grid of typeset digits to the PNG file
// named by $GANSHIFT_PREVIEW, for a person to look at. Without the variable
// it is skipped. Row r of the grid holds digits with label r.
func TestTypesetPreview(t *testing.T) {
	path := os.Getenv("GANSHIFT_PREVIEW")
	if path == "" {
		t.Skip("set GANSHIFT_PREVIEW=/path/to/preview.png to write a preview grid")
	}
	im, err := RenderTypeset(200, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeGridPNG(path, im, 10, 3); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// writeGridPNG writes the first cols images of each label 0..9 of im as a
// grid of 10 rows, each pixel scaled up to a scale×scale block, with a
// 1-pixel (scaled) white gap between images.
func writeGridPNG(path string, im *Images, cols, scale int) error {
	rows := make([][]int, 10)
	for i, l := range im.Labels {
		if l >= 0 && l < 10 && len(rows[l]) < cols {
			rows[l] = append(rows[l], i)
		}
	}
	cell := (im.W + 1) * scale
	grid := image.NewRGBA(image.Rect(0, 0, cols*cell, 10*((im.H+1)*scale)))
	for i := range grid.Pix {
		grid.Pix[i] = 255
	}
	for r, idx := range rows {
		for c, i := range idx {
			drawImage(grid, im, i, c*cell, r*(im.H+1)*scale, scale)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, grid); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// drawImage draws image i of im (1 or 3 channels) into dst at (x0, y0),
// each pixel as a scale×scale block.
func drawImage(dst *image.RGBA, im *Images, i, x0, y0, scale int) {
	pix := im.Image(i)
	plane := im.H * im.W
	byte8 := func(v float32) uint8 { return uint8(min(max((v+1)*127.5+0.5, 0), 255)) }
	for y := range im.H {
		for x := range im.W {
			var c [3]uint8
			for k := range 3 {
				c[k] = byte8(pix[min(k, im.C-1)*plane+y*im.W+x])
			}
			for dy := range scale {
				for dx := range scale {
					dst.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, color.RGBA{c[0], c[1], c[2], 255})
				}
			}
		}
	}
}
