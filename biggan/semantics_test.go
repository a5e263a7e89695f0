package biggan

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"ganshift/nn"
	"ganshift/torch"
)

// TestAttentionMatters: with gamma ≠ 0, new theta weights change the
// network's output; with gamma = 0 they cannot.
func TestAttentionMatters(t *testing.T) {
	cfg := tiny(32, 16)
	for _, net := range []string{"G", "D"} {
		for _, gamma := range []float32{0, 0.5} {
			t.Run(fmt.Sprintf("%s/gamma=%v", net, gamma), func(t *testing.T) {
				g := newG(t, cfg, 1)
				d := newD(t, cfg, 2)
				z := normals(1, 2*cfg.DimZ)
				y := []int64{0, 3}
				e := embedding(t, g, y...)
				x := gen(t, g, z, e, false)

				p, prefix := g.Params, "blocks.1.1"
				run := func() []float32 { return gen(t, g, z, e, false) }
				if net == "D" {
					p, prefix = d.Params, "blocks.0.1"
					run = func() []float32 {
						sc, err := d.Scores(x, y, 2)
						if err != nil {
							t.Fatal(err)
						}
						return sc
					}
				}
				if got := get(t, p, prefix+".gamma"); !slices.Equal(got, []float32{0}) {
					t.Errorf("initial gamma %v, want [0]", got)
				}
				set(t, p, prefix+".gamma", []float32{gamma})
				before := run()
				theta := p.Get(prefix + ".theta.weight")
				set(t, p, prefix+".theta.weight", normals(99, int(theta.Numel())))
				diff := maxAbsDiff(before, run())
				if gamma == 0 && diff != 0 {
					t.Errorf("with gamma 0, new theta weights change the output by %g", diff)
				}
				if gamma != 0 && diff < 1e-4 {
					t.Errorf("with gamma %v, new theta weights change the output by only %g", gamma, diff)
				}
			})
		}
	}
}

// TestAttentionValues compares attention's output with a direct
// computation: softmax over the pooled keys of θ(x)ᵀφ(x), values g(x)
// pooled, then x + gamma·o(g·βᵀ).
func TestAttentionValues(t *testing.T) {
	const c, h, w = 16, 4, 6
	p := nn.NewParams(7)
	a := newAttention(p, "attn", c, 1e-6)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Free)
	set(t, p, "attn.gamma", []float32{0.7})
	x := normals(3, c*h*w)

	s := newScope(t)
	s.SetGrad(false)
	got := values(t, s, a.forward(s, s.FromFloat32(x, 1, c, h, w), false))

	// Effective (normalised) 1×1 weights as (out, in) matrices.
	mat := func(conv *nn.SNConv) ([]float32, int) {
		wt := conv.Weight(s, false)
		return values(t, s, wt), int(wt.Shape()[0])
	}
	apply := func(wm []float32, out int, in []float64, n int) []float64 {
		// in is (c_in, n); result (out, n).
		cin := len(in) / n
		res := make([]float64, out*n)
		for o := range out {
			for i := range cin {
				for k := range n {
					res[o*n+k] += float64(wm[o*cin+i]) * in[i*n+k]
				}
			}
		}
		return res
	}
	pool := func(in []float64, ch int) []float64 {
		res := make([]float64, ch*(h/2)*(w/2))
		for k := range ch {
			for i := range h / 2 {
				for j := range w / 2 {
					m := math.Inf(-1)
					for di := range 2 {
						for dj := range 2 {
							m = max(m, in[k*h*w+(2*i+di)*w+2*j+dj])
						}
					}
					res[k*(h/2)*(w/2)+i*(w/2)+j] = m
				}
			}
		}
		return res
	}
	xs := make([]float64, len(x))
	for i, v := range x {
		xs[i] = float64(v)
	}
	n, m := h*w, h*w/4
	wt, ct := mat(a.theta)
	wp, cp := mat(a.phi)
	wg, cg := mat(a.g)
	wo, co := mat(a.o)
	if ct != c/8 || cp != c/8 || cg != c/2 || co != c {
		t.Fatalf("channels theta %d, phi %d, g %d, o %d; want %d, %d, %d, %d", ct, cp, cg, co, c/8, c/8, c/2, c)
	}
	theta := apply(wt, ct, xs, n)
	phi := pool(apply(wp, cp, xs, n), cp)
	gv := pool(apply(wg, cg, xs, n), cg)
	o := make([]float64, cg*n)
	for q := range n {
		logits := make([]float64, m)
		top := math.Inf(-1)
		for k := range m {
			for ch := range ct {
				logits[k] += theta[ch*n+q] * phi[ch*m+k]
			}
			top = max(top, logits[k])
		}
		var sum float64
		for k := range logits {
			logits[k] = math.Exp(logits[k] - top)
			sum += logits[k]
		}
		for ch := range cg {
			for k := range m {
				o[ch*n+q] += gv[ch*m+k] * logits[k] / sum
			}
		}
	}
	out := apply(wo, co, o, n)
	for i := range out {
		want := xs[i] + 0.7*out[i]
		if math.Abs(float64(got[i])-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("output[%d] = %v, want %v", i, got[i], want)
		}
	}
}

