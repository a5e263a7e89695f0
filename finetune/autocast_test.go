package finetune

import (
	"math/rand/v2"
	"testing"

	"ganshift/torch"
)

// TestAutocastBF16 runs the same steps in float32 and with bfloat16
// autocast of D and C: G must end close (bfloat16 rounding of the frozen
// networks' work only), and never bit-identical (the option does act).
func TestAutocastBF16(t *testing.T) {
	if !torch.BF16Supported() {
		t.Skip("CPU without bfloat16 support")
	}
	final := map[bool]map[string][]float32{}
	samples := map[bool][]float32{}
	for _, bf16 := range []bool{false, true} {
		nets := newNets(t)
		vars, err := Prepare(nets, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]*torch.Tensor, len(vars))
		for i, v := range vars {
			ts[i] = v.T
		}
		o := smallOpts()
		o.AutocastBF16 = bf16
		adam, err := torch.NewAdam(ts, o.LR, o.Beta1, o.Beta2, o.AdamEps)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for range 3 {
			if _, err := Step(nets, adam, rng, o); err != nil {
				t.Fatal(err)
			}
		}
		adam.Free()
		final[bf16] = stateOf(t, nets.G.Params)
		samples[bf16] = sampleOf(t, nets)
	}
	ds := maxAbsDiff(samples[true], samples[false])
	t.Logf("after 3 steps: G's samples max |bf16 − f32| = %.3g", ds)
	if ds > 0.05 {
		t.Errorf("samples differ by %g after bf16 steps", ds)
	}
	var worst, moved float64
	same := true
	for name, want := range final[false] {
		got := final[true][name]
		worst = max(worst, maxAbsDiff(got, want))
		same = same && sameBits(got, want)
	}
	base := stateOf(t, newNets(t).G.Params)
	for name, want := range final[false] {
		moved = max(moved, maxAbsDiff(want, base[name]))
	}
	t.Logf("after 3 steps: G max |bf16 − f32| = %.3g; float32 steps moved G by up to %.3g", worst, moved)
	if same {
		t.Error("autocast changed nothing")
	}
	if worst > 0.1*moved {
		t.Errorf("bf16 autocast moved G %g away from float32, more than a tenth of the steps' own change %g", worst, moved)
	}
}

// sampleOf draws 6 fixed samples from G (stored statistics, no autograd).
func sampleOf(t *testing.T, nets Nets) []float32 {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	o := smallOpts()
	zs, ys := Latents(rand.New(rand.NewPCG(9, 9)), 6, nets.G.Cfg.DimZ, nets.G.Cfg.NClasses, o)
	x := nets.G.Sample(s, s.FromFloat32(zs, 6, int64(nets.G.Cfg.DimZ)), s.FromInt64(ys, 6), false)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	v, err := x.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
