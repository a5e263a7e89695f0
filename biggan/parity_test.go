package biggan

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
	"ganshift/internal/testutil"
)

// The fixtures of testdata/parity come from the independent PyTorch model
// tools/reference/biggan_ref.py (see testdata/parity/README): a width-8
// 128×128 G and D with 10 classes, dim_z 60, shared embedding 32 and
// attention at 64, saved in BigGAN-PyTorch's legacy .pth format, and the
// outputs PyTorch computed from them.

const parityTol = 1e-4

func parityPath(name string) string { return filepath.Join("testdata", "parity", name) }

// readNpy reads a .npy file into a slice of T, returning it with its shape.
func readNpy[T any](t testing.TB, name string) ([]T, []int) {
	t.Helper()
	return testutil.ReadNpy[T](t, parityPath(name))
}

// parityInputs reads z, y and their shapes' sizes.
func parityInputs(t testing.TB) (z []float32, y []int64) {
	t.Helper()
	z, zs := readNpy[float32](t, "z.npy")
	y, ys := readNpy[int64](t, "y.npy")
	if !slices.Equal(zs, []int{2, 60}) || !slices.Equal(ys, []int{2}) {
		t.Fatalf("z shape %v, y shape %v; want [2 60], [2]", zs, ys)
	}
	return z, y
}

