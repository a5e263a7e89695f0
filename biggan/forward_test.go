package biggan

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"ganshift/internal/testutil"
	"ganshift/nn"
	"ganshift/torch"
)

func TestOutputShapes(t *testing.T) {
	for _, res := range []int{32, 64, 128} {
		for _, train := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/train=%v", res, train), func(t *testing.T) {
				cfg := tiny(res, res/2)
				g := newG(t, cfg, 1)
				d := newD(t, cfg, 2)
				s := newScope(t)
				s.SetGrad(false)
				const b = 3
				z := s.FromFloat32(normals(3, b*cfg.DimZ), b, int64(cfg.DimZ))
				y := s.FromInt64([]int64{0, 4, 2}, b)
				x := g.Sample(s, z, y, train)
				sc := d.Forward(s, x, y, train)
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if got, want := x.Shape(), []int64{b, 3, int64(res), int64(res)}; !slices.Equal(got, want) {
					t.Errorf("G output shape %v, want %v", got, want)
				}
				if got, want := sc.Shape(), []int64{b, 1}; !slices.Equal(got, want) {
					t.Errorf("D output shape %v, want %v", got, want)
				}
				pix := values(t, s, x)
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, v := range pix {
					lo, hi = min(lo, float64(v)), max(hi, float64(v))
				}
				if !(lo >= -1 && hi <= 1) {
					t.Errorf("G output in [%v, %v], want within [-1, 1]", lo, hi)
				}
				if hi-lo < 0.01 {
					t.Errorf("G output in [%v, %v], want a spread of values", lo, hi)
				}
				for i, v := range values(t, s, sc) {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Errorf("score %d = %v", i, v)
					}
				}
			})
		}
	}
}

