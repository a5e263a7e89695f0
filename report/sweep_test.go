package report

import (
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

func TestCropSheet(t *testing.T) {
	c := color.RGBA{10, 20, 30, 255}
	sheet := fakeSheet(4, 3, 8, 2, c) // 42×32
	tests := []struct {
		name       string
		rows, cols int
		w, h       int
	}{
		{"2x3", 2, 3, 2 + 3*10, 2 + 2*10},
		{"whole", 3, 4, 42, 32},
		{"more than there is", 5, 9, 42, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CropSheet(sheet, 4, 8, tc.rows, tc.cols)
			if err != nil {
				t.Fatal(err)
			}
			if b := got.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h || b.Min != (image.Point{}) {
				t.Fatalf("crop is %v, want %dx%d at the origin", b, tc.w, tc.h)
			}
			if got.RGBAAt(2, 2) != c || got.RGBAAt(1, 1) != (color.RGBA{255, 255, 255, 255}) {
				t.Errorf("crop starts with %v, %v, want the padding then the first sample", got.RGBAAt(1, 1), got.RGBAAt(2, 2))
			}
		})
	}
	if _, err := CropSheet(sheet, 5, 8, 1, 1); err == nil {
		t.Error("crop with the wrong column count: no error")
	}
}

func TestContact(t *testing.T) {
	cell := image.NewRGBA(image.Rect(0, 0, 20, 10))
	for i := range cell.Pix {
		cell.Pix[i] = 0x40
		if i%4 == 3 {
			cell.Pix[i] = 0xff
		}
	}
	cells := [][]image.Image{{cell, nil, cell}, {cell, cell, nil}}
	img := Contact(cells, []string{"ab", "abcd"}, []string{"it 0", "it 2", "iteration 40"})
	// Row labels: 4 px each side of the widest (4 characters of 7 px).
	// Columns: as wide as their cell or title, ContactPad apart.
	margin := 4*7 + 8
	colsW := ContactPad + (4*7 + ContactPad) + (4*7 + ContactPad) + (12*7 + ContactPad)
	h := ContactPad + 13 + 4 + 2*10 + ContactGap + ContactPad
	if b := img.Bounds(); b.Dx() != margin+colsW || b.Dy() != h {
		t.Fatalf("contact sheet is %dx%d, want %dx%d", b.Dx(), b.Dy(), margin+colsW, h)
	}
	top := h - ContactPad - (2*10 + ContactGap)
	x0 := margin + ContactPad + (4*7-20)/2 // the cell is centred under its title
	if got := img.RGBAAt(x0+5, top+5); got.R != 0x40 {
		t.Errorf("first cell pixel %v, want the cell", got)
	}
	if got := img.RGBAAt(x0+4*7+ContactPad+5, top+5); got != missingCell {
		t.Errorf("missing cell pixel %v, want %v", got, missingCell)
	}
}

func TestWriteSweep(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, filepath.Join(dir, "wcls1_wd0"), 4, 4, []int{0, 2, 4})
	fakeRun(t, filepath.Join(dir, "wcls1_wd1"), 10, 3, []int{0, 2})
	runs := []SweepRun{
		{Name: "wcls1_wd0", Settings: []Field{{"w_cls", "1"}, {"w_d", "0"}}},
		{Name: "wcls1_wd1", Settings: []Field{{"w_cls", "1"}, {"w_d", "1"}}},
		{Name: "wcls2_wd0", Settings: []Field{{"w_cls", "2"}, {"w_d", "0"}}},
	}
	if err := WriteSweep(dir, runs); err != nil {
		t.Fatal(err)
	}
	page := string(readFile(t, filepath.Join(dir, "report.html")))
	// Iterations 3 and 4 (after the snapshot at 2): target_prob 0.3, 0.4.
	for _, want := range []string{
		`<a href="wcls1_wd0/report.html">wcls1_wd0</a></td><td>1</td><td>0</td><td>done (4)</td><td>3–4</td><td class="num">2.125</td><td class="num">0.35</td><td class="num">-0.5</td>`,
		`<a href="wcls1_wd1/report.html">wcls1_wd1</a></td><td>1</td><td>1</td><td>2 of 10</td><td>1–2</td><td class="num">2.625</td><td class="num">0.15</td>`,
		`<td>wcls2_wd0</td><td>2</td><td>0</td><td>not started</td><td></td><td class="num">—</td>`,
		"<th>w_cls</th><th>w_d</th>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "contact.png") {
		t.Error("page shows contact.png, which does not exist")
	}
}