func loadParityG(t testing.TB) *Generator {
	t.Helper()
	g, err := LoadG(parityPath("G.pth"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Free)
	return g
}

func loadParityD(t testing.TB) *Discriminator {
	t.Helper()
	d, err := LoadD(parityPath("D.pth"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Free)
	return d
}

// checkClose compares got with the .npy file want.
func checkClose(t *testing.T, what string, got []float32, want string) {
	t.Helper()
	ref, shape := readNpy[float32](t, want)
	diff := maxAbsDiff(got, ref)
	t.Logf("%s: max |Go − PyTorch| = %.3g over %d values (shape %v)", what, diff, len(ref), shape)
	if !(diff <= parityTol) {
		t.Errorf("%s: max abs diff %.3g > %g", what, diff, parityTol)
	}
	if spread := maxAbsDiff(ref, make([]float32, len(ref))); spread < 0.05 {
		t.Errorf("%s: reference values within ±%.3g: too flat to show errors", what, spread)
	}
}

func TestParityInferredConfig(t *testing.T) {
	g := loadParityG(t)
	d := loadParityD(t)
	wantG := Config{Resolution: 128, GCh: 8, DimZ: 60, SharedDim: 32, NClasses: 10, GAttn: []int{64}, SNEps: 1e-6, BNEps: 1e-5}
	if !configEqual(g.Cfg, wantG) {
		t.Errorf("G config %+v, want %+v", g.Cfg, wantG)
	}
	wantD := Config{Resolution: 128, DCh: 8, NClasses: 10, DAttn: []int{64}, SNEps: 1e-6, BNEps: 1e-5}
	if !configEqual(d.Cfg, wantD) {
		t.Errorf("D config %+v, want %+v", d.Cfg, wantD)
	}
}

func configEqual(a, b Config) bool {
	return a.Resolution == b.Resolution && a.GCh == b.GCh && a.DCh == b.DCh && a.DimZ == b.DimZ &&
		a.SharedDim == b.SharedDim && a.NClasses == b.NClasses && slices.Equal(a.GAttn, b.GAttn) &&
		slices.Equal(a.DAttn, b.DAttn) && a.SNEps == b.SNEps && a.BNEps == b.BNEps
}

func TestParityGeneratorEval(t *testing.T) {
	g := loadParityG(t)
	z, y := parityInputs(t)
	s := newScope(t)
	s.SetGrad(false)
	x := g.Sample(s, s.FromFloat32(z, 2, 60), s.FromInt64(y, 2), false)
	checkClose(t, "G eval", values(t, s, x), "g_eval.npy")
}

func TestParityGeneratorTrain(t *testing.T) {
	g := loadParityG(t)
	z, y := parityInputs(t)
	s := newScope(t)
	s.SetGrad(false)
	x := g.Sample(s, s.FromFloat32(z, 2, 60), s.FromInt64(y, 2), true)
	checkClose(t, "G train", values(t, s, x), "g_train.npy")

	// The one training-mode forward also updated the buffers: spectral-norm
	// u0 and sv0, and the batch norms' stored statistics (momentum 0.1,
	// unbiased variance).
	want, err := checkpoint.LoadPth(parityPath("G_train_buffers.pth"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := checkpoint.LoadPth(parityPath("G.pth"))
	if err != nil {
		t.Fatal(err)
	}
	after := state(t, g.Params)
	var worst float64
	var worstKey string
	for k, w := range want {
		got, ok := after[k]
		if !ok {
			t.Errorf("G has no buffer %q", k)
			continue
		}
		if d := maxAbsDiff(got.Data, w.Data); d > worst || math.IsNaN(d) {
			worst, worstKey = d, k
		}
		if strings.HasSuffix(k, ".u0") && maxAbsDiff(before[k].Data, w.Data) < 1e-3 {
			t.Errorf("%s: the reference did not change u0; the fixture cannot show the update", k)
		}
	}
	t.Logf("buffers after training forward: %d compared, max |Go − PyTorch| = %.3g (%s)", len(want), worst, worstKey)
	if !(worst <= parityTol) {
		t.Errorf("buffers after training forward: %s differs by %.3g > %g", worstKey, worst, parityTol)
	}
	if len(want) != 2*countSuffix(after, ".u0")+2*countSuffix(after, ".stored_mean") {
		t.Errorf("%d reference buffers, want all u0, sv0, stored_mean and stored_var", len(want))
	}
}

func countSuffix(m map[string]checkpoint.Tensor, suffix string) int {
	n := 0
	for k := range m {
		if strings.HasSuffix(k, suffix) {
			n++
		}
	}
	return n
}

func TestParityGeneratorBlend(t *testing.T) {
	g := loadParityG(t)
	z, _ := parityInputs(t)
	pairs, ps := readNpy[int64](t, "blend_y.npy")
	alpha, as := readNpy[float32](t, "blend_alpha.npy")
	if !slices.Equal(ps, []int{2, 2}) || len(as) != 0 || len(alpha) != 1 {
		t.Fatalf("blend_y shape %v, blend_alpha shape %v (%d values)", ps, as, len(alpha))
	}
	a := []int64{pairs[0], pairs[2]}
	b := []int64{pairs[1], pairs[3]}
	pix, err := g.Blend(z, a, b, []float32{alpha[0], alpha[0]}, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "G blend", pix, "g_blend.npy")
}

func TestParityDiscriminator(t *testing.T) {
	d := loadParityD(t)
	_, y := parityInputs(t)
	img, shape := readNpy[float32](t, "g_eval.npy")
	if !slices.Equal(shape, []int{2, 3, 128, 128}) {
		t.Fatalf("g_eval shape %v", shape)
	}
	s := newScope(t)
	s.SetGrad(false)
	sc := d.Forward(s, s.FromFloat32(img, 2, 3, 128, 128), s.FromInt64(y, 2), false)
	checkClose(t, "D eval", values(t, s, sc), "d_eval.npy")
}

// TestParityZipCopy checks that the zip-format copy of G holds exactly the
// tensors of the legacy file.
func TestParityZipCopy(t *testing.T) {
	legacy, err := checkpoint.LoadPth(parityPath("G.pth"))
	if err != nil {
		t.Fatal(err)
	}
	zip, err := checkpoint.LoadPth(parityPath("G_zip.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if len(legacy) != 166 { // the released G's key set
		t.Fatalf("legacy G has %d tensors, want 166", len(legacy))
	}
	if len(zip) != len(legacy) {
		t.Fatalf("zip copy has %d tensors, legacy %d", len(zip), len(legacy))
	}
	for k, a := range legacy {
		b, ok := zip[k]
		if !ok {
			t.Errorf("zip copy lacks %q", k)
			continue
		}
		if !slices.Equal(a.Shape, b.Shape) || !slices.EqualFunc(a.Data, b.Data, func(x, y float32) bool {
			return math.Float32bits(x) == math.Float32bits(y)
		}) {
			t.Errorf("%q differs between the legacy and the zip file", k)
		}
	}
}

// TestParitySensitive checks that the fixtures can see the parts most
// easily got wrong: each change below moves G's eval output well beyond
// the parity tolerance.
func TestParitySensitive(t *testing.T) {
	z, y := parityInputs(t)
	ref, _ := readNpy[float32](t, "g_eval.npy")
	tests := []struct {
		name, key string
		value     float32
	}{
		{"attention off", "blocks.3.1.gamma", 0},
		{"output gain 1", "output_layer.0.gain", 1},
		{"stored var 1", "blocks.2.0.bn1.stored_var", 1},
		{"stored mean 0", "blocks.4.0.bn2.stored_mean", 0},
		{"another u0", "blocks.0.0.conv1.u0", 1}, // sigma from one power iteration depends on u
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := loadParityG(t)
			n := 1
			for _, d := range g.Params.Get(tt.key).Shape() {
				n *= int(d)
			}
			vals := make([]float32, n)
			for i := range vals {
				vals[i] = tt.value
			}
			set(t, g.Params, tt.key, vals)
			s := newScope(t)
			s.SetGrad(false)
			x := values(t, s, g.Sample(s, s.FromFloat32(z, 2, 60), s.FromInt64(y, 2), false))
			if d := maxAbsDiff(x, ref); d < 10*parityTol {
				t.Errorf("setting %s to %v moves the output by only %.3g", tt.key, tt.value, d)
			}
		})
	}
}
