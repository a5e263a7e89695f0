package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestRenderTypesetShape(t *testing.T) {
	tests := []struct{ n, size int }{
		{0, 32}, {1, 32}, {25, 32}, {12, 64}, {7, 16},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.n, tt.size), func(t *testing.T) {
			im, err := RenderTypeset(tt.n, tt.size, 3)
			if err != nil {
				t.Fatal(err)
			}
			if im.N != tt.n || im.C != 3 || im.H != tt.size || im.W != tt.size {
				t.Fatalf("shape %d×%d×%d×%d", im.N, im.C, im.H, im.W)
			}
			if len(im.Data) != tt.n*3*tt.size*tt.size || len(im.Labels) != tt.n {
				t.Fatalf("len(Data) = %d, len(Labels) = %d", len(im.Data), len(im.Labels))
			}
			for i, v := range im.Data {
				if v < -1 || v > 1 || math.IsNaN(float64(v)) {
					t.Fatalf("value %d = %v, outside [-1, 1]", i, v)
				}
			}
		})
	}
}

func TestRenderTypesetErrors(t *testing.T) {
	tests := []struct {
		n, size int
		errHas  string
	}{
		{-1, 32, "negative count -1"},
		{10, 4, "size 4 is below 8"},
	}
	for _, tt := range tests {
		t.Run(tt.errHas, func(t *testing.T) {
			_, err := RenderTypeset(tt.n, tt.size, 1)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("RenderTypeset(%d, %d) error %v, want one containing %q", tt.n, tt.size, err, tt.errHas)
			}
		})
	}
}

func TestRenderTypesetDeterministic(t *testing.T) {
	a := mustRender(t, 300, 32, 42)
	prev := runtime.GOMAXPROCS(1)
	b := mustRender(t, 300, 32, 42)
	runtime.GOMAXPROCS(prev)
	c := mustRender(t, 300, 32, 43)

	tests := []struct {
		name  string
		x, y  *Images
		equal bool
	}{
		{"same seed, one CPU vs many", a, b, true},
		{"different seed", a, c, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			same := bitsEqual(tt.x.Data, tt.y.Data) && slices.Equal(tt.x.Labels, tt.y.Labels)
			if same != tt.equal {
				t.Errorf("outputs equal = %v, want %v", same, tt.equal)
			}
		})
	}
}

// bitsEqual reports whether a and b hold bit-identical values.
func bitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool {
		return math.Float32bits(x) == math.Float32bits(y)
	})
}

func mustRender(t testing.TB, n, size int, seed uint64) *Images {
	t.Helper()
	im, err := RenderTypeset(n, size, seed)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func TestRenderTypesetLabelsBalanced(t *testing.T) {
	tests := []struct {
		n        int
		min, max int
	}{
		{200, 20, 20}, {205, 20, 21}, {7, 0, 1}, {1000, 100, 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			im := mustRender(t, tt.n, 16, 5)
			var count [10]int
			for _, l := range im.Labels {
				if l < 0 || l > 9 {
					t.Fatalf("label %d is not a digit", l)
				}
				count[l]++
			}
			if slices.Min(count[:]) < tt.min || slices.Max(count[:]) > tt.max {
				t.Errorf("label counts %v, want each in [%d, %d]", count, tt.min, tt.max)
			}
			if tt.n >= 100 && slices.Equal(im.Labels[:20], []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
				t.Error("labels are in order, not shuffled")
			}
		})
	}
}

// rgbPixel is one pixel in [0, 1] with its HSV hue, saturation and value
// and its luma.
type rgbPixel struct {
	r, g, b        float64
	h, s, v, chrom float64
	luma           float64
}

func pixelAt(img []float32, plane, p int) rgbPixel {
	r := (float64(img[p]) + 1) / 2
	g := (float64(img[plane+p]) + 1) / 2
	b := (float64(img[2*plane+p]) + 1) / 2
	mx, mn := max(r, g, b), min(r, g, b)
	px := rgbPixel{r: r, g: g, b: b, v: mx, chrom: mx - mn, luma: 0.2126*r + 0.7152*g + 0.0722*b}
	if mx > 0 {
		px.s = px.chrom / mx
	}
	switch {
	case px.chrom == 0:
	case mx == r:
		px.h = 60 * math.Mod((g-b)/px.chrom+6, 6)
	case mx == g:
		px.h = 60 * ((b-r)/px.chrom + 2)
	default:
		px.h = 60 * ((r-g)/px.chrom + 4)
	}
	return px
}

// hueDist is the distance between two hues in degrees, in [0, 180].
func hueDist(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 360)
	return min(d, 360-d)
}

