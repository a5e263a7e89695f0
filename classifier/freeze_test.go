package classifier

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ganshift/torch"
)

// randomizeBN gives every batch norm non-trivial statistics and affine
// parameters, so that folding them is tested for real.
func randomizeBN(t *testing.T, n *Net, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	for _, v := range n.Params.Vars() {
		var f func() float64
		switch {
		case strings.HasSuffix(v.Name, "running_var"):
			f = func() float64 { return 0.3 + 2*r.Float64() }
		case strings.HasSuffix(v.Name, "running_mean"):
			f = func() float64 { return 0.2 * r.NormFloat64() }
		case strings.Contains(v.Name, "bn") || strings.Contains(v.Name, "downsample.1"):
			if strings.HasSuffix(v.Name, ".weight") {
				f = func() float64 { return 0.5 + r.Float64() }
			} else if strings.HasSuffix(v.Name, ".bias") {
				f = func() float64 { return 0.1 * r.NormFloat64() }
			}
		}
		if f == nil {
			continue
		}
		vals := make([]float32, v.T.Numel())
		for i := range vals {
			vals[i] = float32(f())
		}
		src, err := torch.FromFloat32(vals, v.T.Shape()...)
		if err != nil {
			t.Fatal(err)
		}
		err = v.T.CopyFrom(src)
		src.Free()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// logitsAndGrad returns eval-mode logits of x and the gradient of a fixed
// weighting of them w.r.t. x.
func logitsAndGrad(t *testing.T, n *Net, xs []float32, shape ...int64) (logits, grad []float32) {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	x := s.FromFloat32(xs, shape...)
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	out := n.Logits(s, x)
	r := rand.New(rand.NewPCG(7, 7))
	ws := make([]float32, out.Numel())
	for i := range ws {
		ws[i] = float32(r.NormFloat64())
	}
	loss := s.Sum(s.Mul(out, s.FromFloat32(ws, out.Shape()...)), false)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	var err error
	if logits, err = out.Float32(); err != nil {
		t.Fatal(err)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := x.Grad()
	if err != nil || g == nil {
		t.Fatalf("no input gradient: %v", err)
	}
	defer g.Free()
	if grad, err = g.Float32(); err != nil {
		t.Fatal(err)
	}
	return logits, grad
}

func maxDiff(a, b []float32) (diff, spread float64) {
	if len(a) != len(b) {
		return math.Inf(1), 0
	}
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i])-float64(b[i])))
		spread = max(spread, math.Abs(float64(b[i])))
	}
	return diff, spread
}

// TestFreezeFoldsBatchNorm checks that folding changes logits and input
// gradients only by float rounding. The ResNeXt-50 fixture (random weights,
// gradients up to 200× the input) amplifies rounding: measured against a
// float64 evaluation of it in PyTorch, float32 without folding is off by
// 3.5e-4 and float32 with folding by 1.8e-4, and the two differ by 4.2e-4
// (PyTorch's own folding gives the same 4.2e-4), so its bound is 1e-3.
func TestFreezeFoldsBatchNorm(t *testing.T) {
	xs, _ := readNpy[float32](t, "x.npy") // (2, 3, 64, 64)
	tols := map[string]float64{"resnet18_w8": 1e-4, "resnext50_w4": 1e-3, "random": 1e-4}
	for _, name := range []string{"resnet18_w8", "resnext50_w4", "random"} {
		t.Run(name, func(t *testing.T) {
			tol := tols[name]
			var n *Net
			if name == "random" {
				var err error
				n, err = New(Config{Arch: "resnet18", Width: 8, Size: 64, Classes: 5, Target: 1}, 2)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(n.Free)
				randomizeBN(t, n, 1)
			} else {
				n = loadFixture(t, name)
			}
			if err := n.Params.SetRequiresGrad(nil); err != nil {
				t.Fatal(err)
			}
			before, err := n.Params.State()
			if err != nil {
				t.Fatal(err)
			}
			wantL, wantG := logitsAndGrad(t, n, xs, 2, 3, 64, 64)
			if err := n.Freeze(); err != nil {
				t.Fatal(err)
			}
			for _, c := range n.res.convBNs() {
				if !c.folded() {
					t.Fatal("a convolution is not folded after Freeze")
				}
			}
			gotL, gotG := logitsAndGrad(t, n, xs, 2, 3, 64, 64)
			dl, sl := maxDiff(gotL, wantL)
			dg, sg := maxDiff(gotG, wantG)
			t.Logf("folded vs unfolded: logits %.3g (largest %.3g), input grads %.3g (largest %.3g)", dl, sl, dg, sg)
			if !(dl <= tol) {
				t.Errorf("folded logits differ by %g > %g", dl, tol)
			}
			if !(dg <= tol*max(1, sg)) {
				t.Errorf("folded input gradients differ by %g", dg)
			}
			if sl < 0.05 {
				t.Errorf("logits within ±%g: too flat to show errors", sl)
			}
			if name == "resnet18_w8" {
				checkClose(t, "frozen eval logits", gotL, name+"_eval.npy")
			}
			after, err := n.Params.State()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range before {
				w := after[k]
				for i := range v.Data {
					if math.Float32bits(v.Data[i]) != math.Float32bits(w.Data[i]) {
						t.Fatalf("Freeze changed %s", k)
					}
				}
			}
			for _, v := range n.Params.Vars() {
				if g, _ := v.T.Grad(); g != nil {
					g.Free()
					t.Errorf("%s got a gradient through the frozen classifier", v.Name)
				}
			}

			// Changing statistics makes the folds stale: the network must
			// compute with the new values, as if never frozen.
			randomizeBN(t, n, 2)
			if n.res.stem.folded() {
				t.Error("fold still current after its statistics changed")
			}
			staleL, _ := logitsAndGrad(t, n, xs, 2, 3, 64, 64)
			n.Unfreeze()
			freshL, _ := logitsAndGrad(t, n, xs, 2, 3, 64, 64)
			if d, _ := maxDiff(staleL, freshL); d != 0 {
				t.Errorf("stale frozen network differs from the unfrozen one by %g", d)
			}
		})
	}
}

func TestFreezeSmallCNN(t *testing.T) {
	n, err := New(Config{Arch: "smallcnn", Size: 32, Classes: 2, Target: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Free()
	if err := n.Freeze(); err != nil {
		t.Fatal(err)
	}
	n.Unfreeze()
}
