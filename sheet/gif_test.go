package sheet

import (
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ganshift/biggan"
)

func TestPingPong(t *testing.T) {
	tests := []struct {
		n    int
		want []int
	}{
		{0, []int{}},
		{1, []int{0}},
		{2, []int{0, 1}},
		{4, []int{0, 1, 2, 3, 2, 1}},
	}
	for _, tc := range tests {
		if got := PingPong(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("PingPong(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestSaveGIF(t *testing.T) {
	frames := []image.Image{solid(6, 4, color.RGBA{255, 0, 0, 255}), solid(6, 4, color.RGBA{0, 0, 255, 255}), solid(6, 4, gray(255))}
	delays := []int{50, 8, 8}
	path := filepath.Join(t.TempDir(), "a.gif")
	if err := SaveGIF(path, frames, delays); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 3 || !slices.Equal(g.Delay, delays) || g.LoopCount != 0 {
		t.Fatalf("%d frames, delays %v, loop count %d; want 3, %v, 0 (forever)", len(g.Image), g.Delay, g.LoopCount, delays)
	}
	// Plain colours of the palette come through exactly.
	for i, want := range []color.RGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, gray(255)} {
		if got := color.RGBAModel.Convert(g.Image[i].At(3, 2)); got != want {
			t.Errorf("frame %d is %v, want %v", i, got, want)
		}
	}
	if err := SaveGIF(path, frames, delays[:2]); err == nil {
		t.Error("3 frames with 2 delays: no error")
	}
}

func TestCompareInterpSteps(t *testing.T) {
	cfg := biggan.Config{Resolution: 32, GCh: 4, DCh: 4, DimZ: 16, SharedDim: 8, NClasses: 3}
	var gens []*biggan.Generator
	for seed := range uint64(2) {
		g, err := biggan.NewGenerator(cfg, seed+1)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Free()
		gens = append(gens, g)
	}
	pairs := [][2]int64{{0, 1}, {2, 0}}
	z := make([]float32, len(pairs)*cfg.DimZ)
	for i := range z {
		z[i] = float32(i%7) / 7
	}
	one, err := CompareInterpSteps(gens[:1], []string{"a"}, pairs, z, 3)
	if err != nil {
		t.Fatal(err)
	}
	// A column of 2 samples of 64 px with 2 px padding.
	if len(one) != 3 || one[0].Bounds().Size() != image.Pt(68, 134) {
		t.Fatalf("%d steps of %v, want 3 of 68x134", len(one), one[0].Bounds().Size())
	}
	// The ends are the plain classes: step 0 equals Interp's first column.
	interp, err := Interp(gens[0], pairs, z)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []image.Point{{10, 10}, {40, 100}} {
		if a, b := one[0].RGBAAt(p.X, p.Y), interp.RGBAAt(p.X, p.Y); a != b {
			t.Errorf("step 0 at %v is %v, Interp's first column %v", p, a, b)
		}
	}
	two, err := CompareInterpSteps(gens, []string{"a", "b"}, pairs, z, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := Labeled([]image.Image{one[1], one[1]}, []string{"a", "b"}, 8).Bounds(); two[1].Bounds() != want {
		t.Errorf("two generators' step is %v, want %v", two[1].Bounds(), want)
	}
	if _, err := CompareInterpSteps(gens[:1], []string{"a"}, pairs, z, 1); err == nil {
		t.Error("1 step: no error")
	}
}
