package torch

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

const tol = 1e-6

// a23 is [[1 2 3] [4 5 6]], the 2×3 input most tests start from.
var a23 = []float32{1, 2, 3, 4, 5, 6}

func TestUnary(t *testing.T) {
	mixed := []float32{-2, -0.5, 0, 0.5, 1, 4}
	pos := []float32{0.25, 0.5, 1, 2, 4, 9}
	apply := func(in []float32, f func(float64) float64) []float64 {
		w := make([]float64, len(in))
		for i, x := range in {
			w[i] = f(float64(x))
		}
		return w
	}
	tests := []struct {
		name string
		op   func(*Scope, *Tensor) *Tensor
		in   []float32
		want []float64
	}{
		{"Relu", (*Scope).Relu, mixed, []float64{0, 0, 0, 0.5, 1, 4}},
		{"Tanh", (*Scope).Tanh, mixed, apply(mixed, math.Tanh)},
		{"Sigmoid", (*Scope).Sigmoid, mixed, []float64{
			1 / (1 + math.Exp(2)), 1 / (1 + math.Exp(0.5)), 0.5,
			1 / (1 + math.Exp(-0.5)), 1 / (1 + math.Exp(-1)), 1 / (1 + math.Exp(-4))}},
		{"Exp", (*Scope).Exp, mixed, apply(mixed, math.Exp)},
		{"Log", (*Scope).Log, pos, []float64{-2 * math.Ln2, -math.Ln2, 0, math.Ln2, 2 * math.Ln2, 2 * math.Log(3)}},
		{"Neg", (*Scope).Neg, mixed, []float64{2, 0.5, 0, -0.5, -1, -4}},
		{"Abs", (*Scope).Abs, mixed, []float64{2, 0.5, 0, 0.5, 1, 4}},
		{"Sqrt", (*Scope).Sqrt, pos, []float64{0.5, math.Sqrt(0.5), 1, math.Sqrt2, 2, 3}},
		{"Square", (*Scope).Square, mixed, []float64{4, 0.25, 0, 0.25, 1, 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(s, f32(t, s, tt.in, 2, 3))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, shp(2, 3), tt.want, tol)
		})
	}
}

func TestUnaryEdgeValues(t *testing.T) {
	s := newScope(t)
	x := f32(t, s, []float32{0, -1}, 2)
	checkTensor(t, "log", s.Log(x), shp(2), []float64{math.Inf(-1), math.NaN()}, 0)
	checkTensor(t, "sqrt", s.Sqrt(x), shp(2), []float64{0, math.NaN()}, 0)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryBroadcast(t *testing.T) {
	row := []float32{10, 20, 30} // shape [3]
	col := []float32{2, 4}       // shape [2 1]
	tests := []struct {
		name      string
		op        func(*Scope, *Tensor, *Tensor) *Tensor
		b         []float32
		bShape    []int64
		wantShape []int64
		want      []float64
	}{
		{"Add/same", (*Scope).Add, []float32{6, 5, 4, 3, 2, 1}, shp(2, 3), shp(2, 3), []float64{7, 7, 7, 7, 7, 7}},
		{"Add/row", (*Scope).Add, row, shp(3), shp(2, 3), []float64{11, 22, 33, 14, 25, 36}},
		{"Add/scalar", (*Scope).Add, []float32{0.5}, shp(), shp(2, 3), []float64{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}},
		{"Sub/row", (*Scope).Sub, row, shp(3), shp(2, 3), []float64{-9, -18, -27, -6, -15, -24}},
		{"Sub/col", (*Scope).Sub, col, shp(2, 1), shp(2, 3), []float64{-1, 0, 1, 0, 1, 2}},
		{"Mul/row", (*Scope).Mul, row, shp(3), shp(2, 3), []float64{10, 40, 90, 40, 100, 180}},
		{"Mul/col", (*Scope).Mul, col, shp(2, 1), shp(2, 3), []float64{2, 4, 6, 16, 20, 24}},
		{"Div/col", (*Scope).Div, col, shp(2, 1), shp(2, 3), []float64{0.5, 1, 1.5, 1, 1.25, 1.5}},
		{"Div/row", (*Scope).Div, row, shp(3), shp(2, 3), []float64{0.1, 0.1, 0.1, 0.4, 0.25, 0.2}},
		{"Div/zero", (*Scope).Div, []float32{0}, shp(1), shp(2, 3), []float64{
			math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}},
		{"Maximum/row", (*Scope).Maximum, []float32{2, 2, 7}, shp(3), shp(2, 3), []float64{2, 2, 7, 4, 5, 7}},
		{"Maximum/col", (*Scope).Maximum, []float32{2.5, 4.5}, shp(2, 1), shp(2, 3), []float64{2.5, 2.5, 3, 4.5, 5, 6}},
		// [2 3] with [1 2 1] broadcasts to [1 2 3]... and [2 1 3] to [2 2 3].
		{"Add/rank", (*Scope).Add, []float32{100, 200, 300, 400, 500, 600}, shp(2, 1, 3), shp(2, 2, 3),
			[]float64{101, 202, 303, 104, 205, 306, 401, 502, 603, 404, 505, 606}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			a := f32(t, s, a23, 2, 3)
			b := f32(t, s, tt.b, tt.bShape...)
			got := tt.op(s, a, b)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, tol)
		})
	}
}