// TestHierarchicalZ checks how z is split: chunk 0 feeds the stem linear,
// chunk k ≥ 1 feeds block k−1's conditioning vector [embedding, chunk].
func TestHierarchicalZ(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	n, size := cfg.ZChunks(), cfg.ZChunk()
	z := normals(1, 2*cfg.DimZ)
	e := embedding(t, g, 1, 4)
	// with returns z with chunks ks of both samples redrawn.
	with := func(ks ...int) []float32 {
		out := slices.Clone(z)
		fresh := normals(uint64(100+ks[0]), len(z))
		for _, k := range ks {
			for b := range 2 {
				lo := b*cfg.DimZ + k*size
				copy(out[lo:lo+size], fresh[lo:lo+size])
			}
		}
		return out
	}
	base := gen(t, g, z, e, false)
	for k := range n {
		if diff := maxAbsDiff(base, gen(t, g, with(k), e, false)); diff < 1e-4 {
			t.Errorf("changing only z chunk %d changes the output by %g", k, diff)
		}
	}

	// Cut the z part (the last columns) of every conditioning linear: only
	// chunk 0 can still matter, through the stem.
	condWeights := func() []string {
		var names []string
		for i := range len(g.blocks) {
			for _, bn := range []string{"bn1", "bn2"} {
				for _, part := range []string{"gain", "bias"} {
					names = append(names, fmt.Sprintf("blocks.%d.0.%s.%s.weight", i, bn, part))
				}
			}
		}
		return names
	}
	snapshot := state(t, g.Params)
	zeroColumns := func(from, to int) {
		for _, name := range condWeights() {
			wt := get(t, g.Params, name)
			cols := cfg.SharedDim + size
			if len(wt)%cols != 0 {
				t.Fatalf("%s: %d values, not rows of %d", name, len(wt), cols)
			}
			for r := range len(wt) / cols {
				for c := from; c < to; c++ {
					wt[r*cols+c] = 0
				}
			}
			set(t, g.Params, name, wt)
		}
	}
	zeroColumns(cfg.SharedDim, cfg.SharedDim+size)
	base = gen(t, g, z, e, false)
	rest := make([]int, 0, n-1)
	for k := 1; k < n; k++ {
		rest = append(rest, k)
	}
	if diff := maxAbsDiff(base, gen(t, g, with(rest...), e, false)); diff != 0 {
		t.Errorf("without the z columns, changing z chunks 1..%d changes the output by %g", n-1, diff)
	}
	if diff := maxAbsDiff(base, gen(t, g, with(0), e, false)); diff < 1e-4 {
		t.Errorf("changing z chunk 0, which feeds the stem linear, changes the output by only %g", diff)
	}
	if diff := maxAbsDiff(base, gen(t, g, z, embedding(t, g, 2, 3), false)); diff < 1e-4 {
		t.Errorf("without the z columns, another class changes the output by only %g", diff)
	}

	// Cut the embedding part (the first columns) instead: the class no
	// longer matters, the block chunks still do.
	if err := g.Params.Load(snapshot, "snapshot"); err != nil {
		t.Fatal(err)
	}
	zeroColumns(0, cfg.SharedDim)
	base = gen(t, g, z, e, false)
	if diff := maxAbsDiff(base, gen(t, g, z, embedding(t, g, 2, 3), false)); diff != 0 {
		t.Errorf("without the embedding columns, another class changes the output by %g", diff)
	}
	if diff := maxAbsDiff(base, gen(t, g, with(1), e, false)); diff < 1e-4 {
		t.Errorf("without the embedding columns, z chunk 1 changes the output by only %g", diff)
	}
}

