package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"ganshift/sheet"
)

// Contact sheet geometry: ContactPad around and between the columns
// (sheet.Labeled's pad), ContactGap between the cells of a column.
const (
	ContactPad = 8
	ContactGap = 6
)

// missingCell is the colour of a cell whose snapshot does not exist.
var missingCell = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}

// ReadSheet decodes a snapshot's samples.png.
func ReadSheet(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return img, nil
}

// CropSheet returns the top-left rows×cols samples of a sheet drawn as a
// sheet.Grid of sheetCols columns of square samples cell pixels wide,
// with the grid's padding around them. The padding is worked out from the
// sheet's width.
func CropSheet(img image.Image, sheetCols, cell, rows, cols int) (*image.RGBA, error) {
	b := img.Bounds()
	if sheetCols < 1 || cell < 1 || rows < 1 || cols < 1 {
		return nil, fmt.Errorf("report: crop of %d×%d samples from a sheet of %d columns of %d px", rows, cols, sheetCols, cell)
	}
	pad := (b.Dx() - sheetCols*cell) / (sheetCols + 1)
	if pad < 0 || sheetCols*cell+(sheetCols+1)*pad != b.Dx() {
		return nil, fmt.Errorf("report: a sheet %d px wide is not %d columns of %d px samples", b.Dx(), sheetCols, cell)
	}
	cols = min(cols, sheetCols)
	rows = min(rows, (b.Dy()-pad)/(cell+pad))
	if rows < 1 {
		return nil, fmt.Errorf("report: a sheet %d px high holds no row of %d px samples", b.Dy(), cell)
	}
	r := image.Rect(0, 0, pad+cols*(cell+pad), pad+rows*(cell+pad))
	out := image.NewRGBA(r)
	draw.Draw(out, r, img, b.Min, draw.Src)
	return out, nil
}

// Contact lays out cells[r][c] as a table: one row per label, one column
// per title written above it, ContactGap pixels between the cells of a
// column and ContactPad between columns. Every cell has the size of the
// first one that is not nil; a nil cell is drawn as a grey box. Contact
// panics if the table is not len(rowLabels)×len(colTitles) or holds no
// image.
func Contact(cells [][]image.Image, rowLabels, colTitles []string) *image.RGBA {
	if len(cells) != len(rowLabels) {
		panic(fmt.Sprintf("report: Contact: %d rows with %d labels", len(cells), len(rowLabels)))
	}
	var size image.Point
	for _, row := range cells {
		if len(row) != len(colTitles) {
			panic(fmt.Sprintf("report: Contact: a row of %d cells with %d titles", len(row), len(colTitles)))
		}
		for _, c := range row {
			if c != nil && size == (image.Point{}) {
				size = c.Bounds().Size()
			}
		}
	}
	if size == (image.Point{}) {
		panic("report: Contact: no cell has an image")
	}
	colH := len(cells)*size.Y + max(len(cells)-1, 0)*ContactGap
	columns := make([]image.Image, len(colTitles))
	for c := range colTitles {
		col := image.NewRGBA(image.Rect(0, 0, size.X, colH))
		draw.Draw(col, col.Bounds(), image.White, image.Point{}, draw.Src)
		for r := range cells {
			at := image.Rect(0, r*(size.Y+ContactGap), size.X, r*(size.Y+ContactGap)+size.Y)
			if img := cells[r][c]; img != nil {
				draw.Draw(col, at, img, img.Bounds().Min, draw.Src)
			} else {
				draw.Draw(col, at, image.NewUniform(missingCell), image.Point{}, draw.Src)
			}
		}
		columns[c] = col
	}
	table := sheet.Labeled(columns, colTitles, ContactPad)
	top := table.Bounds().Dy() - ContactPad - colH
	return sheet.RowLabels(table, rowLabels, top-ContactGap/2, size.Y+ContactGap)
}