// TestSampleHelpers checks Images and Scores against Forward, and their
// argument checks.
func TestSampleHelpers(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 2)
	y := []int64{3, 0, 1, 4, 2}
	z := normals(5, len(y)*cfg.DimZ)

	pix, err := g.Images(z, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(y) * 3 * 32 * 32; len(pix) != want {
		t.Fatalf("Images: %d values, want %d", len(pix), want)
	}
	want := gen(t, g, z, embedding(t, g, y...), false)
	if diff := maxAbsDiff(pix, want); diff > 1e-5 {
		t.Errorf("Images in batches of 2 differs from one Forward by %g", diff)
	}

	scores, err := d.Scores(pix, y, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := newScope(t)
	s.SetGrad(false)
	sc := d.Forward(s, s.FromFloat32(pix, 5, 3, 32, 32), s.FromInt64(y, 5), false)
	if diff := maxAbsDiff(scores, values(t, s, sc)); diff > 1e-4 {
		t.Errorf("Scores in batches of 3 = %v, Forward gives %v", scores, values(t, s, sc))
	}

	errs := []struct {
		name string
		call func() error
		want string
	}{
		{"class too large", func() error { _, err := g.Images(z[:cfg.DimZ], []int64{5}, 1); return err }, "class 5 outside 0..4"},
		{"negative class", func() error { _, err := g.Images(z[:cfg.DimZ], []int64{-1}, 1); return err }, "class -1"},
		{"short z", func() error { _, err := g.Images(z[:cfg.DimZ+1], []int64{0, 1}, 1); return err }, "17 latent values for 2 images of dim_z 16"},
		{"blend lengths", func() error {
			_, err := g.Blend(z[:cfg.DimZ], []int64{0}, []int64{1, 2}, []float32{0.5}, 1)
			return err
		}, "blend of 1, 2 classes with 1 weights"},
		{"blend class", func() error {
			_, err := g.Blend(z[:cfg.DimZ], []int64{0}, []int64{7}, []float32{0.5}, 1)
			return err
		}, "class 7"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestEvalLeavesStateAlone checks that eval mode is deterministic and
// changes no tensor, while train mode rewrites every buffer (u0, sv0 and
// the stored statistics) and no parameter.
func TestEvalLeavesStateAlone(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 2)
	z := normals(1, 4*cfg.DimZ)
	y := []int64{0, 1, 2, 3}
	e := embedding(t, g, y...)

	var gBuffers, dBuffers []string
	for _, v := range g.Params.Vars() {
		if v.Buffer {
			gBuffers = append(gBuffers, v.Name)
		}
	}
	for _, v := range d.Params.Vars() {
		// D's linear has one output: its u0 is ±1 and stays so.
		if v.Buffer && v.Name != "linear.u0" {
			dBuffers = append(dBuffers, v.Name)
		}
	}
	slices.Sort(gBuffers)
	slices.Sort(dBuffers)
	if len(gBuffers) == 0 || len(dBuffers) == 0 {
		t.Fatalf("%d G and %d D buffers", len(gBuffers), len(dBuffers))
	}

	scores := func(x []float32, train bool) []float32 {
		s := torch.NewScope()
		defer s.Close()
		s.SetGrad(false)
		sc := d.Forward(s, s.FromFloat32(x, 4, 3, 32, 32), s.FromInt64(y, 4), train)
		return values(t, s, sc)
	}

	gBefore, dBefore := state(t, g.Params), state(t, d.Params)
	x1 := gen(t, g, z, e, false)
	x2 := gen(t, g, z, e, false)
	s1 := scores(x1, false)
	s2 := scores(x1, false)
	if diff := maxAbsDiff(x1, x2); diff != 0 {
		t.Errorf("two eval G forwards differ by %g", diff)
	}
	if diff := maxAbsDiff(s1, s2); diff != 0 {
		t.Errorf("two eval D forwards differ by %g", diff)
	}
	if c := changed(gBefore, state(t, g.Params)); len(c) != 0 {
		t.Errorf("eval G forward changed %q", c)
	}
	if c := changed(dBefore, state(t, d.Params)); len(c) != 0 {
		t.Errorf("eval D forward changed %q", c)
	}

	gen(t, g, z, e, true)
	scores(x1, true)
	if c := changed(gBefore, state(t, g.Params)); !slices.Equal(c, gBuffers) {
		t.Errorf("train G forward changed %q,\nwant exactly the buffers %q", c, gBuffers)
	}
	if c := changed(dBefore, state(t, d.Params)); !slices.Equal(c, dBuffers) {
		t.Errorf("train D forward changed %q,\nwant exactly the buffers %q", c, dBuffers)
	}
	// Eval mode reads what training wrote.
	if diff := maxAbsDiff(x1, gen(t, g, z, e, false)); diff == 0 {
		t.Errorf("eval G output unchanged after a train forward rewrote the stored statistics")
	}
}

// TestStoredStatistics checks the running-statistics update of the first
// conditional batch norm, whose input is the stem linear's output:
// momentum 0.1 and the unbiased batch variance, as PyTorch does.
func TestStoredStatistics(t *testing.T) {
	cfg := tiny(32, 0)
	g := newG(t, cfg, 1)
	const b = 3
	z := normals(2, b*cfg.DimZ)
	e := embedding(t, g, 0, 1, 2)

	// The stem's output in train mode, computed before the train forward
	// rewrites u (eval mode runs the same power iteration from the stored u).
	s := newScope(t)
	s.SetGrad(false)
	zt := s.FromFloat32(z, b, int64(cfg.DimZ))
	h := values(t, s, g.linear.Forward(s, s.Narrow(zt, 1, 0, int64(cfg.ZChunk())), false))
	ch := len(h) / b / 16

	gen(t, g, z, e, true)
	mean := get(t, g.Params, "blocks.0.0.bn1.stored_mean")
	vars := get(t, g.Params, "blocks.0.0.bn1.stored_var")
	if len(mean) != ch || len(vars) != ch {
		t.Fatalf("%d, %d stored values, want %d channels", len(mean), len(vars), ch)
	}
	for c := range ch {
		var sum, sq float64
		for i := range b {
			for p := range 16 {
				sum += float64(h[(i*ch+c)*16+p])
			}
		}
		m := sum / (b * 16)
		for i := range b {
			for p := range 16 {
				d := float64(h[(i*ch+c)*16+p]) - m
				sq += d * d
			}
		}
		wantMean := 0.1 * m
		wantVar := 0.9 + 0.1*sq/(b*16-1)
		if math.Abs(float64(mean[c])-wantMean) > 1e-5 || math.Abs(float64(vars[c])-wantVar) > 1e-4 {
			t.Fatalf("channel %d: stored mean, var = %v, %v, want %v, %v", c, mean[c], vars[c], wantMean, wantVar)
		}
	}
}

// TestBatchIndependence: in eval mode one sample's image does not depend
// on the rest of the batch; in train mode (batch statistics) it does.
func TestBatchIndependence(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	dz := cfg.DimZ
	zA := normals(1, 3*dz)                                   // z0, z1, z2
	zB := append(slices.Clone(zA[:dz]), normals(2, 2*dz)...) // z0, z3, z4
	eA := embedding(t, g, 0, 1, 2)
	eB := embedding(t, g, 0, 3, 4)
	per := 3 * 32 * 32
	snapshot := state(t, g.Params)

	for _, tt := range []struct {
		train bool
		same  bool
	}{{false, true}, {true, false}} {
		t.Run(fmt.Sprintf("train=%v", tt.train), func(t *testing.T) {
			restore := func() {
				if err := g.Params.Load(snapshot, "snapshot"); err != nil {
					t.Fatal(err)
				}
			}
			restore()
			a := gen(t, g, zA, eA, tt.train)[:per]
			restore()
			b := gen(t, g, zB, eB, tt.train)[:per]
			restore()
			alone := gen(t, g, zA[:dz], eA[:cfg.SharedDim], tt.train)
			restore()
			dAB, dAlone := maxAbsDiff(a, b), maxAbsDiff(a, alone)
			if tt.same && (dAB > 1e-5 || dAlone > 1e-5) {
				t.Errorf("sample 0 changes by %g with other batch mates and by %g alone, want ≤ 1e-5", dAB, dAlone)
			}
			if !tt.same && (dAB < 1e-3 || dAlone < 1e-3) {
				t.Errorf("sample 0 changes by only %g with other batch mates and %g alone, want batch statistics to matter", dAB, dAlone)
			}
		})
	}
}

func TestBlend(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	z := normals(4, 2*cfg.DimZ)
	a, b := []int64{1, 3}, []int64{2, 0}

	imgA, err := g.Images(z, a, 2)
	if err != nil {
		t.Fatal(err)
	}
	imgB, err := g.Images(z, b, 2)
	if err != nil {
		t.Fatal(err)
	}
	blend := func(t float32) []float32 {
		pix, err := g.Blend(z, a, b, []float32{t, t}, 2)
		if err != nil {
			panic(err)
		}
		return pix
	}
	if diff := maxAbsDiff(blend(0), imgA); diff > 1e-6 {
		t.Errorf("Blend at t=0 differs from class a's images by %g", diff)
	}
	if diff := maxAbsDiff(blend(1), imgB); diff > 1e-6 {
		t.Errorf("Blend at t=1 differs from class b's images by %g", diff)
	}
	mid := blend(0.25)
	if maxAbsDiff(mid, imgA) < 1e-3 || maxAbsDiff(mid, imgB) < 1e-3 {
		t.Errorf("Blend at t=0.25 equals an endpoint")
	}
	// The blend is of embedding rows: 0.75·shared[a] + 0.25·shared[b].
	ea, eb := embedding(t, g, a...), embedding(t, g, b...)
	e := make([]float32, len(ea))
	for i := range e {
		e[i] = 0.75*ea[i] + 0.25*eb[i]
	}
	if diff := maxAbsDiff(mid, gen(t, g, z, e, false)); diff > 1e-5 {
		t.Errorf("Blend at t=0.25 differs by %g from Forward on the blended embedding", diff)
	}
	// Blend keeps per-sample weights apart.
	mixed, err := g.Blend(z, a, b, []float32{0, 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := 3 * 32 * 32
	if diff := maxAbsDiff(mixed[:per], imgA[:per]); diff > 1e-6 {
		t.Errorf("sample 0 at t=0 differs from class a by %g", diff)
	}
	if diff := maxAbsDiff(mixed[per:], imgB[per:]); diff > 1e-6 {
		t.Errorf("sample 1 at t=1 differs from class b by %g", diff)
	}
}

// snLayers lists the spectrally normalised weights of a network by the
// prefix of their keys.
func snLayers(names []string) []string {
	var out []string
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, ".u0"); ok {
			out = append(out, p)
		}
	}
	return out
}

// TestSpectralNorm runs many train-mode forwards, so that the one power
// iteration per forward converges, and compares every layer's logged sigma
// with the top singular value computed here.
func TestSpectralNorm(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 2)
	const b = 2
	z := normals(1, b*cfg.DimZ)
	y := []int64{1, 2}
	e := embedding(t, g, y...)
	x := gen(t, g, z, e, false)

	for _, v := range append(slices.Clone(g.Params.Vars()), d.Params.Vars()...) {
		if strings.HasSuffix(v.Name, ".sv0") {
			if got := v.T.Numel(); got != 1 {
				t.Fatalf("%s has %d values", v.Name, got)
			}
		}
	}
	s := newScope(t)
	s.SetGrad(false)
	xt, yt := s.FromFloat32(x, b, 3, 32, 32), s.FromInt64(y, b)

	// The reference: each layer's top singular value, computed here.
	type layer struct {
		net, name  string
		get        func(string) []float32
		rows, cols int
		sigma      float64
	}
	var layers []layer
	for _, net := range []struct {
		name string
		p    *nn.Params
	}{{"G", g.Params}, {"D", d.Params}} {
		get := func(n string) []float32 { return get(t, net.p, n) }
		names := snLayers(varNames(net.p.Vars()))
		if len(names) < 10 {
			t.Fatalf("%s: only %d spectrally normalised layers: %q", net.name, len(names), names)
		}
		for _, l := range names {
			w := get(l + ".weight")
			rows := int(net.p.Get(l + ".weight").Shape()[0])
			layers = append(layers, layer{net.name, l, get, rows, len(w) / rows, testutil.TopSV(w, rows, len(w)/rows)})
		}
	}
	// errs lists the layers whose stored sigma, or whose stored u's
	// ‖u·W‖, is off by more than 1e-3 relative.
	errs := func() []string {
		var bad []string
		for _, l := range layers {
			got := float64(l.get(l.name + ".sv0")[0])
			u, w := l.get(l.name+".u0"), l.get(l.name+".weight")
			if len(u) != l.rows {
				t.Fatalf("%s %s: u0 has %d values, want %d", l.net, l.name, len(u), l.rows)
			}
			var norm float64
			for c := range l.cols {
				var acc float64
				for r := range l.rows {
					acc += float64(u[r]) * float64(w[r*l.cols+c])
				}
				norm += acc * acc
			}
			norm = math.Sqrt(norm)
			if math.Abs(got-l.sigma) > 1e-3*l.sigma || math.Abs(norm-l.sigma) > 1e-3*l.sigma {
				bad = append(bad, fmt.Sprintf("%s %s: sv0 %.6g, ‖u0·W‖ %.6g, top singular value %.6g", l.net, l.name, got, norm, l.sigma))
			}
		}
		return bad
	}
	if bad := errs(); len(bad) < len(layers)/2 {
		t.Errorf("before training, %d of %d layers already match: sv0 is not the initial 1", len(layers)-len(bad), len(layers))
	}
	// One power iteration per forward: run forwards until every layer has
	// converged, or give up.
	var bad []string
	for round := 0; round < 8; round++ {
		for range 50 {
			gen(t, g, z, e, true)
			d.Forward(s, xt, yt, true)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if bad = errs(); len(bad) == 0 {
			t.Logf("converged after %d forwards", 50*(round+1))
			break
		}
	}
	for _, b := range bad {
		t.Errorf("after 400 train forwards, %s", b)
	}

	// The weights the layers use have spectral norm 1.
	effective := []struct {
		name string
		sn   func(*torch.Scope) *torch.Tensor
	}{
		{"G linear", func(s *torch.Scope) *torch.Tensor { return g.linear.Weight(s, false) }},
		{"G blocks.0.0.conv1", func(s *torch.Scope) *torch.Tensor { return g.blocks[0].conv1.Weight(s, false) }},
		{"G blocks.2.0.bn2.gain", func(s *torch.Scope) *torch.Tensor { return g.blocks[2].bn2.gain.Weight(s, false) }},
		{"G blocks.1.1.theta", func(s *torch.Scope) *torch.Tensor { return g.attn[1].theta.Weight(s, false) }},
		{"G output_layer.2", func(s *torch.Scope) *torch.Tensor { return g.outConv.Weight(s, false) }},
		{"D blocks.3.0.conv2", func(s *torch.Scope) *torch.Tensor { return d.blocks[3].conv2.Weight(s, false) }},
		{"D embed", func(s *torch.Scope) *torch.Tensor { return d.embed.Weight(s, false) }},
		{"D linear", func(s *torch.Scope) *torch.Tensor { return d.linear.Weight(s, false) }},
	}
	for _, tt := range effective {
		w := tt.sn(s)
		vals := values(t, s, w)
		rows := int(w.Shape()[0])
		if got := testutil.TopSV(vals, rows, len(vals)/rows); math.Abs(got-1) > 1e-3 {
			t.Errorf("%s: normalised weight has spectral norm %v, want 1", tt.name, got)
		}
	}
}