func TestBinaryOuterBroadcast(t *testing.T) {
	// [2 1] + [1 3] needs both operands expanded.
	s := newScope(t)
	a := f32(t, s, []float32{1, 2}, 2, 1)
	b := f32(t, s, []float32{10, 20, 30}, 1, 3)
	checkTensor(t, "add", s.Add(a, b), shp(2, 3), []float64{11, 21, 31, 12, 22, 32}, tol)
	checkTensor(t, "sub", s.Sub(b, a), shp(2, 3), []float64{9, 19, 29, 8, 18, 28}, tol)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestScalarOps(t *testing.T) {
	tests := []struct {
		name string
		op   func(*Scope, *Tensor, float64) *Tensor
		v    float64
		want []float64
	}{
		{"AddScalar", (*Scope).AddScalar, 1.5, []float64{2.5, 3.5, 4.5, 5.5, 6.5, 7.5}},
		{"AddScalar/neg", (*Scope).AddScalar, -4, []float64{-3, -2, -1, 0, 1, 2}},
		{"MulScalar", (*Scope).MulScalar, -2, []float64{-2, -4, -6, -8, -10, -12}},
		{"MulScalar/zero", (*Scope).MulScalar, 0, []float64{0, 0, 0, 0, 0, 0}},
		{"Pow/2", (*Scope).Pow, 2, []float64{1, 4, 9, 16, 25, 36}},
		{"Pow/0.5", (*Scope).Pow, 0.5, []float64{1, math.Sqrt2, math.Sqrt(3), 2, math.Sqrt(5), math.Sqrt(6)}},
		{"Pow/-1", (*Scope).Pow, -1, []float64{1, 0.5, 1.0 / 3, 0.25, 0.2, 1.0 / 6}},
		{"ClampMin", (*Scope).ClampMin, 2.5, []float64{2.5, 2.5, 3, 4, 5, 6}},
		{"ClampMax", (*Scope).ClampMax, 2.5, []float64{1, 2, 2.5, 2.5, 2.5, 2.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(s, f32(t, s, a23, 2, 3), tt.v)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, shp(2, 3), tt.want, tol)
		})
	}
}

func TestReduce(t *testing.T) {
	// [[1 5 3] [4 2 6]]: row and column maxima sit in different places.
	in := []float32{1, 5, 3, 4, 2, 6}
	type reduceFn func(s *Scope, a *Tensor, keep bool, dims ...int64) *Tensor
	tests := []struct {
		name      string
		op        reduceFn
		keep      bool
		dims      []int64
		wantShape []int64
		want      []float64
	}{
		{"Sum/all", (*Scope).Sum, false, nil, shp(), []float64{21}},
		{"Sum/all/keep", (*Scope).Sum, true, nil, shp(1, 1), []float64{21}},
		{"Sum/0", (*Scope).Sum, false, []int64{0}, shp(3), []float64{5, 7, 9}},
		{"Sum/0/keep", (*Scope).Sum, true, []int64{0}, shp(1, 3), []float64{5, 7, 9}},
		{"Sum/1/keep", (*Scope).Sum, true, []int64{1}, shp(2, 1), []float64{9, 12}},
		{"Sum/-1", (*Scope).Sum, false, []int64{-1}, shp(2), []float64{9, 12}},
		{"Sum/0,1", (*Scope).Sum, false, []int64{0, 1}, shp(), []float64{21}},
		{"Mean/all", (*Scope).Mean, false, nil, shp(), []float64{3.5}},
		{"Mean/all/keep", (*Scope).Mean, true, nil, shp(1, 1), []float64{3.5}},
		{"Mean/0", (*Scope).Mean, false, []int64{0}, shp(3), []float64{2.5, 3.5, 4.5}},
		{"Mean/1/keep", (*Scope).Mean, true, []int64{1}, shp(2, 1), []float64{3, 4}},
		{"Amax/all", (*Scope).Amax, false, nil, shp(), []float64{6}},
		{"Amax/all/keep", (*Scope).Amax, true, nil, shp(1, 1), []float64{6}},
		{"Amax/0", (*Scope).Amax, false, []int64{0}, shp(3), []float64{4, 5, 6}},
		{"Amax/1/keep", (*Scope).Amax, true, []int64{1}, shp(2, 1), []float64{5, 6}},
		{"Amax/-1", (*Scope).Amax, false, []int64{-1}, shp(2), []float64{5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(s, f32(t, s, in, 2, 3), tt.keep, tt.dims...)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, tol)
		})
	}
}