// TestRenderTypesetPalette checks the "washed-out palette with one
// dominant colour" claim image by image: a pale, light, barely saturated
// background; every coloured pixel of the same hue as the background; no
// strong saturation and nothing near black or white; a clearly darker
// digit; and a background ring free of ink (the digit stays inside).
func TestRenderTypesetPalette(t *testing.T) {
	const size = 32
	im := mustRender(t, 300, size, 11)
	plane := size * size
	hueBins := map[int]bool{}
	var sumS float64
	for i := range im.N {
		img := im.Image(i)
		var border []rgbPixel
		var all []rgbPixel
		for p := range plane {
			px := pixelAt(img, plane, p)
			all = append(all, px)
			if y, x := p/size, p%size; y == 0 || x == 0 || y == size-1 || x == size-1 {
				border = append(border, px)
			}
		}
		var bgV, bgS, bgL, bgHue float64
		for _, px := range border {
			bgV += px.v / float64(len(border))
			bgS += px.s / float64(len(border))
			bgL += px.luma / float64(len(border))
		}
		bgHue = border[0].h
		hueBins[int(bgHue/30)] = true

		var meanS, minL, maxL = 0.0, 1.0, 0.0
		for _, px := range all {
			meanS += px.s / float64(len(all))
			minL, maxL = min(minL, px.luma), max(maxL, px.luma)
			lo, hi := min(px.r, px.g, px.b), max(px.r, px.g, px.b)
			switch {
			case lo < 0.1 || hi > 0.98:
				t.Fatalf("image %d: pixel (%.3f %.3f %.3f) is near black or white", i, px.r, px.g, px.b)
			case px.s > 0.6:
				t.Fatalf("image %d: pixel saturation %.2f is strong", i, px.s)
			case px.chrom > 0.01 && hueDist(px.h, bgHue) > 2:
				t.Fatalf("image %d: pixel hue %.1f° is not the background's %.1f°", i, px.h, bgHue)
			}
		}
		sumS += meanS
		for _, px := range border {
			if math.Abs(px.luma-bgL) > 2*grain+0.01 {
				t.Fatalf("image %d: border pixel luma %.3f differs from the background %.3f: ink at the edge", i, px.luma, bgL)
			}
		}
		switch {
		case bgV < 0.8:
			t.Errorf("image %d: background brightness %.2f, want ≥ 0.8", i, bgV)
		case bgS > 0.2:
			t.Errorf("image %d: background saturation %.2f, want ≤ 0.2", i, bgS)
		case meanS > 0.3:
			t.Errorf("image %d: mean saturation %.2f, want ≤ 0.3", i, meanS)
		case bgL-minL < 0.2:
			t.Errorf("image %d: darkest pixel luma %.2f is only %.2f below the background", i, minL, bgL-minL)
		case maxL-minL < 0.2:
			t.Errorf("image %d: nearly uniform (luma %.2f..%.2f)", i, minL, maxL)
		}
	}
	if m := sumS / float64(im.N); m > 0.2 {
		t.Errorf("mean saturation over the set %.3f, want ≤ 0.2", m)
	}
	if len(hueBins) < 11 {
		t.Errorf("hues fall in %d of 12 bins of 30°, want ≥ 11", len(hueBins))
	}
}

func TestPaletteContrast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		bg, fg := palette(rng)
		if d := luma(bg) - luma(fg); d < minContrast-1e-6 {
			t.Fatalf("palette bg %v fg %v: luma contrast %.3f < %.2f", bg, fg, d, minContrast)
		}
		b, f := pixelAt(rgbImage(bg), 1, 0), pixelAt(rgbImage(fg), 1, 0)
		if hueDist(b.h, f.h) > 0.5 {
			t.Fatalf("palette hues %.1f° and %.1f° differ", b.h, f.h)
		}
	}
}

// rgbImage makes a 1-pixel, 3-channel image in [-1, 1] from c in [0, 1].
func rgbImage(c [3]float32) []float32 {
	return []float32{2*c[0] - 1, 2*c[1] - 1, 2*c[2] - 1}
}

func TestHSL(t *testing.T) {
	tests := []struct {
		h, s, l float32
		want    [3]float32
	}{
		{0, 1, 0.5, [3]float32{1, 0, 0}},
		{120, 1, 0.5, [3]float32{0, 1, 0}},
		{240, 1, 0.5, [3]float32{0, 0, 1}},
		{60, 1, 0.25, [3]float32{0.5, 0.5, 0}},
		{300, 0.5, 0.5, [3]float32{0.75, 0.25, 0.75}},
		{200, 0, 0.7, [3]float32{0.7, 0.7, 0.7}},
	}
	for _, tt := range tests {
		got := hsl(tt.h, tt.s, tt.l)
		for k := range 3 {
			if math.Abs(float64(got[k]-tt.want[k])) > 1e-6 {
				t.Errorf("hsl(%v, %v, %v) = %v, want %v", tt.h, tt.s, tt.l, got, tt.want)
				break
			}
		}
	}
}

// TestRenderTypesetFonts checks that every font loads and that every
// family is used.
func TestRenderTypesetFonts(t *testing.T) {
	fonts, err := loadDigitFonts()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fam := range fonts {
		for _, f := range fam {
			n++
			for d, o := range f.digits {
				if len(o.segs) == 0 || len(o.samples) == 0 {
					t.Errorf("%s: digit %d has no outline", f.name, d)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("%d fonts, want ≥ 50", n)
	}
}

func BenchmarkRenderTypeset10k(b *testing.B) {
	mustRender(b, 1, 32, 0) // load the fonts outside the timing
	for b.Loop() {
		mustRender(b, 10000, 32, uint64(b.N))
	}
}
