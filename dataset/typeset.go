package dataset

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/vector"
)

// Ranges of the random choices RenderTypeset makes for each image.
const (
	minDigitHeight = 0.50 // digit height as a fraction of the image side
	maxDigitHeight = 0.85
	maxShear       = 0.25 // extra slant: x shifts by shear × height above
	maxJitter      = 3.0  // pixels of position jitter (at size 32)
	marginFrac     = 1.0 / 32
	grain          = 0.025 // amplitude of the grain noise, in [0, 1] units

	// Palette, in HSL: a pale tint of the hue for the background and a
	// darker, soft shade of the same hue for the digit.
	bgMinS, bgMaxS = 0.20, 0.45
	bgMinL, bgMaxL = 0.83, 0.90
	fgMinS, fgMaxS = 0.15, 0.35
	fgMinL, fgMaxL = 0.30, 0.50
	minContrast    = 0.35 // luma of background minus luma of digit
)

// Second PCG seed words of the random streams of RenderTypeset.
const (
	labelStream = 0x6c8e9cf570932bd5
	imageStream = 0xd1b54a32d192ed03
)

// RenderTypeset renders n typeset digits of size×size pixels with 3 (RGB)
// channels, deterministically from seed: the same arguments always give
// byte-identical output, whatever the number of CPUs.
//
// Labels are balanced (each digit appears n/10 or n/10+1 times) in a
// shuffled order. Each image draws a digit in one of the Go, DejaVu,
// Liberation, Latin Modern and STIX Two fonts at a random height (50–85% of
// the image), with an extra slant (shear in ±0.25) and a jittered position
// that keeps it inside the image. Colours follow a washed-out palette with
// one dominant hue: a pale tint of the hue behind a soft, darker shade of
// the same hue, plus mild grain.
func RenderTypeset(n, size int, seed uint64) (*Images, error) {
	if n < 0 {
		return nil, fmt.Errorf("dataset: typeset: negative count %d", n)
	}
	if size < 8 {
		return nil, fmt.Errorf("dataset: typeset: size %d is below 8 pixels", size)
	}
	fonts, err := loadDigitFonts()
	if err != nil {
		return nil, err
	}
	im := newImages(n, 3, size, size)
	perm := rand.New(rand.NewPCG(seed, labelStream)).Perm(n)
	for i, p := range perm {
		im.Labels[i] = p % 10
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n/64, 1)) {
		wg.Go(func() {
			r := newTypesetter(size, fonts)
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				r.render(im.Image(i), im.Labels[i], seed, uint64(i))
			}
		})
	}
	wg.Wait()
	return im, nil
}

// typesetter renders typeset digits of one size; it is used by one
// goroutine at a time.
type typesetter struct {
	size  int
	fonts [][]*digitFont
	rast  *vector.Rasterizer
	mask  *image.Alpha
}

func newTypesetter(size int, fonts [][]*digitFont) *typesetter {
	return &typesetter{
		size:  size,
		fonts: fonts,
		rast:  vector.NewRasterizer(size, size),
		mask:  image.NewAlpha(image.Rect(0, 0, size, size)),
	}
}

// render draws digit into dst (3×size×size values) with the random choices
// of image index of the set made from seed.
func (t *typesetter) render(dst []float32, digit int, seed, index uint64) {
	rng := rand.New(rand.NewPCG(seed^imageStream, mix64(index)))
	fam := t.fonts[rng.IntN(len(t.fonts))]
	o := &fam[rng.IntN(len(fam))].digits[digit]
	t.rasterize(o, rng)
	bg, fg := palette(rng)
	t.paint(dst, bg, fg, rng)
}