func TestReduce3D(t *testing.T) {
	// Reducing the spatial dims of an NCHW-like [2 2 2] tensor, as a
	// per-channel mean would.
	s := newScope(t)
	x := f32(t, s, seq(8, 1, 1), 2, 2, 2) // [[[1 2] [3 4]] [[5 6] [7 8]]]
	checkTensor(t, "sum 0,2", s.Sum(x, false, 0, 2), shp(2), []float64{1 + 2 + 5 + 6, 3 + 4 + 7 + 8}, tol)
	checkTensor(t, "mean 1,2 keep", s.Mean(x, true, 1, 2), shp(2, 1, 1), []float64{2.5, 6.5}, tol)
	checkTensor(t, "amax 0,1", s.Amax(x, false, 0, 1), shp(2), []float64{7, 8}, tol)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestReshapePermute(t *testing.T) {
	s := newScope(t)
	a := f32(t, s, a23, 2, 3)
	checkTensor(t, "reshape 3 2", s.Reshape(a, 3, 2), shp(3, 2), f64(a23), 0)
	checkTensor(t, "reshape -1", s.Reshape(a, -1), shp(6), f64(a23), 0)
	checkTensor(t, "reshape 1 -1 2", s.Reshape(a, 1, -1, 2), shp(1, 3, 2), f64(a23), 0)
	checkTensor(t, "permute 1 0", s.Permute(a, 1, 0), shp(3, 2), []float64{1, 4, 2, 5, 3, 6}, 0)

	b := f32(t, s, seq(24, 0, 1), 2, 3, 4)
	p := s.Permute(b, 2, 0, 1) // p[k][i][j] = b[i][j][k] = 12i+4j+k
	want := make([]float64, 0, 24)
	for k := 0; k < 4; k++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				want = append(want, float64(12*i+4*j+k))
			}
		}
	}
	checkTensor(t, "permute 2 0 1", p, shp(4, 2, 3), want, 0)
	// Permute makes the result contiguous, so a reshape of it reads in the
	// permuted order.
	checkTensor(t, "reshape of permute", s.Reshape(p, -1), shp(24), want, 0)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestCat(t *testing.T) {
	s := newScope(t)
	a := f32(t, s, a23, 2, 3)
	tests := []struct {
		name      string
		dim       int64
		b         *Tensor
		wantShape []int64
		want      []float64
	}{
		{"dim0", 0, f32(t, s, []float32{7, 8, 9}, 1, 3), shp(3, 3), []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"dim1", 1, f32(t, s, []float32{7, 8}, 2, 1), shp(2, 4), []float64{1, 2, 3, 7, 4, 5, 6, 8}},
		{"dim-1", -1, f32(t, s, []float32{7, 8, 9, 10}, 2, 2), shp(2, 5), []float64{1, 2, 3, 7, 8, 4, 5, 6, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := s.Cat(tt.dim, a, tt.b)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, 0)
		})
	}
	t.Run("three", func(t *testing.T) {
		s := newScope(t)
		got := s.Cat(0, a, a, a)
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		checkShape(t, "cat", got, 6, 3)
		if v := values(t, got); v[12] != 1 || v[17] != 6 {
			t.Errorf("cat of three: got %v", v)
		}
	})
}

func TestNarrowIndexSelect(t *testing.T) {
	s := newScope(t)
	a := f32(t, s, a23, 2, 3)
	checkTensor(t, "narrow 1 [1:+2]", s.Narrow(a, 1, 1, 2), shp(2, 2), []float64{2, 3, 5, 6}, 0)
	checkTensor(t, "narrow 0 [1:+1]", s.Narrow(a, 0, 1, 1), shp(1, 3), []float64{4, 5, 6}, 0)
	checkTensor(t, "narrow 1 [0:+0]", s.Narrow(a, 1, 0, 0), shp(2, 0), []float64{}, 0)
	checkTensor(t, "index_select 1 [2 0]", s.IndexSelect(a, 1, i64(t, s, []int64{2, 0}, 2)), shp(2, 2),
		[]float64{3, 1, 6, 4}, 0)
	checkTensor(t, "index_select 0 [1 1 0]", s.IndexSelect(a, 0, i64(t, s, []int64{1, 1, 0}, 3)), shp(3, 3),
		[]float64{4, 5, 6, 4, 5, 6, 1, 2, 3}, 0)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestMatmul(t *testing.T) {
	b32 := []float32{7, 8, 9, 10, 11, 12}
	tests := []struct {
		name      string
		a         []float32
		aShape    []int64
		b         []float32
		bShape    []int64
		wantShape []int64
		want      []float64
	}{
		{"2x3·3x2", a23, shp(2, 3), b32, shp(3, 2), shp(2, 2), []float64{58, 64, 139, 154}},
		{"3x2·2x3", b32, shp(3, 2), a23, shp(2, 3), shp(3, 3),
			[]float64{39, 54, 69, 49, 68, 87, 59, 82, 105}},
		{"matrix·vector", a23, shp(2, 3), []float32{1, 0, -1}, shp(3), shp(2), []float64{-2, -2}},
		{"vector·vector", []float32{1, 2, 3}, shp(3), []float32{4, 5, 6}, shp(3), shp(), []float64{32}},
		// A batch of two 1×3 rows against one shared 3×2 matrix.
		{"batched", []float32{1, 2, 3, 4, 5, 6}, shp(2, 1, 3), b32, shp(3, 2), shp(2, 1, 2),
			[]float64{58, 64, 139, 154}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := s.Matmul(f32(t, s, tt.a, tt.aShape...), f32(t, s, tt.b, tt.bShape...))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, tol)
		})
	}
}

func TestLinear(t *testing.T) {
	// y = x·wᵀ + b with w = [[1 0 −1] [2 1 0]].
	w := []float32{1, 0, -1, 2, 1, 0}
	tests := []struct {
		name string
		bias []float32
		want []float64
	}{
		{"no bias", nil, []float64{-2, 4, -2, 13}},
		{"bias", []float32{0.5, -1}, []float64{-1.5, 3, -1.5, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			var b *Tensor
			if tt.bias != nil {
				b = f32(t, s, tt.bias, 2)
			}
			got := s.Linear(f32(t, s, a23, 2, 3), f32(t, s, w, 2, 3), b)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, shp(2, 2), tt.want, tol)
		})
	}
}

