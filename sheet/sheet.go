// Package sheet lays out generated images as grids and labelled panels
// and saves them as PNG files.
//
// Images come as float32 tensors in CHW or NCHW layout with values in
// [-1, 1] and 1 (grayscale) or 3 (RGB) channels.
package sheet

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"ganshift/internal/atomicfile"
)

// Grid lays out n images given as float32 NCHW data in [-1, 1] (c is 1 or
// 3) in a grid with cols columns, filled row by row. Each image is upscaled
// by an integer factor scale ≥ 1 with nearest-neighbour sampling, and pad
// pixels of white background surround and separate the images, so image i
// has its top-left corner at
//
//	(pad + (i%cols)*(w*scale+pad), pad + (i/cols)*(h*scale+pad)).
//
// Values are clamped to [-1, 1] and mapped to round((x+1)*127.5); NaN maps
// to 0. Grid panics if the arguments are inconsistent, for instance if data
// holds fewer than n*c*h*w values.
func Grid(data []float32, n, c, h, w, cols, pad, scale int) *image.RGBA {
	checkArgs("Grid", len(data), n, c, h, w, cols, pad, scale)
	rows := (n + cols - 1) / cols
	cellW, cellH := w*scale, h*scale
	img := newWhite(cols*cellW+(cols+1)*pad, rows*cellH+(rows+1)*pad)
	size := c * h * w
	for i := range n {
		x0 := pad + (i%cols)*(cellW+pad)
		y0 := pad + (i/cols)*(cellH+pad)
		drawSample(img, data[i*size:(i+1)*size], c, h, w, x0, y0, scale)
	}
	return img
}

// ToImage converts one CHW image with values in [-1, 1] (c is 1 or 3) to
// an opaque w×h image, with the same value mapping as Grid.
func ToImage(data []float32, c, h, w int) *image.RGBA {
	checkArgs("ToImage", len(data), 1, c, h, w, 1, 0, 1)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	drawSample(img, data[:c*h*w], c, h, w, 0, 0, 1)
	return img
}

// checkArgs panics with a message naming fn if the arguments of Grid or
// ToImage are inconsistent.
func checkArgs(fn string, dataLen, n, c, h, w, cols, pad, scale int) {
	var msg string
	switch {
	case c != 1 && c != 3:
		msg = fmt.Sprintf("%d channels, want 1 or 3", c)
	case n < 0 || h <= 0 || w <= 0:
		msg = fmt.Sprintf("invalid size n=%d h=%d w=%d", n, h, w)
	case cols <= 0 || pad < 0 || scale < 1:
		msg = fmt.Sprintf("invalid layout cols=%d pad=%d scale=%d", cols, pad, scale)
	case dataLen < n*c*h*w:
		msg = fmt.Sprintf("%d values, want %d×%d×%d×%d = %d", dataLen, n, c, h, w, n*c*h*w)
	default:
		return
	}
	panic("sheet: " + fn + ": " + msg)
}

// drawSample draws the CHW image src with its top-left corner at (x0, y0)
// of dst, each pixel as a scale×scale block.
func drawSample(dst *image.RGBA, src []float32, c, h, w, x0, y0, scale int) {
	plane := h * w
	for y := range h {
		for x := range w {
			i := y*w + x
			r := toByte(src[i])
			g, b := r, r
			if c == 3 {
				g, b = toByte(src[plane+i]), toByte(src[2*plane+i])
			}
			fillBlock(dst, x0+x*scale, y0+y*scale, scale, color.RGBA{r, g, b, 255})
		}
	}
}

// fillBlock sets the size×size block with top-left corner (x, y) to col.
func fillBlock(dst *image.RGBA, x, y, size int, col color.RGBA) {
	for dy := range size {
		off := dst.PixOffset(x, y+dy)
		for dx := range size {
			p := dst.Pix[off+4*dx : off+4*dx+4 : off+4*dx+4]
			p[0], p[1], p[2], p[3] = col.R, col.G, col.B, col.A
		}
	}
}

// toByte maps v in [-1, 1] to round((v+1)*127.5), clamping values outside
// the range and mapping NaN to 0.
func toByte(v float32) uint8 {
	switch {
	case !(v > -1): // also NaN
		return 0
	case v >= 1:
		return 255
	}
	return uint8(math.Round((float64(v) + 1) * 127.5))
}

// newWhite returns a w×h image filled with opaque white.
func newWhite(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return img
}

// SavePNG encodes img as PNG and writes it to path atomically (see
// atomicfile.Write).
func SavePNG(path string, img image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		return png.Encode(w, img)
	})
}

// drawOver composites src, aligned at its bounds' minimum, onto dst with
// its top-left corner at p.
func drawOver(dst draw.Image, p image.Point, src image.Image) {
	b := src.Bounds()
	draw.Draw(dst, image.Rectangle{p, p.Add(b.Size())}, src, b.Min, draw.Over)
}