// rasterize draws outline o into t.mask, scaled, sheared and placed at
// random.
func (t *typesetter) rasterize(o *outline, rng *rand.Rand) {
	size := float32(t.size)
	margin := size * marginFrac
	avail := size - 2*margin

	// Linear part x' = s*x - k*s*y, y' = s*y (Y points down, so k > 0
	// leans the digit to the right).
	_, y0, _, y1 := o.bounds(1, 0, 0, 1)
	s := size * uniform(rng, minDigitHeight, maxDigitHeight) / (y1 - y0)
	k := uniform(rng, -maxShear, maxShear)
	x0, y0, x1, y1 := o.bounds(s, -k*s, 0, s)
	if fit := min(avail/(x1-x0), avail/(y1-y0)); fit < 1 {
		s, x0, y0, x1, y1 = s*fit, x0*fit, y0*fit, x1*fit, y1*fit
	}

	// Centre in the free room, then jitter without leaving it.
	jitter := maxJitter * size / 32
	tx := place(rng, margin, avail, x1-x0, jitter) - x0
	ty := place(rng, margin, avail, y1-y0, jitter) - y0
	at := func(p [2]float32) (float32, float32) {
		return s*p[0] - k*s*p[1] + tx, s*p[1] + ty
	}

	z := t.rast
	z.Reset(t.size, t.size)
	z.DrawOp = draw.Src // Reset sets Over; Src overwrites the old mask
	for i, seg := range o.segs {
		ax, ay := at(seg.pts[0])
		switch seg.op {
		case sfnt.SegmentOpMoveTo:
			if i > 0 {
				z.ClosePath()
			}
			z.MoveTo(ax, ay)
		case sfnt.SegmentOpLineTo:
			z.LineTo(ax, ay)
		case sfnt.SegmentOpQuadTo:
			bx, by := at(seg.pts[1])
			z.QuadTo(ax, ay, bx, by)
		case sfnt.SegmentOpCubeTo:
			bx, by := at(seg.pts[1])
			cx, cy := at(seg.pts[2])
			z.CubeTo(ax, ay, bx, by, cx, cy)
		}
	}
	z.ClosePath()
	z.Draw(t.mask, t.mask.Bounds(), image.Opaque, image.Point{})
}

// place returns the start of a span of length used inside [margin,
// margin+avail]: centred, then moved by up to ±jitter while staying inside.
func place(rng *rand.Rand, margin, avail, used, jitter float32) float32 {
	room := max(avail-used, 0) / 2
	j := min(jitter, room)
	return margin + room + uniform(rng, -j, j)
}

// paint fills dst (3 planes) with bg where t.mask is clear and fg where it
// is set, blending linearly in between, then adds grain and maps [0, 1] to
// [-1, 1].
func (t *typesetter) paint(dst []float32, bg, fg [3]float32, rng *rand.Rand) {
	plane := t.size * t.size
	for p, m := range t.mask.Pix[:plane] {
		a := float32(m) / 255
		g := uniform(rng, -grain, grain)
		for c := range 3 {
			v := bg[c] + (fg[c]-bg[c])*a + g
			dst[c*plane+p] = 2*min(max(v, 0), 1) - 1
		}
	}
}

// palette picks a hue and returns a pale tint of it for the background and
// a darker, soft shade of it for the digit, as RGB in [0, 1]. The digit is
// darkened further where needed to keep a luma contrast of minContrast.
func palette(rng *rand.Rand) (bg, fg [3]float32) {
	h := uniform(rng, 0, 360)
	bg = hsl(h, uniform(rng, bgMinS, bgMaxS), uniform(rng, bgMinL, bgMaxL))
	s, l := uniform(rng, fgMinS, fgMaxS), uniform(rng, fgMinL, fgMaxL)
	fg = hsl(h, s, l)
	for luma(bg)-luma(fg) < minContrast && l > fgMinL {
		l = max(l-0.02, fgMinL)
		fg = hsl(h, s, l)
	}
	return bg, fg
}

// luma returns the Rec. 709 luma of a gamma-encoded RGB colour.
func luma(c [3]float32) float32 {
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// hsl converts hue h in degrees, saturation s and lightness l (both in
// [0, 1]) to RGB in [0, 1].
func hsl(h, s, l float32) [3]float32 {
	chroma := (1 - float32(math.Abs(float64(2*l-1)))) * s
	hp := h / 60
	x := chroma * (1 - float32(math.Abs(math.Mod(float64(hp), 2)-1)))
	var rgb [3]float32
	switch int(hp) % 6 {
	case 0:
		rgb = [3]float32{chroma, x, 0}
	case 1:
		rgb = [3]float32{x, chroma, 0}
	case 2:
		rgb = [3]float32{0, chroma, x}
	case 3:
		rgb = [3]float32{0, x, chroma}
	case 4:
		rgb = [3]float32{x, 0, chroma}
	default:
		rgb = [3]float32{chroma, 0, x}
	}
	m := l - chroma/2
	for i := range rgb {
		rgb[i] += m
	}
	return rgb
}

// uniform returns a uniform random number in [lo, hi).
func uniform(rng *rand.Rand, lo, hi float32) float32 {
	return lo + (hi-lo)*rng.Float32()
}

// mix64 scrambles x (the splitmix64 finalizer), so that neighbouring image
// indices seed unrelated random streams.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