func TestConv2d(t *testing.T) {
	// x = [[1 2 3] [4 5 6] [7 8 9]]; the kernel has 1 at its top left and 2
	// at its bottom right, so (cross-correlation, pad 1)
	// out[i][j] = x[i−1][j−1] + 2·x[i+1][j+1], zero outside.
	x := seq(9, 1, 1)
	k := []float32{1, 0, 0, 0, 0, 0, 0, 0, 2}
	tests := []struct {
		name         string
		bias         []float32
		stride, pad  int64
		wantH, wantW int64
		want         []float64
	}{
		{"stride1 pad1", nil, 1, 1, 3, 3, []float64{10, 12, 0, 16, 19, 2, 0, 4, 5}},
		{"stride1 pad1 bias", []float32{0.5}, 1, 1, 3, 3, []float64{10.5, 12.5, 0.5, 16.5, 19.5, 2.5, 0.5, 4.5, 5.5}},
		{"stride2 pad1", nil, 2, 1, 2, 2, []float64{10, 0, 0, 5}},
		{"stride1 pad0", []float32{-1}, 1, 0, 1, 1, []float64{18}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			var b *Tensor
			if tt.bias != nil {
				b = f32(t, s, tt.bias, 1)
			}
			got := s.Conv2d(f32(t, s, x, 1, 1, 3, 3), f32(t, s, k, 1, 1, 3, 3), b, tt.stride, tt.pad, 1)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, shp(1, 1, tt.wantH, tt.wantW), tt.want, tol)
		})
	}
}

func TestConv2dChannels(t *testing.T) {
	// x has two 2×2 channels, [1 2 3 4] and [5 6 7 8].
	x := seq(8, 1, 1)
	tests := []struct {
		name      string
		w         []float32
		wShape    []int64
		groups    int64
		wantShape []int64
		want      []float64
	}{
		// Depthwise: each channel is scaled by its own 1×1 kernel.
		{"groups2", []float32{2, -1}, shp(2, 1, 1, 1), 2, shp(1, 2, 2, 2),
			[]float64{2, 4, 6, 8, -5, -6, -7, -8}},
		// One output channel that sums both inputs.
		{"groups1 sum", []float32{1, 1}, shp(1, 2, 1, 1), 1, shp(1, 1, 2, 2), []float64{6, 8, 10, 12}},
		// Two outputs mixing both inputs: out0 = c0 − c1, out1 = 3·c1.
		{"groups1 mix", []float32{1, -1, 0, 3}, shp(2, 2, 1, 1), 1, shp(1, 2, 2, 2),
			[]float64{-4, -4, -4, -4, 15, 18, 21, 24}},
	}
	for _, tt := range tests {
		// Stored channels-last, the input must give the same values, read
		// back in (N, C, H, W) order.
		for _, cl := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/channels-last=%v", tt.name, cl), func(t *testing.T) {
				s := newScope(t)
				in := f32(t, s, x, 1, 2, 2, 2)
				if cl {
					in = s.ChannelsLast(in)
					checkTensor(t, "channels-last input", in, shp(1, 2, 2, 2), []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
				}
				got := s.Conv2d(in, f32(t, s, tt.w, tt.wShape...), nil, 1, 0, tt.groups)
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				checkTensor(t, tt.name, got, tt.wantShape, tt.want, tol)
			})
		}
	}
}

func TestPool2d(t *testing.T) {
	x16 := seq(16, 1, 1) // 4×4: rows [1..4] [5..8] [9..12] [13..16]
	x9 := seq(9, 1, 1)   // 3×3
	tests := []struct {
		name      string
		op        func(s *Scope, x *Tensor) *Tensor
		in        []float32
		side      int64
		wantShape []int64
		want      []float64
	}{
		{"avg k2 s2", func(s *Scope, x *Tensor) *Tensor { return s.AvgPool2d(x, 2, 2) }, x16, 4,
			shp(1, 1, 2, 2), []float64{3.5, 5.5, 11.5, 13.5}},
		{"avg k3 s1", func(s *Scope, x *Tensor) *Tensor { return s.AvgPool2d(x, 3, 1) }, x16, 4,
			shp(1, 1, 2, 2), []float64{6, 7, 10, 11}},
		{"max k2 s2", func(s *Scope, x *Tensor) *Tensor { return s.MaxPool2d(x, 2, 2, 0) }, x16, 4,
			shp(1, 1, 2, 2), []float64{6, 8, 14, 16}},
		{"max k3 s1 p1", func(s *Scope, x *Tensor) *Tensor { return s.MaxPool2d(x, 3, 1, 1) }, x9, 3,
			shp(1, 1, 3, 3), []float64{5, 6, 6, 8, 9, 9, 8, 9, 9}},
		{"max k3 s2 p1 of negatives", func(s *Scope, x *Tensor) *Tensor {
			return s.MaxPool2d(s.Neg(x), 3, 2, 1) // padding must not win as 0
		}, x9, 3, shp(1, 1, 2, 2), []float64{-1, -2, -4, -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(s, f32(t, s, tt.in, 1, 1, tt.side, tt.side))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, tol)
		})
	}
}

