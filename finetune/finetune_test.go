package finetune

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/nn"
	"ganshift/progress"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	os.Exit(m.Run())
}

// smallCfg is a BigGAN small enough to train in milliseconds.
var smallCfg = biggan.Config{Resolution: 32, GCh: 4, DCh: 4, DimZ: 16, SharedDim: 8, NClasses: 3}

// newNets builds the three networks from fixed seeds, so two calls give
// bit-identical networks; they are freed when the test ends.
func newNets(t *testing.T) Nets {
	t.Helper()
	g, err := biggan.NewGenerator(smallCfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := biggan.NewDiscriminator(smallCfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: 32, Classes: 2, Target: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Free()
		d.Free()
		c.Free()
	})
	return Nets{G: g, D: d, C: c}
}

// smallOpts are quick settings: a batch of 4, a 3×2 sheet, a learning
// rate large enough that a few steps visibly move the weights.
func smallOpts() Options {
	o := Defaults()
	o.Iters, o.Batch, o.SnapshotEvery = 4, 4, 2
	o.LR = 1e-3
	o.SheetCols, o.SheetRows = 3, 2
	return o
}

// stateOf copies every tensor of p to Go memory.
func stateOf(t *testing.T, p *nn.Params) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range p.Vars() {
		data, err := v.T.Float32()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		out[v.Name] = data
	}
	return out
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestOnlyGeneratorChanges trains a few steps and checks that D and C are
// untouched, that the trained G parameters moved, and that the parameters
// excluded by Options.Train neither moved nor got optimizer state.
func TestOnlyGeneratorChanges(t *testing.T) {
	tests := []struct {
		name  string
		train []string
	}{
		{"all", nil},
		{"bn only", []string{"blocks.*.bn*"}},
		{"output and embedding", []string{"output_layer.*", "shared.weight"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nets := newNets(t)
			opt := smallOpts()
			opt.Train = tc.train
			wantTrained, err := nets.G.Params.Trainable(tc.train...)
			if err != nil {
				t.Fatal(err)
			}
			dBefore, cBefore := stateOf(t, nets.D.Params), stateOf(t, nets.C.Params)
			gBefore := stateOf(t, nets.G.Params)

			r, err := Start(t.TempDir(), RunConfig{Options: opt}, nets)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Train("test", nil); err != nil {
				t.Fatal(err)
			}
			if got, want := r.Iter(), opt.Iters; got != want {
				t.Fatalf("Iter() = %d, want %d", got, want)
			}

			for name, after := range stateOf(t, nets.D.Params) {
				if !sameBits(after, dBefore[name]) {
					t.Errorf("D %s changed (max abs diff %g)", name, maxAbsDiff(after, dBefore[name]))
				}
			}
			for name, after := range stateOf(t, nets.C.Params) {
				if !sameBits(after, cBefore[name]) {
					t.Errorf("C %s changed (max abs diff %g)", name, maxAbsDiff(after, cBefore[name]))
				}
			}

			gAfter := stateOf(t, nets.G.Params)
			trained := map[string]bool{}
			for _, v := range wantTrained {
				trained[v.Name] = true
			}
			nTrained := 0
			for _, v := range nets.G.Params.Vars() {
				changed := !sameBits(gAfter[v.Name], gBefore[v.Name])
				switch {
				case trained[v.Name]:
					nTrained++
					if !changed {
						t.Errorf("trained G parameter %s did not change", v.Name)
					}
				case !v.Buffer && changed:
					t.Errorf("excluded G parameter %s changed (max abs diff %g)", v.Name, maxAbsDiff(gAfter[v.Name], gBefore[v.Name]))
				}
				if v.T.RequiresGrad() != trained[v.Name] {
					t.Errorf("G %s requires grad = %v, want %v", v.Name, v.T.RequiresGrad(), trained[v.Name])
				}
			}
			if nTrained == 0 {
				t.Fatal("no G parameter was trained")
			}
			for _, p := range [](*nn.Params){nets.D.Params, nets.C.Params} {
				for _, v := range p.Vars() {
					if v.T.RequiresGrad() {
						t.Errorf("frozen tensor %s requires grad", v.Name)
					}
					if g, _ := v.T.Grad(); g != nil {
						g.Free()
						t.Errorf("frozen tensor %s has a gradient", v.Name)
					}
				}
			}
			if !nets.D.Frozen() || !nets.C.Frozen() {
				t.Errorf("after the run D frozen = %v, C frozen = %v; want both", nets.D.Frozen(), nets.C.Frozen())
			}

			// The optimizer holds exactly the trained parameters, in order.
			if got, want := len(r.adam.Params), len(wantTrained); got != want {
				t.Fatalf("Adam holds %d parameters, want %d", got, want)
			}
			for i, v := range wantTrained {
				if r.adam.Params[i] != v.T {
					t.Errorf("Adam parameter %d is not %s", i, v.Name)
				}
			}
			if got, want := len(r.adam.M)+len(r.adam.V), 2*len(wantTrained); got != want {
				t.Errorf("Adam holds %d moment tensors, want %d", got, want)
			}
			if got, want := r.adam.Steps, int64(opt.Iters); got != want {
				t.Errorf("Adam steps = %d, want %d", got, want)
			}
		})
	}
}

