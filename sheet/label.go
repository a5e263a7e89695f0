package sheet

import (
	"fmt"
	"image"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

const (
	// lineHeight is the height of a line of text in basicfont.Face7x13.
	lineHeight = 13
	// titleGap separates a title from the panel below it.
	titleGap = 4
	// labelPad is the space on each side of the row labels.
	labelPad = 4
)

// face is the font of titles and labels.
var face = basicfont.Face7x13

// Labeled places panels side by side, top aligned, on a white background,
// each under its title written in black with basicfont.Face7x13. Panels
// and the outer edges are separated by pad pixels. Each panel gets a
// column as wide as the wider of the panel and its title, centred in it.
// Labeled panics if len(titles) != len(panels).
func Labeled(panels []image.Image, titles []string, pad int) *image.RGBA {
	if len(titles) != len(panels) {
		panic(fmt.Sprintf("sheet: Labeled: %d titles for %d panels", len(titles), len(panels)))
	}
	colW := make([]int, len(panels))
	width, height := pad, 0
	for i, p := range panels {
		colW[i] = max(p.Bounds().Dx(), textWidth(titles[i]))
		width += colW[i] + pad
		height = max(height, p.Bounds().Dy())
	}
	top := pad + lineHeight + titleGap
	img := newWhite(width, top+height+pad)
	x := pad
	for i, p := range panels {
		drawText(img, x+(colW[i]-textWidth(titles[i]))/2, pad, titles[i])
		drawOver(img, image.Pt(x+(colW[i]-p.Bounds().Dx())/2, top), p)
		x += colW[i] + pad
	}
	return img
}

// RowLabels returns img with a white margin added on its left holding
// labels[i] right-aligned and vertically centred on the band of rows
// [top+i*rowHeight, top+(i+1)*rowHeight) of img. For a Grid with padding
// pad and cell height h*scale, top = pad/2 and rowHeight = h*scale+pad
// centre each label on its row of images. The margin is as wide as the
// widest label plus 4 pixels on each side, or 0 if all labels are empty.
func RowLabels(img image.Image, labels []string, top, rowHeight int) *image.RGBA {
	margin := 0
	for _, l := range labels {
		margin = max(margin, textWidth(l))
	}
	if margin > 0 {
		margin += 2 * labelPad
	}
	b := img.Bounds()
	out := newWhite(margin+b.Dx(), b.Dy())
	drawOver(out, image.Pt(margin, 0), img)
	for i, l := range labels {
		y := top + i*rowHeight + (rowHeight-lineHeight)/2
		drawText(out, margin-labelPad-textWidth(l), y, l)
	}
	return out
}

// textWidth returns the width of s in pixels.
func textWidth(s string) int {
	return font.MeasureString(face, s).Ceil()
}

// drawText writes s in black on dst with the top of its line at (x, y).
func drawText(dst *image.RGBA, x, y int, s string) {
	d := font.Drawer{
		Dst:  dst,
		Src:  image.Black,
		Face: face,
		Dot:  fixed.P(x, y+face.Ascent),
	}
	d.DrawString(s)
}