func TestUpsampleNearest(t *testing.T) {
	s := newScope(t)
	x := f32(t, s, []float32{1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 2, 2)
	checkTensor(t, "2x", s.UpsampleNearest(x, 4, 4), shp(1, 2, 4, 4), []float64{
		1, 1, 2, 2,
		1, 1, 2, 2,
		3, 3, 4, 4,
		3, 3, 4, 4,
		5, 5, 6, 6,
		5, 5, 6, 6,
		7, 7, 8, 8,
		7, 7, 8, 8,
	}, 0)
	// Non-integer ratio: source index floor(dst·in/out), so 2→3 picks 0 0 1.
	checkTensor(t, "2x2 to 3x1", s.UpsampleNearest(x, 3, 1), shp(1, 2, 3, 1), []float64{1, 1, 3, 5, 5, 7}, 0)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

// bilinearRef resizes one h×w plane to oh×ow with align_corners=false
// semantics: the source coordinate of output pixel d is (d+0.5)·in/out−0.5,
// clamped at 0, and the last input pixel repeats beyond the edge.
func bilinearRef(x []float32, h, w, oh, ow int) []float64 {
	src := func(d, in, out int) (i0, i1 int, l float64) {
		c := (float64(d)+0.5)*float64(in)/float64(out) - 0.5
		if c < 0 {
			c = 0
		}
		i0 = int(c)
		i1 = min(i0+1, in-1)
		return i0, i1, c - float64(i0)
	}
	out := make([]float64, 0, oh*ow)
	for y := 0; y < oh; y++ {
		y0, y1, ly := src(y, h, oh)
		for xx := 0; xx < ow; xx++ {
			x0, x1, lx := src(xx, w, ow)
			at := func(r, c int) float64 { return float64(x[r*w+c]) }
			top := (1-lx)*at(y0, x0) + lx*at(y0, x1)
			bot := (1-lx)*at(y1, x0) + lx*at(y1, x1)
			out = append(out, (1-ly)*top+ly*bot)
		}
	}
	return out
}

func TestResizeBilinear(t *testing.T) {
	t.Run("2x2 to 4x4 by hand", func(t *testing.T) {
		s := newScope(t)
		x := f32(t, s, []float32{1, 2, 3, 4}, 1, 1, 2, 2)
		// Along each axis the samples sit at −0.25 (clamped to 0), 0.25,
		// 0.75 and 1.25 (past the last pixel), so a row [a b] becomes
		// [a, .75a+.25b, .25a+.75b, b].
		want := []float64{
			1, 1.25, 1.75, 2,
			1.5, 1.75, 2.25, 2.5,
			2.5, 2.75, 3.25, 3.5,
			3, 3.25, 3.75, 4,
		}
		got := s.ResizeBilinear(x, 4, 4)
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		checkTensor(t, "bilinear", got, shp(1, 1, 4, 4), want, tol)
		if w2 := bilinearRef([]float32{1, 2, 3, 4}, 2, 2, 4, 4); !slices.Equal(w2, want) {
			t.Fatalf("reference disagrees with hand values: %v", w2)
		}
	})
	r := rng(7)
	tests := []struct{ h, w, oh, ow int }{
		{3, 4, 5, 7},
		{4, 6, 2, 3}, // downscale
		{5, 5, 5, 5}, // identity
		{3, 3, 1, 7},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%dx%d→%dx%d", tt.h, tt.w, tt.oh, tt.ow)
		t.Run(name, func(t *testing.T) {
			s := newScope(t)
			in := r.uniform(tt.h*tt.w, -1, 1)
			got := s.ResizeBilinear(f32(t, s, in, 1, 1, int64(tt.h), int64(tt.w)), int64(tt.oh), int64(tt.ow))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, name, got, shp(1, 1, int64(tt.oh), int64(tt.ow)), bilinearRef(in, tt.h, tt.w, tt.oh, tt.ow), 1e-5)
		})
	}
}

func TestBatchNormTraining(t *testing.T) {
	// N=4, C=2 (an [N C] input). Channel 0 is 1 2 3 4: mean 2.5, biased
	// variance 1.25, unbiased 5/3. Channel 1 is 2 4 6 10: mean 5.5, biased
	// variance 8.75, unbiased 35/3.
	in := []float32{1, 2, 2, 4, 3, 6, 4, 10}
	mean := [2]float64{2.5, 5.5}
	biased := [2]float64{1.25, 8.75}
	unbiased := [2]float64{5.0 / 3, 35.0 / 3}
	const eps, momentum = 1e-5, 0.1
	tests := []struct {
		name string
		w, b []float32
	}{
		{"no affine", nil, nil},
		{"affine", []float32{2, 0.5}, []float32{1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			x := f32(t, s, in, 4, 2)
			rm := f32(t, s, []float32{0, 1}, 2)
			rv := f32(t, s, []float32{1, 2}, 2)
			var w, b *Tensor
			scale, shift := [2]float64{1, 1}, [2]float64{0, 0}
			if tt.w != nil {
				w, b = f32(t, s, tt.w, 2), f32(t, s, tt.b, 2)
				scale = [2]float64{float64(tt.w[0]), float64(tt.w[1])}
				shift = [2]float64{float64(tt.b[0]), float64(tt.b[1])}
			}
			y := s.BatchNorm(x, w, b, rm, rv, true, momentum, eps)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(in))
			for i, v := range in {
				c := i % 2
				want[i] = (float64(v)-mean[c])/math.Sqrt(biased[c]+eps)*scale[c] + shift[c]
			}
			checkTensor(t, "output", y, shp(4, 2), want, 1e-5)

			// Per channel, the output has mean b and (biased) variance w².
			got := values(t, y)
			for c := 0; c < 2; c++ {
				var m, v float64
				for n := 0; n < 4; n++ {
					m += float64(got[2*n+c]) / 4
				}
				for n := 0; n < 4; n++ {
					d := float64(got[2*n+c]) - m
					v += d * d / 4
				}
				if !close(m, shift[c], 1e-5) {
					t.Errorf("channel %d: output mean %v, want %v", c, m, shift[c])
				}
				wantVar := scale[c] * scale[c] * biased[c] / (biased[c] + eps)
				if !close(v, wantVar, 1e-4) {
					t.Errorf("channel %d: output variance %v, want %v", c, v, wantVar)
				}
			}

			// Running stats move 10% of the way to the batch mean and the
			// unbiased batch variance.
			checkTensor(t, "running mean", rm, shp(2),
				[]float64{0.9*0 + 0.1*mean[0], 0.9*1 + 0.1*mean[1]}, 1e-6)
			checkTensor(t, "running var", rv, shp(2),
				[]float64{0.9*1 + 0.1*unbiased[0], 0.9*2 + 0.1*unbiased[1]}, 1e-6)
		})
	}
}