// TestStepLoss checks the metrics of one step against the method's formula
// and against an independent forward pass of the same batch.
func TestStepLoss(t *testing.T) {
	tests := []struct {
		name    string
		wCls    float64
		wD      float64
		classes []int
	}{
		{"classifier only", 1, 0, nil},
		{"classifier only, weighted", 2.5, 0, nil},
		{"discriminator only", 0, 1, nil},
		{"discriminator only, weighted", 0, 0.3, []int{2}},
		{"both", 0.7, 1.5, []int{0, 2}},
	}
	const seed = 11
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nets := newNets(t)
			opt := smallOpts()
			// Stored statistics make the training forward equal the
			// evaluation forward of Images, Scores and TargetProbs.
			opt.BNMode = "stored"
			opt.WCls, opt.WD, opt.Classes = tc.wCls, tc.wD, tc.classes

			// The independent computation of the same batch.
			z, y := Latents(rand.New(rand.NewPCG(seed, 1)), opt.Batch, smallCfg.DimZ, smallCfg.NClasses, opt)
			x, err := nets.G.Images(z, y, opt.Batch)
			if err != nil {
				t.Fatal(err)
			}
			probs, err := nets.C.TargetProbs(x, opt.Batch, smallCfg.Resolution, opt.Batch)
			if err != nil {
				t.Fatal(err)
			}
			scores, err := nets.D.Scores(x, y, opt.Batch)
			if err != nil {
				t.Fatal(err)
			}
			var wantCE, wantProb, wantScore float64
			for i := range probs {
				wantCE -= math.Log(float64(probs[i])) / float64(len(probs))
				wantProb += float64(probs[i]) / float64(len(probs))
				wantScore += float64(scores[i]) / float64(len(scores))
			}

			vars, err := Prepare(nets, nil)
			if err != nil {
				t.Fatal(err)
			}
			ts := make([]*torch.Tensor, len(vars))
			for i, v := range vars {
				ts[i] = v.T
			}
			adam, err := torch.NewAdam(ts, opt.LR, opt.Beta1, opt.Beta2, opt.AdamEps)
			if err != nil {
				t.Fatal(err)
			}
			defer adam.Free()
			m, err := Step(nets, adam, rand.New(rand.NewPCG(seed, 1)), opt)
			if err != nil {
				t.Fatal(err)
			}

			close := func(what string, got, want, tol float64) {
				t.Helper()
				if math.Abs(got-want) > tol*max(1, math.Abs(want)) {
					t.Errorf("%s = %.9g, want %.9g", what, got, want)
				}
			}
			close("Loss", m.Loss, tc.wCls*m.ClsLoss+tc.wD*m.DLoss, 1e-6)
			switch {
			case tc.wD == 0:
				close("Loss (w_d 0)", m.Loss, tc.wCls*m.ClsLoss, 1e-6)
			case tc.wCls == 0:
				close("Loss (w_cls 0)", m.Loss, tc.wD*m.DLoss, 1e-6)
			}
			close("DLoss", m.DLoss, -m.DScore, 1e-6)
			close("ClsLoss", m.ClsLoss, wantCE, 1e-4)
			close("TargetProb", m.TargetProb, wantProb, 1e-5)
			close("DScore", m.DScore, wantScore, 1e-4)
			if m.TargetProb <= 0 || m.TargetProb >= 1 {
				t.Errorf("TargetProb = %v, want inside (0, 1)", m.TargetProb)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Options)
		want   string // "" for valid
	}{
		{"defaults", func(o *Options) {}, ""},
		{"zero iters", func(o *Options) { o.Iters = 0 }, "iters 0"},
		{"negative iters", func(o *Options) { o.Iters = -3 }, "iters -3"},
		{"zero batch", func(o *Options) { o.Batch = 0 }, "batch 0"},
		{"batch 1 with batch BN", func(o *Options) { o.Batch = 1 }, "batch statistics"},
		{"batch 1 with stored BN", func(o *Options) { o.Batch, o.BNMode = 1, "stored" }, ""},
		{"bad bn mode", func(o *Options) { o.BNMode = "eval" }, `bn mode "eval"`},
		{"empty bn mode", func(o *Options) { o.BNMode = "" }, `bn mode ""`},
		{"both weights 0", func(o *Options) { o.WCls, o.WD = 0, 0 }, "both 0"},
		{"only w_d 0", func(o *Options) { o.WD = 0 }, ""},
		{"only w_cls 0", func(o *Options) { o.WCls = 0 }, ""},
		{"zero snapshot-every", func(o *Options) { o.SnapshotEvery = 0 }, "snapshot-every 0"},
		{"zero truncation", func(o *Options) { o.Truncation = 0 }, "truncation"},
		{"class too large", func(o *Options) { o.Classes = []int{0, 3} }, "class 3 outside 0..2"},
		{"negative class", func(o *Options) { o.Classes = []int{-1} }, "class -1 outside 0..2"},
		{"last class", func(o *Options) { o.Classes = []int{2} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			tc.modify(&o)
			err := o.Validate(3)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSheetLatents(t *testing.T) {
	tests := []struct {
		name       string
		classes    []int
		cols, rows int
		wantRows   []int64
	}{
		{"all classes", nil, 4, 5, []int64{0, 1, 2, 0, 1}},
		{"chosen classes", []int{2, 0}, 3, 5, []int64{2, 0, 2, 0, 2}},
		{"one class", []int{1}, 2, 3, []int64{1, 1, 1}},
		{"one column", nil, 1, 4, []int64{0, 1, 2, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			o.Seed, o.Classes, o.SheetCols, o.SheetRows = 5, tc.classes, tc.cols, tc.rows
			z, y := SheetLatents(smallCfg, o)
			if got, want := len(z), tc.cols*tc.rows*smallCfg.DimZ; got != want {
				t.Fatalf("len(z) = %d, want %d", got, want)
			}
			if got, want := len(y), tc.cols*tc.rows; got != want {
				t.Fatalf("len(y) = %d, want %d", got, want)
			}
			for i, c := range y {
				if want := tc.wantRows[i/tc.cols]; c != want {
					t.Errorf("y[%d] (row %d) = %d, want %d", i, i/tc.cols, c, want)
				}
			}

			z2, y2 := SheetLatents(smallCfg, o)
			if !sameBits(z, z2) || !slices.Equal(y, y2) {
				t.Error("two calls with the same seed differ")
			}
			o.Seed = 6
			z3, _ := SheetLatents(smallCfg, o)
			if sameBits(z, z3) {
				t.Error("seeds 5 and 6 give the same z")
			}
			// The sheet has a stream of its own: not the training batches'.
			o.Seed = 5
			zTrain, _ := Latents(rand.New(rand.NewPCG(o.Seed, 1)), tc.cols*tc.rows, smallCfg.DimZ, smallCfg.NClasses, o)
			if sameBits(z, zTrain) {
				t.Error("sheet z equals the training stream's z")
			}
			// Truncation scales the same normal draws.
			o.Truncation = 0.5
			zHalf, _ := SheetLatents(smallCfg, o)
			for i := range z {
				if zHalf[i]*2 != z[i] {
					t.Fatalf("z[%d] at truncation 0.5 = %v, want half of %v", i, zHalf[i], z[i])
				}
			}
		})
	}
}

func TestLatentsClasses(t *testing.T) {
	o := Defaults()
	o.Classes = []int{1, 2}
	_, y := Latents(rand.New(rand.NewPCG(1, 1)), 200, 4, 3, o)
	seen := map[int64]int{}
	for _, c := range y {
		seen[c]++
	}
	if seen[0] != 0 || seen[1] == 0 || seen[2] == 0 {
		t.Errorf("classes drawn from {1, 2}: counts %v", seen)
	}
	o.Classes = nil
	_, y = Latents(rand.New(rand.NewPCG(1, 1)), 200, 4, 3, o)
	seen = map[int64]int{}
	for _, c := range y {
		seen[c]++
	}
	if len(seen) != 3 || seen[0] == 0 || seen[1] == 0 || seen[2] == 0 {
		t.Errorf("classes drawn from all 3: counts %v", seen)
	}
}
