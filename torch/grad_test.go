package torch

import (
	"math"
	"testing"
)

// param is the initial value of one leaf tensor of a gradient check.
type param struct {
	data  []float32
	shape []int64
}

// gradCase is a function of leaf tensors whose gradient is checked.
type gradCase struct {
	name   string
	params []param
	// f builds the output from the leaves; it may make constant tensors
	// of its own in s.
	f func(s *Scope, p []*Tensor) *Tensor
}

const (
	fdStep = 1e-2 // central-difference step
	fdRel  = 1e-2 // relative tolerance
)

// checkGrad compares autograd's gradient of L = Σ f(p)·r, for a fixed random
// r, with central finite differences (L(p+e) − L(p−e)) / 2e computed with
// autograd off. L is summed in float64 on the Go side so that only f's own
// float32 rounding enters the difference.
func checkGrad(t *testing.T, tc gradCase) {
	t.Helper()
	r := rng(0x9e3779b97f4a7c15)

	// Analytic gradient.
	s := newScope(t)
	leaves := make([]*Tensor, len(tc.params))
	for i, p := range tc.params {
		leaves[i] = f32(t, s, p.data, p.shape...)
		if err := leaves[i].SetRequiresGrad(true); err != nil {
			t.Fatal(err)
		}
	}
	out := tc.f(s, leaves)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if !out.RequiresGrad() {
		t.Fatal("output does not require grad")
	}
	rv := r.uniform(int(out.Numel()), -1, 1)
	loss := s.Sum(s.Mul(out, f32(t, s, rv, out.Shape()...)), false)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}

	// L(p) with autograd off, in float64.
	lossAt := func(data [][]float32) float64 {
		s := NewScope()
		defer s.Close()
		s.SetGrad(false)
		ps := make([]*Tensor, len(data))
		for i, d := range data {
			ps[i] = s.FromFloat32(d, tc.params[i].shape...)
		}
		y := tc.f(s, ps)
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if y.RequiresGrad() {
			t.Fatal("output requires grad with SetGrad(false)")
		}
		v := values(t, y)
		var l float64
		for i := range v {
			l += float64(v[i]) * float64(rv[i])
		}
		return l
	}
	data := make([][]float32, len(tc.params))
	for i, p := range tc.params {
		data[i] = append([]float32(nil), p.data...)
	}

	for i, leaf := range leaves {
		g, err := leaf.Grad()
		if err != nil {
			t.Fatal(err)
		}
		if g == nil {
			t.Fatalf("param %d: no gradient", i)
		}
		checkShape(t, "grad", g, tc.params[i].shape...)
		got := values(t, g)
		g.Free()

		want := make([]float64, len(got))
		scale := 0.0
		for j := range data[i] {
			x := data[i][j]
			data[i][j] = x + fdStep
			lp := lossAt(data)
			data[i][j] = x - fdStep
			lm := lossAt(data)
			data[i][j] = x
			// The step actually taken, after float32 rounding.
			h := float64(x+fdStep) - float64(x-fdStep)
			want[j] = (lp - lm) / h
			scale = math.Max(scale, math.Abs(want[j]))
		}
		if scale == 0 {
			t.Fatalf("param %d: finite differences are all zero; the case checks nothing", i)
		}
		// Entries far below the largest are compared absolutely, at the
		// noise level of the largest.
		bad := 0
		for j := range got {
			d := math.Abs(float64(got[j]) - want[j])
			if d > fdRel*math.Max(math.Abs(float64(got[j])), math.Abs(want[j]))+1e-3*scale {
				if bad < 5 {
					t.Errorf("param %d [%d]: grad %v, finite difference %v", i, j, got[j], want[j])
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("param %d: %d of %d entries differ", i, bad, len(got))
		}
	}
}

func TestGradFiniteDifferences(t *testing.T) {
	r := rng(42)
	u := func(n int, lo, hi float64, shape ...int64) param {
		return param{r.uniform(n, lo, hi), shape}
	}
	tests := []gradCase{
		{
			name:   "Linear",
			params: []param{u(12, -1, 1, 4, 3), u(6, -1, 1, 2, 3), u(2, -1, 1, 2)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Linear(p[0], p[1], p[2])
			},
		},
		{
			name:   "Linear/no bias, batched",
			params: []param{u(24, -1, 1, 2, 4, 3), u(15, -1, 1, 5, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Linear(p[0], p[1], nil)
			},
		},
		{
			name:   "Conv2d",
			params: []param{u(2*2*5*5, -1, 1, 2, 2, 5, 5), u(3*2*3*3, -1, 1, 3, 2, 3, 3), u(3, -1, 1, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Conv2d(p[0], p[1], p[2], 1, 1, 1)
			},
		},
		{
			name:   "Conv2d/stride2 groups2",
			params: []param{u(4*5*5, -1, 1, 1, 4, 5, 5), u(4*2*3*3, -1, 1, 4, 2, 3, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Conv2d(p[0], p[1], nil, 2, 1, 2)
			},
		},
		{
			name:   "BatchNorm/training",
			params: []param{u(4*3*2*2, -2, 2, 4, 3, 2, 2), u(3, 0.5, 1.5, 3), u(3, -1, 1, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.BatchNorm(p[0], p[1], p[2], s.Full(0, 3), s.Full(1, 3), true, 0.1, 1e-5)
			},
		},
		{
			name:   "BatchNorm/eval",
			params: []param{u(4*3, -2, 2, 4, 3), u(3, 0.5, 1.5, 3), u(3, -1, 1, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				mean := s.FromFloat32([]float32{0.5, -0.5, 0}, 3)
				variance := s.FromFloat32([]float32{2, 0.5, 1}, 3)
				return s.BatchNorm(p[0], p[1], p[2], mean, variance, false, 0.1, 1e-5)
			},
		},
		{
			name:   "Softmax+CrossEntropy",
			params: []param{u(4*5, -2, 2, 4, 5)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.CrossEntropy(p[0], s.FromInt64([]int64{0, 4, 2, 2}, 4))
			},
		},
		{
			name:   "Softmax",
			params: []param{u(3*4, -2, 2, 3, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Softmax(p[0], 1)
			},
		},
		{
			name:   "LogSoftmax",
			params: []param{u(3*4, -2, 2, 3, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.LogSoftmax(p[0], 0)
			},
		},
		{
			name:   "Tanh",
			params: []param{u(10, -2, 2, 2, 5)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Tanh(p[0])
			},
		},
		{
			name:   "Sigmoid·Exp",
			params: []param{u(6, -2, 2, 6)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Mul(s.Sigmoid(p[0]), s.Exp(s.MulScalar(p[0], 0.5)))
			},
		},
		{
			name:   "UpsampleNearest",
			params: []param{u(2*2*3*3, -1, 1, 2, 2, 3, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.UpsampleNearest(p[0], 6, 6)
			},
		},
		{
			name:   "ResizeBilinear",
			params: []param{u(3*4, -1, 1, 1, 1, 3, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.ResizeBilinear(p[0], 5, 7)
			},
		},
		{
			name:   "AvgPool2d",
			params: []param{u(2*4*4, -1, 1, 1, 2, 4, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.AvgPool2d(p[0], 2, 2)
			},
		},
		{
			name:   "AvgPool2d/overlapping",
			params: []param{u(5*5, -1, 1, 1, 1, 5, 5)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.AvgPool2d(p[0], 3, 1)
			},
		},
		{
			name:   "Embedding",
			params: []param{u(5*3, -1, 1, 5, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				// Row 1 is picked twice and row 4 never.
				return s.Embedding(p[0], s.FromInt64([]int64{1, 0, 1, 3, 2, 1}, 2, 3))
			},
		},
		{
			name:   "Matmul",
			params: []param{u(2*3, -1, 1, 2, 3), u(3*4, -1, 1, 3, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Matmul(p[0], p[1])
			},
		},
		{
			name:   "Matmul/batched",
			params: []param{u(2*2*3, -1, 1, 2, 2, 3), u(3*2, -1, 1, 3, 2)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Matmul(p[0], p[1])
			},
		},
		{
			name:   "Div",
			params: []param{u(6, -2, 2, 2, 3), u(3, 1, 2, 3)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				return s.Div(p[0], p[1])
			},
		},
		{
			name:   "Mean·Amax·Pow",
			params: []param{u(12, 0.5, 2, 3, 4)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				m := s.Mean(s.Pow(p[0], 1.5), true, 1)
				return s.Add(m, s.Amax(p[0], true, 0))
			},
		},
		{
			name:   "Cat·Narrow·Permute·Reshape·IndexSelect",
			params: []param{u(6, -1, 1, 2, 3), u(4, -1, 1, 2, 2)},
			f: func(s *Scope, p []*Tensor) *Tensor {
				c := s.Cat(1, p[0], p[1])                  // [2 5]
				n := s.Narrow(s.Permute(c, 1, 0), 0, 1, 3) // [3 2]
				i := s.IndexSelect(n, 0, s.FromInt64([]int64{2, 0, 2}, 3))
				return s.Square(s.Reshape(i, -1))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkGrad(t, tc) })
	}
}

// TestGradKnown checks a few gradients whose values are plain.
func TestGradKnown(t *testing.T) {
	s := newScope(t)
	x := f32(t, s, []float32{1, 2, 3}, 3)
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	// d/dx Σ x² = 2x.
	if err := s.Sum(s.Square(x), false).Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := x.Grad()
	if err != nil || g == nil {
		t.Fatalf("Grad = %v, %v", g, err)
	}
	checkTensor(t, "d Σx²", g, shp(3), []float64{2, 4, 6}, 0)

	// A second backward accumulates: + d/dx Σ 3x = 3.
	if err := s.Sum(s.MulScalar(x, 3), false).Backward(); err != nil {
		t.Fatal(err)
	}
	checkTensor(t, "accumulated (old handle)", g, shp(3), []float64{5, 7, 9}, 0)
	g.Free()
	g2, err := x.Grad()
	if err != nil || g2 == nil {
		t.Fatalf("Grad = %v, %v", g2, err)
	}
	checkTensor(t, "accumulated", g2, shp(3), []float64{5, 7, 9}, 0)
	g2.Free()

	x.ClearGrad()
	if g, err := x.Grad(); g != nil || err != nil {
		t.Errorf("Grad after ClearGrad = %v, %v; want nil, nil", g, err)
	}

	// Through Detach no gradient flows: d/dx Σ x·detach(x) = detach(x).
	if err := s.Sum(s.Mul(x, s.Detach(x)), false).Backward(); err != nil {
		t.Fatal(err)
	}
	g3, err := x.Grad()
	if err != nil || g3 == nil {
		t.Fatalf("Grad = %v, %v", g3, err)
	}
	defer g3.Free()
	checkTensor(t, "through detach", g3, shp(3), []float64{1, 2, 3}, 0)

	if err := ZeroGrads([]*Tensor{x}); err != nil {
		t.Fatal(err)
	}
	if g, _ := x.Grad(); g != nil {
		t.Error("Grad after ZeroGrads is not nil")
	}
	if err := ZeroGrads(nil); err != nil {
		t.Errorf("ZeroGrads(nil) = %v", err)
	}
}

func TestSetGrad(t *testing.T) {
	s := newScope(t)
	x := f32(t, s, []float32{1, -2}, 2)
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	if !x.RequiresGrad() {
		t.Fatal("leaf does not require grad after SetRequiresGrad(true)")
	}
	if y := s.Tanh(x); !y.RequiresGrad() {
		t.Error("with grad on, Tanh of a leaf does not require grad")
	}

	if was := s.SetGrad(false); !was {
		t.Error("SetGrad(false) reported grad was off")
	}
	ops := []struct {
		name string
		op   func() *Tensor
	}{
		{"tanh", func() *Tensor { return s.Tanh(x) }},
		{"mul", func() *Tensor { return s.Mul(x, x) }},
		{"linear", func() *Tensor { return s.Linear(s.Reshape(x, 1, 2), s.Reshape(x, 1, 2), nil) }},
		{"sum", func() *Tensor { return s.Sum(x, false) }},
		{"batch_norm", func() *Tensor {
			return s.BatchNorm(s.Reshape(x, 2, 1), nil, nil, nil, nil, true, 0.1, 1e-5)
		}},
		{"embedding", func() *Tensor { return s.Embedding(s.Reshape(x, 2, 1), s.FromInt64([]int64{1}, 1)) }},
	}
	for _, tt := range ops {
		y := tt.op()
		if err := s.Err(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if y.RequiresGrad() {
			t.Errorf("%s with SetGrad(false): result requires grad", tt.name)
		}
	}
	if err := s.Sum(s.Square(x), false).Backward(); err == nil {
		t.Error("Backward through a no-grad op: no error")
	}
	if g, _ := x.Grad(); g != nil {
		g.Free()
		t.Error("a no-grad graph produced a gradient")
	}
	if !x.RequiresGrad() {
		t.Error("SetGrad(false) changed the leaf's RequiresGrad")
	}

	if was := s.SetGrad(true); was {
		t.Error("SetGrad(true) reported grad was on")
	}
	if y := s.Tanh(x); !y.RequiresGrad() {
		t.Error("after SetGrad(true), Tanh does not require grad")
	}
	// The setting belongs to the scope, not the thread.
	other := newScope(t)
	s.SetGrad(false)
	if y := other.Tanh(x); !y.RequiresGrad() {
		t.Error("another scope's SetGrad(false) turned grad off here")
	}
}

func TestAdam(t *testing.T) {
	const lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
	p0 := []float64{1, -2, 3, 0.5}
	g1 := []float64{0.5, -3, 1e-3, 0}
	g2 := []float64{-1, -1, 2e-3, 4}

	s := newScope(t)
	p := f32(t, s, []float32{1, -2, 3, 0.5}, 4)
	unused := f32(t, s, []float32{7, 8}, 2) // never gets a gradient
	for _, x := range []*Tensor{p, unused} {
		if err := x.SetRequiresGrad(true); err != nil {
			t.Fatal(err)
		}
	}
	opt, err := NewAdam([]*Tensor{p, unused}, lr, b1, b2, eps)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	if len(opt.M) != 2 || len(opt.V) != 2 {
		t.Fatalf("NewAdam made %d and %d moments, want 2 and 2", len(opt.M), len(opt.V))
	}
	checkTensor(t, "initial m", opt.M[1], shp(2), []float64{0, 0}, 0)

	// backward sets p.grad = g exactly: L = Σ p·g.
	backward := func(g []float64) {
		t.Helper()
		gs := make([]float32, len(g))
		for i := range g {
			gs[i] = float32(g[i])
		}
		if err := s.Sum(s.Mul(p, f32(t, s, gs, 4)), false).Backward(); err != nil {
			t.Fatal(err)
		}
	}

	// Step 1, by hand: m = (1−β1)g, v = (1−β2)g², and after bias
	// correction the update is −lr·g/(|g|+ε) ≈ −lr·sign(g).
	backward(g1)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	m := make([]float64, 4)
	v := make([]float64, 4)
	want := make([]float64, 4)
	for i := range p0 {
		m[i] = (1 - b1) * g1[i]
		v[i] = (1 - b2) * g1[i] * g1[i]
		mh := m[i] / (1 - b1)
		vh := v[i] / (1 - b2)
		want[i] = p0[i] - lr*mh/(math.Sqrt(vh)+eps)
	}
	checkTensor(t, "step 1", p, shp(4), want, 1e-6)
	approx := []float64{0.9, -1.9, 2.9, 0.5} // p0 − lr·sign(g1)
	checkTensor(t, "step 1 ≈ −lr·sign(g)", p, shp(4), approx, 1e-4)
	checkTensor(t, "m after step 1", opt.M[0], shp(4), m, 1e-6)
	checkTensor(t, "v after step 1", opt.V[0], shp(4), v, 1e-6)
	if g, _ := p.Grad(); g != nil {
		g.Free()
		t.Error("Grad after Step is not nil")
	}
	checkTensor(t, "unused param", unused, shp(2), []float64{7, 8}, 0)
	checkTensor(t, "unused m", opt.M[1], shp(2), []float64{0, 0}, 0)
	if opt.Steps != 1 {
		t.Errorf("Steps = %d, want 1", opt.Steps)
	}

	// Step 2 exercises the moment decay and bias correction.
	backward(g2)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	for i := range p0 {
		m[i] = b1*m[i] + (1-b1)*g2[i]
		v[i] = b2*v[i] + (1-b2)*g2[i]*g2[i]
		mh := m[i] / (1 - b1*b1)
		vh := v[i] / (1 - b2*b2)
		want[i] -= lr * mh / (math.Sqrt(vh) + eps)
	}
	checkTensor(t, "step 2", p, shp(4), want, 1e-5)
	if g, _ := p.Grad(); g != nil {
		g.Free()
		t.Error("Grad after the second Step is not nil")
	}

	// A step with no gradients changes nothing.
	before := values(t, p)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "step without grads", values(t, p), f64(before), 0)

	if err := (&Adam{}).Step(); err == nil {
		t.Error("Step of an Adam with no parameters: no error")
	}
}

// TestAdamConverges minimises a quadratic with Adam and autograd together.
func TestAdamConverges(t *testing.T) {
	target := []float32{3, -1, 0.5}
	x, err := Full(0, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Free()
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	opt, err := NewAdam([]*Tensor{x}, 0.05, 0.9, 0.999, 1e-8)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	for i := 0; i < 500; i++ {
		s := NewScope()
		loss := s.Sum(s.Square(s.Sub(x, s.FromFloat32(target, 3))), false)
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	checkTensor(t, "minimum", x, shp(3), f64(target), 2e-2)
}

// TestBackwardWith checks a backward run in two stages against the
// derivative: L = Σ w·tanh(x)² computed through a detached copy of
// y = tanh(x) must give x the gradient 2·w·tanh(x)·(1 − tanh(x)²).
func TestBackwardWith(t *testing.T) {
	s := newScope(t)
	x := s.FromFloat32([]float32{0.3, -1.2, 2.0}, 3)
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	y := s.Tanh(x)
	yd := s.Detach(y)
	if err := yd.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	w := s.FromFloat32([]float32{1, 2, -3}, 3)
	if err := s.Sum(s.Mul(w, s.Square(yd)), false).Backward(); err != nil {
		t.Fatal(err)
	}
	gy, err := yd.Grad()
	if err != nil || gy == nil {
		t.Fatalf("Grad of the detached copy = %v, %v", gy, err)
	}
	defer gy.Free()
	if err := y.BackwardWith(gy); err != nil {
		t.Fatal(err)
	}
	gx, err := x.Grad()
	if err != nil || gx == nil {
		t.Fatalf("Grad = %v, %v", gx, err)
	}
	defer gx.Free()
	want := make([]float64, 3)
	for i, v := range []float64{0.3, -1.2, 2.0} {
		th := math.Tanh(v)
		want[i] = 2 * []float64{1, 2, -3}[i] * th * (1 - th*th)
	}
	checkTensor(t, "staged gradient", gx, shp(3), want, 1e-6)

	if err := y.BackwardWith(s.FromFloat32([]float32{1, 1}, 2)); err == nil {
		t.Error("BackwardWith a gradient of the wrong shape: no error")
	}
}