func TestBatchNormTrainingNCHW(t *testing.T) {
	// With NCHW input the statistics are over N, H and W.
	s := newScope(t)
	r := rng(11)
	const n, c, h, w = 3, 2, 2, 3
	in := r.uniform(n*c*h*w, -2, 3)
	x := f32(t, s, in, n, c, h, w)
	rm := s.Full(0, c)
	rv := s.Full(1, c)
	y := s.BatchNorm(x, nil, nil, rm, rv, true, 0.1, 1e-5)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	got := values(t, y)
	var wantRM, wantRV []float64
	for ch := 0; ch < c; ch++ {
		var xs, ys []float64
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				k := (i*c+ch)*h*w + j
				xs = append(xs, float64(in[k]))
				ys = append(ys, float64(got[k]))
			}
		}
		m, vb := meanVar(xs)
		cnt := float64(len(xs))
		wantRM = append(wantRM, 0.1*m)
		wantRV = append(wantRV, 0.9+0.1*vb*cnt/(cnt-1))
		ym, yv := meanVar(ys)
		if math.Abs(ym) > 1e-5 {
			t.Errorf("channel %d: output mean %v, want ~0", ch, ym)
		}
		if math.Abs(yv-1) > 1e-3 {
			t.Errorf("channel %d: output variance %v, want ~1", ch, yv)
		}
	}
	checkTensor(t, "running mean", rm, shp(c), wantRM, 1e-5)
	checkTensor(t, "running var", rv, shp(c), wantRV, 1e-5)
}

// meanVar returns the mean and biased variance of xs.
func meanVar(xs []float64) (m, v float64) {
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs))
}

func TestBatchNormEval(t *testing.T) {
	in := []float32{1, 2, 2, 4, 3, 6, 4, 10}
	tests := []struct {
		name string
		w, b []float32
		eps  float64
		want []float64
	}{
		// mean [1 2], var [4 0.25]: y = (x−m)/sqrt(v).
		{"plain", nil, nil, 0, []float64{0, 0, 0.5, 4, 1, 8, 1.5, 16}},
		{"affine", []float32{2, -1}, []float32{1, 0.5}, 0, []float64{1, 0.5, 2, -3.5, 3, -7.5, 4, -15.5}},
		{"eps", nil, nil, 0.75, []float64{0, 0, 1 / math.Sqrt(4.75), 2, 2 / math.Sqrt(4.75), 4,
			3 / math.Sqrt(4.75), 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			rm := f32(t, s, []float32{1, 2}, 2)
			rv := f32(t, s, []float32{4, 0.25}, 2)
			var w, b *Tensor
			if tt.w != nil {
				w, b = f32(t, s, tt.w, 2), f32(t, s, tt.b, 2)
			}
			y := s.BatchNorm(f32(t, s, in, 4, 2), w, b, rm, rv, false, 0.1, tt.eps)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, "output", y, shp(4, 2), tt.want, 1e-5)
			checkTensor(t, "running mean (unchanged)", rm, shp(2), []float64{1, 2}, 0)
			checkTensor(t, "running var (unchanged)", rv, shp(2), []float64{4, 0.25}, 0)
		})
	}
}

func TestSoftmax(t *testing.T) {
	in := []float32{1, 2, 3, 1, 0, -1}
	e := math.Exp
	z1 := e(1) + e(2) + e(3)
	z2 := e(1) + e(0) + e(-1)
	soft1 := []float64{e(1) / z1, e(2) / z1, e(3) / z1, e(1) / z2, e(0) / z2, e(-1) / z2}
	// Along dim 0 the columns are (1,1), (2,0), (3,−1).
	c0 := []float64{0.5, e(2) / (e(2) + 1), e(3) / (e(3) + e(-1))}
	soft0 := []float64{c0[0], c0[1], c0[2], 1 - c0[0], 1 - c0[1], 1 - c0[2]}
	logOf := func(v []float64) []float64 {
		w := make([]float64, len(v))
		for i := range v {
			w[i] = math.Log(v[i])
		}
		return w
	}
	tests := []struct {
		name string
		op   func(*Scope, *Tensor, int64) *Tensor
		dim  int64
		want []float64
	}{
		{"Softmax/1", (*Scope).Softmax, 1, soft1},
		{"Softmax/-1", (*Scope).Softmax, -1, soft1},
		{"Softmax/0", (*Scope).Softmax, 0, soft0},
		{"LogSoftmax/1", (*Scope).LogSoftmax, 1, logOf(soft1)},
		{"LogSoftmax/0", (*Scope).LogSoftmax, 0, logOf(soft0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(s, f32(t, s, in, 2, 3), tt.dim)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, shp(2, 3), tt.want, 1e-6)
		})
	}
	t.Run("LogSoftmax/stable", func(t *testing.T) {
		// exp(1000) overflows float32; log-softmax must not.
		s := newScope(t)
		got := s.LogSoftmax(f32(t, s, []float32{1000, 0}, 1, 2), 1)
		checkTensor(t, "log_softmax", got, shp(1, 2), []float64{-math.Log1p(math.Exp(-1000)), -1000}, 1e-6)
	})
}