// TestProjection checks D's class projection: score = linear(h) +
// ⟨embed(y), h⟩, so scores are linear in the embedding row.
func TestProjection(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 2)
	img := gen(t, g, normals(1, cfg.DimZ), embedding(t, g, 0), false)
	x := slices.Concat(img, img, img, img, img)
	y := []int64{0, 1, 2, 3, 4}

	sc, err := d.Scores(x, y, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc {
		for j := range i {
			if math.Abs(float64(sc[i]-sc[j])) < 1e-5 {
				t.Errorf("classes %d and %d score the same image alike: %v", j, i, sc)
			}
		}
	}

	// Rows: r, 2r, 0, −r, r.
	emb := get(t, d.Params, "embed.weight")
	dim := len(emb) / cfg.NClasses
	r := emb[:dim]
	rows := slices.Concat(r, scaled(r, 2), scaled(r, 0), scaled(r, -1), r)
	set(t, d.Params, "embed.weight", rows)
	sc, err = d.Scores(x, y, 5)
	if err != nil {
		t.Fatal(err)
	}
	base, proj := float64(sc[2]), float64(sc[0]-sc[2])
	if math.Abs(proj) < 1e-4 {
		t.Fatalf("scores %v: the projection term is too small to test", sc)
	}
	for i, k := range []float64{1, 2, 0, -1, 1} {
		if want := base + k*proj; math.Abs(float64(sc[i])-want) > 1e-4*(1+math.Abs(want)) {
			t.Errorf("class %d (row %g·r): score %v, want %v (scores %v)", i, k, sc[i], want, sc)
		}
	}
}

func scaled(v []float32, k float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = k * x
	}
	return out
}

func TestHinge(t *testing.T) {
	tests := []struct {
		name       string
		real, fake []float32
		d, g       float64
	}{
		{"mixed", []float32{2, 0.5, -1}, []float32{-2, 0, 0.5}, (0+0.5+2)/3.0 + (0+1+1.5)/3.0, -(-2 + 0 + 0.5) / 3.0},
		{"margins met", []float32{1, 3}, []float32{-1, -4}, 0, 2.5},
		{"all wrong", []float32{-1, -3}, []float32{1, 3}, 3 + 3, -2},
		{"zeros", []float32{0, 0, 0, 0}, []float32{0, 0, 0, 0}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			real := s.FromFloat32(tt.real, int64(len(tt.real)), 1)
			fake := s.FromFloat32(tt.fake, int64(len(tt.fake)), 1)
			dl, gl := DHinge(s, real, fake), GHinge(s, fake)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what string
				x    *torch.Tensor
				want float64
			}{{"DHinge", dl, tt.d}, {"GHinge", gl, tt.g}} {
				got, err := c.x.Item()
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(float64(got)-c.want) > 1e-6 {
					t.Errorf("%s(real %v, fake %v) = %v, want %v", c.what, tt.real, tt.fake, got, c.want)
				}
			}
		})
	}
}

// TestGeneratorGradients backpropagates G's hinge loss through a frozen D:
// every G parameter gets a gradient, the shared embedding only in the rows
// of the classes drawn, and D none.
func TestGeneratorGradients(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 2)
	train, err := g.Params.Trainable()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Params.SetRequiresGrad(train); err != nil {
		t.Fatal(err)
	}
	set(t, g.Params, "blocks.1.1.gamma", []float32{0.3})

	s := newScope(t)
	y := []int64{1, 3, 1}
	z := s.FromFloat32(normals(2, 3*cfg.DimZ), 3, int64(cfg.DimZ))
	yt := s.FromInt64(y, 3)
	loss := GHinge(s, d.Forward(s, g.Sample(s, z, yt, true), yt, true))
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	grad := func(v *nn.Var) []float32 {
		gt, err := v.T.Grad()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if gt == nil {
			return nil
		}
		defer gt.Free()
		vals, err := gt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	for _, v := range g.Params.Vars() {
		gv := grad(v)
		switch {
		case v.Buffer:
			if gv != nil {
				t.Errorf("buffer %s has a gradient", v.Name)
			}
		case gv == nil:
			t.Errorf("parameter %s has no gradient", v.Name)
		case v.Name == "shared.weight":
			dim := cfg.SharedDim
			for c := range cfg.NClasses {
				row := gv[c*dim : (c+1)*dim]
				used := slices.Contains(y, int64(c))
				if nonzero := slices.ContainsFunc(row, func(x float32) bool { return x != 0 }); nonzero != used {
					t.Errorf("shared.weight row %d: nonzero gradient %v, want %v", c, nonzero, used)
				}
			}
		default:
			if !slices.ContainsFunc(gv, func(x float32) bool { return x != 0 }) {
				t.Errorf("parameter %s has an all-zero gradient", v.Name)
			}
		}
	}
	for _, v := range d.Params.Vars() {
		if grad(v) != nil {
			t.Errorf("frozen D's %s has a gradient", v.Name)
		}
	}
}
