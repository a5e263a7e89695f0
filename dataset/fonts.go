package dataset

import (
	"fmt"
	"math"
	"sync"

	"github.com/go-fonts/dejavu/dejavusans"
	"github.com/go-fonts/dejavu/dejavusansbold"
	"github.com/go-fonts/dejavu/dejavusansboldoblique"
	"github.com/go-fonts/dejavu/dejavusanscondensed"
	"github.com/go-fonts/dejavu/dejavusanscondensedbold"
	"github.com/go-fonts/dejavu/dejavusansextralight"
	"github.com/go-fonts/dejavu/dejavusansmono"
	"github.com/go-fonts/dejavu/dejavusansmonobold"
	"github.com/go-fonts/dejavu/dejavusansoblique"
	"github.com/go-fonts/dejavu/dejavuserif"
	"github.com/go-fonts/dejavu/dejavuserifbold"
	"github.com/go-fonts/dejavu/dejavuserifbolditalic"
	"github.com/go-fonts/dejavu/dejavuserifcondensed"
	"github.com/go-fonts/dejavu/dejavuserifitalic"
	"github.com/go-fonts/latin-modern/lmmono10regular"
	"github.com/go-fonts/latin-modern/lmmonolt10bold"
	"github.com/go-fonts/latin-modern/lmroman10bold"
	"github.com/go-fonts/latin-modern/lmroman10bolditalic"
	"github.com/go-fonts/latin-modern/lmroman10italic"
	"github.com/go-fonts/latin-modern/lmroman10regular"
	"github.com/go-fonts/latin-modern/lmromandemi10regular"
	"github.com/go-fonts/latin-modern/lmromandunh10regular"
	"github.com/go-fonts/latin-modern/lmromanslant10regular"
	"github.com/go-fonts/latin-modern/lmsans10bold"
	"github.com/go-fonts/latin-modern/lmsans10oblique"
	"github.com/go-fonts/latin-modern/lmsans10regular"
	"github.com/go-fonts/latin-modern/lmsansdemicond10regular"
	"github.com/go-fonts/liberation/liberationmonobold"
	"github.com/go-fonts/liberation/liberationmonobolditalic"
	"github.com/go-fonts/liberation/liberationmonoitalic"
	"github.com/go-fonts/liberation/liberationmonoregular"
	"github.com/go-fonts/liberation/liberationsansbold"
	"github.com/go-fonts/liberation/liberationsansbolditalic"
	"github.com/go-fonts/liberation/liberationsansitalic"
	"github.com/go-fonts/liberation/liberationsansregular"
	"github.com/go-fonts/liberation/liberationserifbold"
	"github.com/go-fonts/liberation/liberationserifbolditalic"
	"github.com/go-fonts/liberation/liberationserifitalic"
	"github.com/go-fonts/liberation/liberationserifregular"
	"github.com/go-fonts/stix/stix2textbold"
	"github.com/go-fonts/stix/stix2textbolditalic"
	"github.com/go-fonts/stix/stix2textitalic"
	"github.com/go-fonts/stix/stix2textmedium"
	"github.com/go-fonts/stix/stix2textregular"
	"github.com/go-fonts/stix/stix2textsemibold"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/gomediumitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonobolditalic"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/gofont/gosmallcaps"
	"golang.org/x/image/font/gofont/gosmallcapsitalic"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// fontFile is one embedded TrueType or OpenType font.
type fontFile struct {
	name string
	data []byte
}

// fontFamilies lists the fonts typeset digits are drawn in, grouped by
// family. A family is picked first and then one of its variants, so that
// families with many variants do not dominate.
var fontFamilies = [][]fontFile{
	{ // Go
		{"Go Regular", goregular.TTF},
		{"Go Bold", gobold.TTF},
		{"Go Italic", goitalic.TTF},
		{"Go Bold Italic", gobolditalic.TTF},
		{"Go Medium", gomedium.TTF},
		{"Go Medium Italic", gomediumitalic.TTF},
		{"Go Mono", gomono.TTF},
		{"Go Mono Bold", gomonobold.TTF},
		{"Go Mono Italic", gomonoitalic.TTF},
		{"Go Mono Bold Italic", gomonobolditalic.TTF},
		{"Go Smallcaps", gosmallcaps.TTF},
		{"Go Smallcaps Italic", gosmallcapsitalic.TTF},
	},
	{ // DejaVu
		{"DejaVu Sans", dejavusans.TTF},
		{"DejaVu Sans Bold", dejavusansbold.TTF},
		{"DejaVu Sans Oblique", dejavusansoblique.TTF},
		{"DejaVu Sans Bold Oblique", dejavusansboldoblique.TTF},
		{"DejaVu Sans Condensed", dejavusanscondensed.TTF},
		{"DejaVu Sans Condensed Bold", dejavusanscondensedbold.TTF},
		{"DejaVu Sans ExtraLight", dejavusansextralight.TTF},
		{"DejaVu Sans Mono", dejavusansmono.TTF},
		{"DejaVu Sans Mono Bold", dejavusansmonobold.TTF},
		{"DejaVu Serif", dejavuserif.TTF},
		{"DejaVu Serif Bold", dejavuserifbold.TTF},
		{"DejaVu Serif Italic", dejavuserifitalic.TTF},
		{"DejaVu Serif Bold Italic", dejavuserifbolditalic.TTF},
		{"DejaVu Serif Condensed", dejavuserifcondensed.TTF},
	},
	{ // Liberation
		{"Liberation Sans", liberationsansregular.TTF},
		{"Liberation Sans Bold", liberationsansbold.TTF},
		{"Liberation Sans Italic", liberationsansitalic.TTF},
		{"Liberation Sans Bold Italic", liberationsansbolditalic.TTF},
		{"Liberation Serif", liberationserifregular.TTF},
		{"Liberation Serif Bold", liberationserifbold.TTF},
		{"Liberation Serif Italic", liberationserifitalic.TTF},
		{"Liberation Serif Bold Italic", liberationserifbolditalic.TTF},
		{"Liberation Mono", liberationmonoregular.TTF},
		{"Liberation Mono Bold", liberationmonobold.TTF},
		{"Liberation Mono Italic", liberationmonoitalic.TTF},
		{"Liberation Mono Bold Italic", liberationmonobolditalic.TTF},
	},
	{ // Latin Modern
		{"Latin Modern Roman", lmroman10regular.TTF},
		{"Latin Modern Roman Bold", lmroman10bold.TTF},
		{"Latin Modern Roman Italic", lmroman10italic.TTF},
		{"Latin Modern Roman Bold Italic", lmroman10bolditalic.TTF},
		{"Latin Modern Roman Demi", lmromandemi10regular.TTF},
		{"Latin Modern Roman Slanted", lmromanslant10regular.TTF},
		{"Latin Modern Roman Dunhill", lmromandunh10regular.TTF},
		{"Latin Modern Sans", lmsans10regular.TTF},
		{"Latin Modern Sans Bold", lmsans10bold.TTF},
		{"Latin Modern Sans Oblique", lmsans10oblique.TTF},
		{"Latin Modern Sans Demi Condensed", lmsansdemicond10regular.TTF},
		{"Latin Modern Mono", lmmono10regular.TTF},
		{"Latin Modern Mono Light Bold", lmmonolt10bold.TTF},
	},
	{ // STIX Two
		{"STIX Two Text", stix2textregular.TTF},
		{"STIX Two Text Medium", stix2textmedium.TTF},
		{"STIX Two Text Semibold", stix2textsemibold.TTF},
		{"STIX Two Text Bold", stix2textbold.TTF},
		{"STIX Two Text Italic", stix2textitalic.TTF},
		{"STIX Two Text Bold Italic", stix2textbolditalic.TTF},
	},
}

// glyphPPEM is the size, in pixels per em, at which digit outlines are
// loaded. Outlines are scaled from it in floating point, so it only needs
// to be large enough that the 26.6 fixed-point rounding is negligible.
const glyphPPEM = 512

// segment is one outline segment of a glyph in float32 pixel units at
// glyphPPEM, with the Y axis pointing down.
type segment struct {
	op  sfnt.SegmentOp
	pts [3][2]float32 // as many points as op uses
}

// outline is the vector shape of one digit. samples are points along the
// curves, used to measure the tight bounds of the shape once transformed.
type outline struct {
	segs    []segment
	samples [][2]float32
}

// bounds returns the bounding box of o's samples mapped by the linear map
// (x, y) -> (a*x + b*y, c*x + d*y).
func (o *outline) bounds(a, b, c, d float32) (minX, minY, maxX, maxY float32) {
	minX, minY = float32(math.Inf(1)), float32(math.Inf(1))
	maxX, maxY = float32(math.Inf(-1)), float32(math.Inf(-1))
	for _, p := range o.samples {
		x, y := a*p[0]+b*p[1], c*p[0]+d*p[1]
		minX, maxX = min(minX, x), max(maxX, x)
		minY, maxY = min(minY, y), max(maxY, y)
	}
	return minX, minY, maxX, maxY
}

// digitFont holds the outlines of the ten digits of one font.
type digitFont struct {
	name   string
	digits [10]outline
}

var (
	digitFontsOnce sync.Once
	digitFontsVal  [][]*digitFont // by family, then variant
	digitFontsErr  error
)

// loadDigitFonts parses every font of fontFamilies once and caches the
// outlines of its digits.
func loadDigitFonts() ([][]*digitFont, error) {
	digitFontsOnce.Do(func() {
		var wg sync.WaitGroup
		out := make([][]*digitFont, len(fontFamilies))
		errs := make([][]error, len(fontFamilies))
		for i, fam := range fontFamilies {
			out[i] = make([]*digitFont, len(fam))
			errs[i] = make([]error, len(fam))
			for j, ff := range fam {
				wg.Go(func() { out[i][j], errs[i][j] = parseDigitFont(ff) })
			}
		}
		wg.Wait()
		for _, fe := range errs {
			for _, err := range fe {
				if err != nil && digitFontsErr == nil {
					digitFontsErr = err
				}
			}
		}
		digitFontsVal = out
	})
	return digitFontsVal, digitFontsErr
}

// parseDigitFont parses one font and loads the outlines of '0' to '9'.
func parseDigitFont(ff fontFile) (*digitFont, error) {
	f, err := sfnt.Parse(ff.data)
	if err != nil {
		return nil, fmt.Errorf("dataset: font %s: parse: %w", ff.name, err)
	}
	df := &digitFont{name: ff.name}
	var buf sfnt.Buffer
	for d := range 10 {
		r := rune('0' + d)
		gi, err := f.GlyphIndex(&buf, r)
		if err == nil && gi == 0 {
			err = fmt.Errorf("no glyph")
		}
		if err != nil {
			return nil, fmt.Errorf("dataset: font %s: digit %q: %w", ff.name, r, err)
		}
		segs, err := f.LoadGlyph(&buf, gi, fixed.I(glyphPPEM), nil)
		if err != nil {
			return nil, fmt.Errorf("dataset: font %s: digit %q: load glyph: %w", ff.name, r, err)
		}
		df.digits[d] = makeOutline(segs)
	}
	return df, nil
}

// curveSamples is the number of points sampled along each curve segment.
const curveSamples = 8

// makeOutline copies sfnt segments into an outline and samples points
// along them.
func makeOutline(segs sfnt.Segments) outline {
	o := outline{segs: make([]segment, len(segs))}
	var pen [2]float32
	for i, s := range segs {
		seg := &o.segs[i]
		seg.op = s.Op
		for k := range segmentPoints(s.Op) {
			seg.pts[k] = [2]float32{fix(s.Args[k].X), fix(s.Args[k].Y)}
		}
		o.samples = append(o.samples, seg.sample(pen)...)
		pen = seg.pts[segmentPoints(s.Op)-1]
	}
	return o
}

// sample returns points along s, which starts at pen, ending with its end
// point.
func (s *segment) sample(pen [2]float32) [][2]float32 {
	if s.op != sfnt.SegmentOpQuadTo && s.op != sfnt.SegmentOpCubeTo {
		return [][2]float32{s.pts[0]}
	}
	pts := make([][2]float32, 0, curveSamples)
	for i := 1; i <= curveSamples; i++ {
		t := float32(i) / curveSamples
		pts = append(pts, s.at(pen, t))
	}
	return pts
}

// at evaluates the Bézier curve s, which starts at pen, at t in [0, 1].
func (s *segment) at(pen [2]float32, t float32) [2]float32 {
	u := 1 - t
	var p [2]float32
	for k := range 2 {
		if s.op == sfnt.SegmentOpQuadTo {
			p[k] = u*u*pen[k] + 2*u*t*s.pts[0][k] + t*t*s.pts[1][k]
		} else {
			p[k] = u*u*u*pen[k] + 3*u*u*t*s.pts[0][k] + 3*u*t*t*s.pts[1][k] + t*t*t*s.pts[2][k]
		}
	}
	return p
}

// segmentPoints returns how many points a segment of kind op uses.
func segmentPoints(op sfnt.SegmentOp) int {
	switch op {
	case sfnt.SegmentOpQuadTo:
		return 2
	case sfnt.SegmentOpCubeTo:
		return 3
	default:
		return 1
	}
}

// fix converts a 26.6 fixed-point number to float32.
func fix(v fixed.Int26_6) float32 { return float32(v) / 64 }
