package torch

import (
	"math"
	"os"
	"runtime"
	"slices"
	"testing"
)

func TestMain(m *testing.M) {
	SetThreads(runtime.NumCPU())
	os.Exit(m.Run())
}

// newScope returns a scope that is closed when the test ends.
func newScope(t testing.TB) *Scope {
	t.Helper()
	s := NewScope()
	t.Cleanup(s.Close)
	return s
}

// f32 makes a float32 tensor owned by s, failing the test at once on error.
func f32(t testing.TB, s *Scope, data []float32, shape ...int64) *Tensor {
	t.Helper()
	x := s.FromFloat32(data, shape...)
	if err := s.Err(); err != nil {
		t.Fatalf("FromFloat32(%v): %v", shape, err)
	}
	return x
}

// i64 makes an int64 tensor owned by s.
func i64(t testing.TB, s *Scope, data []int64, shape ...int64) *Tensor {
	t.Helper()
	x := s.FromInt64(data, shape...)
	if err := s.Err(); err != nil {
		t.Fatalf("FromInt64(%v): %v", shape, err)
	}
	return x
}

// values reads x as float32, failing the test on error.
func values(t testing.TB, x *Tensor) []float32 {
	t.Helper()
	v, err := x.Float32()
	if err != nil {
		t.Fatalf("Float32: %v", err)
	}
	return v
}

// item reads a one-element tensor.
func item(t testing.TB, x *Tensor) float64 {
	t.Helper()
	v, err := x.Item()
	if err != nil {
		t.Fatalf("Item: %v", err)
	}
	return float64(v)
}

// checkShape fails the test unless x has shape want.
func checkShape(t testing.TB, what string, x *Tensor, want ...int64) {
	t.Helper()
	if want == nil {
		want = []int64{}
	}
	if got := x.Shape(); !slices.Equal(got, want) {
		t.Errorf("%s: shape %v, want %v", what, got, want)
	}
}

// checkClose fails the test unless got and want agree elementwise within
// tol, absolute or relative to the larger magnitude.
func checkClose(t testing.TB, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d values %v, want %d values %v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if !close(float64(got[i]), want[i], tol) {
			t.Errorf("%s: [%d] = %v, want %v (all: got %v, want %v)", what, i, got[i], want[i], got, want)
			return
		}
	}
}

func close(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	d := math.Abs(a - b)
	return d <= tol || d <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// checkTensor checks x's shape and values in one call.
func checkTensor(t testing.TB, what string, x *Tensor, shape []int64, want []float64, tol float64) {
	t.Helper()
	if !x.Valid() {
		t.Errorf("%s: invalid tensor", what)
		return
	}
	checkShape(t, what, x, shape...)
	checkClose(t, what, values(t, x), want, tol)
}

// seq returns start, start+step, … (n values) as float32.
func seq(n int, start, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = start + float32(i)*step
	}
	return v
}

// f64 widens float32 values.
func f64(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

// shp is a shape literal helper for tables.
func shp(d ...int64) []int64 {
	if d == nil {
		return []int64{}
	}
	return d
}

// rng is a small deterministic generator (xorshift64*) so that tests do not
// depend on math/rand's stream.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

// uniform returns n values in [lo, hi).
func (r *rng) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		u := float64(r.next()>>11) / (1 << 53)
		v[i] = float32(lo + (hi-lo)*u)
	}
	return v
}
