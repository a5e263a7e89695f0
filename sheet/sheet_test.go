package sheet

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
)

func gray(v uint8) color.RGBA { return color.RGBA{v, v, v, 255} }

func TestToByte(t *testing.T) {
	tests := []struct {
		v    float32
		want uint8
	}{
		{-1, 0},
		{-5, 0},
		{float32(math.Inf(-1)), 0},
		{float32(math.NaN()), 0},
		{-0.999, 0}, // 0.1275 rounds down
		{-0.99, 1},  // 1.275
		{0, 128},    // 127.5 rounds half away from zero
		{0.5, 191},  // 191.25
		{1, 255},
		{3, 255},
		{float32(math.Inf(1)), 255},
	}
	for _, tt := range tests {
		if got := toByte(tt.v); got != tt.want {
			t.Errorf("toByte(%g) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

type pixel struct {
	x, y int
	want color.RGBA
}

func checkImage(t *testing.T, img *image.RGBA, w, h int, pixels []pixel) {
	t.Helper()
	if got := img.Bounds(); got != image.Rect(0, 0, w, h) {
		t.Fatalf("bounds = %v, want %v", got, image.Rect(0, 0, w, h))
	}
	for _, p := range pixels {
		if got := img.RGBAAt(p.x, p.y); got != p.want {
			t.Errorf("pixel (%d, %d) = %v, want %v", p.x, p.y, got, p.want)
		}
	}
}

func TestGrid(t *testing.T) {
	// Two 2×2 RGB images in NCHW order.
	rgb := []float32{
		// image 0: R, G, B planes
		-1, 1, 0, 0.5,
		1, -1, 0, 0.5,
		0, 0, 2, -2,
		// image 1
		1, 1, 1, 1,
		-1, -1, -1, -1,
		-1, -1, -1, 1,
	}
	// Three 1×2 grayscale images.
	grayData := []float32{-1, 1, 0, 0.5, 1, -1}
	tests := []struct {
		name                       string
		data                       []float32
		n, c, h, w, cols, pad, sca int
		width, height              int
		pixels                     []pixel
	}{
		{
			name: "rgb 2x1 pad 1 scale 2", data: rgb,
			n: 2, c: 3, h: 2, w: 2, cols: 2, pad: 1, sca: 2,
			width: 1 + 4 + 1 + 4 + 1, height: 1 + 4 + 1,
			pixels: []pixel{
				{0, 0, white}, {5, 1, white}, {10, 5, white}, {1, 5, white},
				{1, 1, color.RGBA{0, 255, 128, 255}}, // image 0 (0,0), block corner
				{2, 2, color.RGBA{0, 255, 128, 255}}, // same block
				{3, 1, color.RGBA{255, 0, 128, 255}}, // image 0 (1,0)
				{1, 3, color.RGBA{128, 128, 255, 255}},
				{4, 4, color.RGBA{191, 191, 0, 255}}, // image 0 (1,1), clamped blue
				{6, 1, color.RGBA{255, 0, 0, 255}},   // image 1 at (pad+w*scale+pad, pad)
				{9, 4, color.RGBA{255, 0, 255, 255}}, // image 1 (1,1)
			},
		},
		{
			name: "gray wraps rows", data: grayData,
			n: 3, c: 1, h: 1, w: 2, cols: 2, pad: 2, sca: 1,
			width: 2 + 2 + 2 + 2 + 2, height: 2 + 1 + 2 + 1 + 2,
			pixels: []pixel{
				{2, 2, black}, {3, 2, white}, // image 0
				{6, 2, gray(128)}, {7, 2, gray(191)}, // image 1
				{2, 5, gray(255)}, {3, 5, black}, // image 2 on the second row
				{6, 5, white}, {7, 5, white}, // empty cell
				{4, 2, white}, {2, 3, white},
			},
		},
		{
			name: "no padding", data: grayData[:2],
			n: 1, c: 1, h: 1, w: 2, cols: 1, pad: 0, sca: 3,
			width: 6, height: 3,
			pixels: []pixel{{0, 0, black}, {2, 2, black}, {3, 0, white}, {5, 2, white}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := Grid(tt.data, tt.n, tt.c, tt.h, tt.w, tt.cols, tt.pad, tt.sca)
			checkImage(t, img, tt.width, tt.height, tt.pixels)
		})
	}
}

func TestGridPanics(t *testing.T) {
	tests := []struct {
		name                       string
		dataLen                    int
		n, c, h, w, cols, pad, sca int
		want                       string
	}{
		{"channels", 8, 1, 2, 2, 2, 1, 0, 1, "2 channels"},
		{"short data", 11, 1, 3, 2, 2, 1, 0, 1, "11 values, want"},
		{"zero cols", 4, 1, 1, 2, 2, 0, 0, 1, "invalid layout"},
		{"zero scale", 4, 1, 1, 2, 2, 1, 0, 0, "invalid layout"},
		{"negative pad", 4, 1, 1, 2, 2, 1, -1, 1, "invalid layout"},
		{"zero height", 4, 1, 1, 0, 2, 1, 0, 1, "invalid size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "sheet: Grid: ") || !strings.Contains(msg, tt.want) {
					t.Errorf("panic %q, want one containing %q", msg, tt.want)
				}
			}()
			Grid(make([]float32, tt.dataLen), tt.n, tt.c, tt.h, tt.w, tt.cols, tt.pad, tt.sca)
		})
	}
}

func TestToImage(t *testing.T) {
	tests := []struct {
		name   string
		data   []float32
		c      int
		pixels []pixel
	}{
		{"gray", []float32{-1, 0, 0.5, 1, 9, -9}, 1, []pixel{
			{0, 0, black}, {1, 0, gray(128)}, {2, 0, gray(191)},
			{0, 1, white}, {1, 1, white}, {2, 1, black},
		}},
		{"rgb", []float32{
			-1, 0, 1, 1, 1, 1,
			1, 0, -1, 1, 1, 1,
			0, 0, 1, 1, 1, -1,
		}, 3, []pixel{
			{0, 0, color.RGBA{0, 255, 128, 255}}, {1, 0, gray(128)},
			{2, 0, color.RGBA{255, 0, 255, 255}}, {2, 1, color.RGBA{255, 255, 0, 255}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkImage(t, ToImage(tt.data, tt.c, 2, 3), 3, 2, tt.pixels)
		})
	}
}

// solid returns a w×h image filled with col, with bounds not at the origin.
func solid(w, h int, col color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(5, 7, 5+w, 7+h))
	for y := 7; y < 7+h; y++ {
		for x := 5; x < 5+w; x++ {
			img.SetRGBA(x, y, col)
		}
	}
	return img
}

// nonWhite counts the pixels of img within r that are not white.
func nonWhite(img *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) != white {
				n++
			}
		}
	}
	return n
}