func TestCrossEntropy(t *testing.T) {
	lse := func(xs ...float64) float64 {
		m := math.Inf(-1)
		for _, x := range xs {
			m = math.Max(m, x)
		}
		var sum float64
		for _, x := range xs {
			sum += math.Exp(x - m)
		}
		return m + math.Log(sum)
	}
	tests := []struct {
		name   string
		logits []float32
		n, k   int64
		target []int64
		want   float64
	}{
		// loss = mean over rows of logsumexp(row) − row[target].
		{"2x3", []float32{1, 2, 3, 0.5, 0.5, 2}, 2, 3, []int64{1, 0},
			((lse(1, 2, 3) - 2) + (lse(0.5, 0.5, 2) - 0.5)) / 2},
		{"uniform", []float32{0, 0, 0, 0}, 1, 4, []int64{3}, math.Log(4)},
		{"confident", []float32{10, -10, -10, 10}, 2, 2, []int64{0, 1}, lse(10, -10) - 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := s.CrossEntropy(f32(t, s, tt.logits, tt.n, tt.k), i64(t, s, tt.target, tt.n))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkShape(t, "loss", got)
			if g := item(t, got); !close(g, tt.want, 1e-6) {
				t.Errorf("CrossEntropy = %v, want %v", g, tt.want)
			}
		})
	}
}

func TestEmbedding(t *testing.T) {
	w := []float32{0, 1, 10, 11, 20, 21, 30, 31}
	tests := []struct {
		name      string
		index     []int64
		iShape    []int64
		wantShape []int64
		want      []float64
	}{
		{"1d", []int64{3, 0, 3}, shp(3), shp(3, 2), []float64{30, 31, 0, 1, 30, 31}},
		{"2d", []int64{1, 2, 2, 0}, shp(2, 2), shp(2, 2, 2), []float64{10, 11, 20, 21, 20, 21, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := s.Embedding(f32(t, s, w, 4, 2), i64(t, s, tt.index, tt.iShape...))
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, tt.name, got, tt.wantShape, tt.want, 0)
		})
	}
}

func TestArgmax(t *testing.T) {
	tests := []struct {
		dim       int64
		wantShape []int64
		want      []int64
	}{
		{1, shp(2), []int64{1, 2}},
		{-1, shp(2), []int64{1, 2}},
		{0, shp(3), []int64{1, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("dim", tt.dim), func(t *testing.T) {
			s := newScope(t)
			got := s.Argmax(f32(t, s, []float32{1, 5, 3, 4, 2, 6}, 2, 3), tt.dim)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			checkShape(t, "argmax", got, tt.wantShape...)
			v, err := got.Int64()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v, tt.want) {
				t.Errorf("Argmax(dim %d) = %v, want %v", tt.dim, v, tt.want)
			}
		})
	}
}

func TestFromDataRoundTrip(t *testing.T) {
	t.Run("float32", func(t *testing.T) {
		x, err := FromFloat32([]float32{1.5, -2, 3.25, 0, 1e-8, 7}, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Free()
		checkShape(t, "x", x, 3, 2)
		if n := x.Numel(); n != 6 {
			t.Errorf("Numel = %d, want 6", n)
		}
		if got, want := values(t, x), []float32{1.5, -2, 3.25, 0, 1e-8, 7}; !slices.Equal(got, want) {
			t.Errorf("Float32 = %v, want %v", got, want)
		}
		// Int64 converts, truncating toward zero.
		iv, err := x.Int64()
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{1, -2, 3, 0, 0, 7}; !slices.Equal(iv, want) {
			t.Errorf("Int64 = %v, want %v", iv, want)
		}
		if d := x.Device(); d != CPU {
			t.Errorf("Device = %v, want cpu", d)
		}
	})
	t.Run("int64", func(t *testing.T) {
		big := int64(1) << 40 // not representable in float32's mantissa
		x, err := FromInt64([]int64{big + 1, -3, 0, 9}, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Free()
		checkShape(t, "x", x, 2, 2)
		iv, err := x.Int64()
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{big + 1, -3, 0, 9}; !slices.Equal(iv, want) {
			t.Errorf("Int64 = %v, want %v", iv, want)
		}
		fv := values(t, x)
		if fv[1] != -3 || fv[3] != 9 {
			t.Errorf("Float32 = %v, want [… -3 … 9]", fv)
		}
	})
	t.Run("scalar", func(t *testing.T) {
		x, err := FromFloat32([]float32{4.5})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Free()
		checkShape(t, "scalar", x)
		if got := item(t, x); got != 4.5 {
			t.Errorf("Item = %v, want 4.5", got)
		}
	})
	t.Run("empty", func(t *testing.T) {
		x, err := FromFloat32(nil, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Free()
		checkShape(t, "empty", x, 0, 3)
		if v := values(t, x); len(v) != 0 {
			t.Errorf("Float32 = %v, want none", v)
		}
	})
	t.Run("copies input", func(t *testing.T) {
		data := []float32{1, 2}
		x, err := FromFloat32(data, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Free()
		data[0] = 99
		if v := values(t, x); v[0] != 1 {
			t.Errorf("tensor follows the Go slice: got %v, want [1 2]", v)
		}
	})
}

func TestItem(t *testing.T) {
	s := newScope(t)
	if got := item(t, f32(t, s, []float32{-2.5}, 1, 1)); got != -2.5 {
		t.Errorf("Item of [1 1] = %v, want -2.5", got)
	}
	if got := item(t, i64(t, s, []int64{7}, 1)); got != 7 {
		t.Errorf("Item of int64 [1] = %v, want 7", got)
	}
	if _, err := f32(t, s, []float32{1, 2}, 2).Item(); err == nil {
		t.Error("Item of a 2-element tensor: no error")
	}
	var freed Tensor
	if _, err := freed.Item(); err == nil {
		t.Error("Item of an empty tensor: no error")
	}
}

func TestFull(t *testing.T) {
	tests := []struct {
		v     float64
		shape []int64
	}{
		{2.5, shp(2, 3)},
		{-1, shp(4)},
		{0, shp()},
		{7, shp(1, 2, 1, 2)},
	}
	for _, tt := range tests {
		x, err := Full(tt.v, tt.shape...)
		if err != nil {
			t.Fatalf("Full(%v, %v): %v", tt.v, tt.shape, err)
		}
		want := make([]float64, numel(tt.shape))
		for i := range want {
			want[i] = tt.v
		}
		checkTensor(t, "Full", x, tt.shape, want, 0)
		x.Free()
	}
	s := newScope(t)
	checkTensor(t, "Scope.Full", s.Full(3, 2, 2), shp(2, 2), []float64{3, 3, 3, 3}, 0)
}

func TestFree(t *testing.T) {
	x, err := Full(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	x.Free()
	x.Free() // idempotent
	if x.Valid() {
		t.Error("Valid after Free")
	}
	if x.Shape() != nil {
		t.Errorf("Shape after Free = %v, want nil", x.Shape())
	}
	if _, err := x.Float32(); err == nil {
		t.Error("Float32 after Free: no error")
	}
	var nilT *Tensor
	nilT.Free()
	if nilT.Valid() {
		t.Error("nil tensor is Valid")
	}
}

func TestCopyFrom(t *testing.T) {
	s := newScope(t)
	dst := s.Full(0, 2, 3)
	if err := dst.CopyFrom(f32(t, s, a23, 2, 3)); err != nil {
		t.Fatal(err)
	}
	checkTensor(t, "copy", dst, shp(2, 3), f64(a23), 0)

	if err := dst.CopyFrom(f32(t, s, []float32{-1, -2, -3}, 3)); err != nil {
		t.Fatal(err)
	}
	checkTensor(t, "broadcast copy", dst, shp(2, 3), []float64{-1, -2, -3, -1, -2, -3}, 0)

	// int64 into float32 converts.
	if err := dst.CopyFrom(i64(t, s, []int64{1, 2, 3, 4, 5, 6}, 2, 3)); err != nil {
		t.Fatal(err)
	}
	checkTensor(t, "int64 copy", dst, shp(2, 3), f64(a23), 0)

	err := dst.CopyFrom(f32(t, s, []float32{1, 2}, 2))
	if err == nil {
		t.Fatal("CopyFrom [2] into [2 3]: no error")
	}
	checkTensor(t, "after failed copy", dst, shp(2, 3), f64(a23), 0)

	// A parameter that requires grad can be overwritten (as when a
	// checkpoint is loaded) and stays a leaf.
	p := s.Full(0, 3)
	if err := p.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	if err := p.CopyFrom(f32(t, s, []float32{4, 5, 6}, 3)); err != nil {
		t.Fatalf("CopyFrom into a parameter: %v", err)
	}
	checkTensor(t, "parameter", p, shp(3), []float64{4, 5, 6}, 0)
	if !p.RequiresGrad() {
		t.Error("parameter lost RequiresGrad after CopyFrom")
	}
}

func TestLerp(t *testing.T) {
	tests := []struct {
		w    float64
		want []float64
	}{
		{0, []float64{0, 10, -4}},
		{0.25, []float64{2.5, 7.5, -2}},
		{1, []float64{10, 0, 4}},
	}
	for _, tt := range tests {
		s := newScope(t)
		dst := f32(t, s, []float32{0, 10, -4}, 3)
		if err := dst.Lerp(f32(t, s, []float32{10, 0, 4}, 3), tt.w); err != nil {
			t.Fatal(err)
		}
		checkTensor(t, "lerp", dst, shp(3), tt.want, 1e-6)
		s.Close()
	}
	s := newScope(t)
	if err := s.Full(0, 3).Lerp(s.Full(1, 4), 0.5); err == nil {
		t.Error("Lerp [3] toward [4]: no error")
	}
	// An EMA of weights: ten steps of weight 0.5 toward 1 from 0.
	ema := s.Full(0, 2)
	one := s.Full(1, 2)
	for i := 0; i < 10; i++ {
		if err := ema.Lerp(one, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	w := 1 - math.Pow(0.5, 10)
	checkTensor(t, "ema", ema, shp(2), []float64{w, w}, 1e-6)
}

func TestToCPU(t *testing.T) {
	s := newScope(t)
	x := f32(t, s, a23, 2, 3)
	y, err := x.To(CPU)
	if err != nil {
		t.Fatal(err)
	}
	s.Adopt(y)
	if y.Device() != CPU {
		t.Errorf("Device = %v, want cpu", y.Device())
	}
	checkTensor(t, "To(CPU)", y, shp(2, 3), f64(a23), 0)
	// To promises a copy: changing x afterwards leaves y alone, and
	// freeing x leaves y readable.
	if err := x.CopyFrom(s.Full(0, 2, 3)); err != nil {
		t.Fatal(err)
	}
	x.Free()
	checkTensor(t, "To(CPU) after source changed", y, shp(2, 3), f64(a23), 0)
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in      string
		want    Device
		wantErr bool
	}{
		{"", CPU, false},
		{"cpu", CPU, false},
		{"tpu", CPU, true},
	}
	for _, tt := range tests {
		got, err := ParseDevice(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if d, err := ParseDevice("cuda"); err == nil && d != CUDA {
		t.Errorf("ParseDevice(cuda) = %v, nil; want cuda", d)
	}
	if CPU.String() != "cpu" || CUDA.String() != "cuda" {
		t.Errorf("Device strings %q %q", CPU, CUDA)
	}
}

func TestThreads(t *testing.T) {
	if n := Threads(); n < 1 {
		t.Errorf("Threads() = %d, want ≥ 1", n)
	}
}