func TestLabeled(t *testing.T) {
	red := color.RGBA{255, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}
	const pad = 3
	img := Labeled(
		[]image.Image{solid(10, 20, red), solid(30, 5, blue)},
		[]string{"A", "longer title"}, // 7 and 84 pixels wide
		pad)
	// Columns are 10 and 84 wide; panels start below the 13+4 title line.
	const top = pad + 13 + 4
	checkImage(t, img, pad+10+pad+84+pad, top+20+pad, []pixel{
		{pad, top, red}, {pad + 9, top + 19, red},
		{pad + 10, top, white}, {pad, top + 20, white},
		{pad + 10 + pad + 27, top, blue}, // blue panel centred in its 84-pixel column
		{pad + 10 + pad + 27 + 29, top + 4, blue},
		{pad + 10 + pad + 26, top, white},
		{pad + 10 + pad + 27, top + 5, white}, // below the shorter panel
		{0, 0, white},
	})
	titles := []struct {
		name string
		r    image.Rectangle
	}{
		{"A", image.Rect(pad, pad, pad+10, pad+13)},
		{"longer title", image.Rect(2*pad+10, pad, 2*pad+10+84, pad+13)},
	}
	for _, tt := range titles {
		if n := nonWhite(img, tt.r); n < 10 {
			t.Errorf("title %q: %d non-white pixels in %v, want at least 10", tt.name, n, tt.r)
		}
	}
	if n := nonWhite(img, image.Rect(0, pad+13, img.Bounds().Dx(), top)); n != 0 {
		t.Errorf("%d non-white pixels between titles and panels, want 0", n)
	}
}

func TestLabeledEmpty(t *testing.T) {
	img := Labeled(nil, nil, 2)
	checkImage(t, img, 2, 2+13+4+2, []pixel{{0, 0, white}})
}

func TestRowLabels(t *testing.T) {
	red := color.RGBA{255, 0, 0, 255}
	grid := solid(20, 60, red)
	img := RowLabels(grid, []string{"ab", "", "c"}, 0, 20) // widest label: 14 px
	const margin = 14 + 2*4
	checkImage(t, img, margin+20, 60, []pixel{
		{margin, 0, red}, {margin + 19, 59, red}, {margin - 1, 0, white}, {0, 0, white},
	})
	rows := []struct {
		name string
		r    image.Rectangle
		text bool
	}{
		{"ab", image.Rect(4, 0, margin-4, 20), true},
		{"empty label", image.Rect(0, 20, margin, 40), false},
		{"c", image.Rect(margin-4-7, 40, margin-4, 60), true}, // right-aligned
		{"left of c", image.Rect(0, 40, margin-4-7, 60), false},
		{"left padding", image.Rect(0, 0, 4, 60), false},
	}
	for _, tt := range rows {
		n := nonWhite(img, tt.r)
		if (n > 0) != tt.text {
			t.Errorf("label %q: %d non-white pixels in %v, want text %v", tt.name, n, tt.r, tt.text)
		}
	}
}

func TestRowLabelsNone(t *testing.T) {
	grid := solid(4, 4, black)
	img := RowLabels(grid, []string{"", ""}, 0, 2)
	checkImage(t, img, 4, 4, []pixel{{0, 0, black}, {3, 3, black}})
}

func TestSavePNG(t *testing.T) {
	src := Grid([]float32{-1, 0, 0.5, 1, -0.25, 0.75}, 2, 3, 1, 1, 2, 1, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.png")
	if err := SavePNG(path, src); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != src.Bounds() {
		t.Fatalf("decoded bounds = %v, want %v", got.Bounds(), src.Bounds())
	}
	for y := range src.Bounds().Dy() {
		for x := range src.Bounds().Dx() {
			if g := color.RGBAModel.Convert(got.At(x, y)); g != src.RGBAAt(x, y) {
				t.Errorf("pixel (%d, %d) = %v, want %v", x, y, g, src.RGBAAt(x, y))
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestSavePNGError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "grid.png")
	err := SavePNG(path, image.NewRGBA(image.Rect(0, 0, 1, 1)))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("SavePNG error = %v, want one naming %s", err, path)
	}
}
