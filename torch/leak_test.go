package torch

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rss is the process's resident set size in bytes, from /proc/self/statm
// (its second field is resident pages).
func rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("statm %q: want at least two fields", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// settledRSS collects Go garbage first, so that what is left to grow is the
// C++ side.
func settledRSS(t testing.TB) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	return rss(t)
}

// leakModel is a conv → batch norm → 64→128→10 MLP classifier whose
// parameters are leaves owned by the test.
type leakModel struct {
	convW, convB, bnW, bnB, w1, b1, w2, b2 *Tensor
	runMean, runVar                        *Tensor
}

func newLeakModel(t testing.TB) *leakModel {
	t.Helper()
	r := rng(2024)
	leaf := func(fanIn int, shape ...int64) *Tensor {
		t.Helper()
		b := 1 / math.Sqrt(float64(fanIn))
		x, err := FromFloat32(r.uniform(int(numel(shape)), -b, b), shape...)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.SetRequiresGrad(true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Free)
		return x
	}
	full := func(v float64, shape ...int64) *Tensor {
		t.Helper()
		x, err := Full(v, shape...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Free)
		return x
	}
	m := &leakModel{
		convW: leaf(9, 1, 1, 3, 3), convB: leaf(9, 1),
		bnW: full(1, 1), bnB: full(0, 1),
		w1: leaf(64, 128, 64), b1: leaf(64, 128),
		w2: leaf(128, 10, 128), b2: leaf(128, 10),
		runMean: full(0, 1), runVar: full(1, 1),
	}
	for _, p := range []*Tensor{m.bnW, m.bnB} {
		if err := p.SetRequiresGrad(true); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (m *leakModel) params() []*Tensor {
	return []*Tensor{m.convW, m.convB, m.bnW, m.bnB, m.w1, m.b1, m.w2, m.b2}
}

// loss is the cross-entropy of the model on an 8×1×16×16 batch.
func (m *leakModel) loss(s *Scope, x, y *Tensor) *Tensor {
	h := s.Conv2d(x, m.convW, m.convB, 2, 1, 1) // 8×1×8×8
	h = s.BatchNorm(h, m.bnW, m.bnB, m.runMean, m.runVar, true, 0.1, 1e-5)
	h = s.Relu(s.Reshape(h, 8, 64))
	h = s.Tanh(s.Linear(h, m.w1, m.b1))
	return s.CrossEntropy(s.Linear(h, m.w2, m.b2), y)
}

// TestTrainingDoesNotLeak is the leak test the project promises: a small
// model trained with forward, backward and Adam, one Scope per step, must
// not grow in resident memory after warm-up.
func TestTrainingDoesNotLeak(t *testing.T) {
	steps, warmup := 2000, 200
	if testing.Short() {
		steps = 300
	}
	m := newLeakModel(t)
	opt, err := NewAdam(m.params(), 1e-3, 0.9, 0.999, 1e-8)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()

	// Four fixed batches with learnable labels (the class is set by which
	// quadrant of the image is bright).
	r := rng(99)
	type batch struct {
		x []float32
		y []int64
	}
	var batches [4]batch
	for b := range batches {
		x := r.uniform(8*16*16, 0, 0.2)
		y := make([]int64, 8)
		for n := 0; n < 8; n++ {
			q := (b*8 + n) % 4
			y[n] = int64(q)
			r0, c0 := 8*(q/2), 8*(q%2)
			for i := 0; i < 8; i++ {
				for j := 0; j < 8; j++ {
					x[n*256+(r0+i)*16+c0+j] += 1
				}
			}
		}
		batches[b] = batch{x, y}
	}

	var before, first, last float64
	start := time.Now()
	for i := 0; i < steps; i++ {
		if i == warmup {
			before = float64(settledRSS(t))
		}
		s := NewScope()
		b := batches[i%len(batches)]
		loss := m.loss(s, s.FromFloat32(b.x, 8, 1, 16, 16), s.FromInt64(b.y, 8))
		if err := s.Err(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := loss.Backward(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := opt.Step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i < len(batches) || i >= steps-len(batches) {
			l := item(t, loss)
			if i < len(batches) {
				first += l / float64(len(batches))
			} else {
				last += l / float64(len(batches))
			}
		}
		if s.Len() == 0 {
			t.Fatalf("step %d: scope owns no tensors before Close", i)
		}
		s.Close()
		if n := s.Len(); n != 0 {
			t.Fatalf("step %d: Len after Close = %d, want 0", i, n)
		}
	}
	after := float64(settledRSS(t))
	elapsed := time.Since(start)
	growth := (after - before) / before
	t.Logf("%d steps in %v; RSS after %d warm-up steps %.1f MiB, at the end %.1f MiB (%+.2f%%); loss %.3f → %.3f",
		steps, elapsed.Round(time.Millisecond), warmup, before/(1<<20), after/(1<<20), 100*growth, first, last)
	if growth >= 0.05 {
		t.Errorf("RSS grew from %.1f MiB to %.1f MiB (%+.1f%%) over %d steps; want < 5%%",
			before/(1<<20), after/(1<<20), 100*growth, steps-warmup)
	}
	if !(last < 0.5*first) {
		t.Errorf("training did not learn: mean loss %.3f at the start, %.3f at the end", first, last)
	}
	if opt.Steps != int64(steps) {
		t.Errorf("Adam took %d steps, want %d", opt.Steps, steps)
	}
}

func TestScopeOwnership(t *testing.T) {
	s := NewScope()
	if n := s.Len(); n != 0 {
		t.Errorf("new scope Len = %d, want 0", n)
	}
	a := s.Full(1, 2)
	b := s.AddScalar(a, 1)
	c := s.Mul(a, b)
	if n := s.Len(); n != 3 {
		t.Errorf("Len = %d after three ops, want 3", n)
	}
	kept := s.Keep(c)
	if kept != c {
		t.Error("Keep returned a different tensor")
	}
	if n := s.Len(); n != 2 {
		t.Errorf("Len after Keep = %d, want 2", n)
	}
	a.Free() // freeing early is fine; Close frees it only once
	if n := s.Len(); n != 1 {
		t.Errorf("Len after an early Free = %d, want 1", n)
	}
	own, err := Full(5, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Adopt(own)
	if n := s.Len(); n != 2 {
		t.Errorf("Len after Adopt = %d, want 2", n)
	}
	s.Close()
	if n := s.Len(); n != 0 {
		t.Errorf("Len after Close = %d, want 0", n)
	}
	if a.Valid() || b.Valid() || own.Valid() {
		t.Errorf("after Close: valid a %v, b %v, adopted %v; want all freed", a.Valid(), b.Valid(), own.Valid())
	}
	if !c.Valid() {
		t.Fatal("Close freed a kept tensor")
	}
	checkTensor(t, "kept", c, shp(2), []float64{2, 2}, 0)
	c.Free()
	s.Close() // a second Close is harmless

	// A scope can be reused after Close, and its error survives Close.
	s.Matmul(s.Full(1, 2), s.Full(1, 3))
	if s.Err() == nil {
		t.Fatal("Matmul [2]·[3]: no error")
	}
	s.Close()
	if s.Err() == nil {
		t.Error("Close cleared the error")
	}
	if n := s.Len(); n != 0 {
		t.Errorf("Len after Close = %d, want 0", n)
	}
	s.Fail(nil)
	other := NewScope()
	defer other.Close()
	other.Fail(os.ErrInvalid)
	other.Fail(os.ErrClosed)
	if other.Err() != os.ErrInvalid {
		t.Errorf("Err = %v, want the first failure %v", other.Err(), os.ErrInvalid)
	}
	if got := other.Full(1, 1); got.Valid() {
		t.Error("op after Fail returned a valid tensor")
	}
}

// BenchmarkConv2dStep times the forward and backward pass of a 3×3
// convolution with 64 channels on a 9×64×32×32 batch.
func BenchmarkConv2dStep(b *testing.B) {
	r := rng(5)
	x, err := FromFloat32(r.uniform(9*64*32*32, -1, 1), 9, 64, 32, 32)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Free()
	w, err := FromFloat32(r.uniform(64*64*3*3, -0.05, 0.05), 64, 64, 3, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Free()
	bias, err := Full(0, 64)
	if err != nil {
		b.Fatal(err)
	}
	defer bias.Free()
	for _, p := range []*Tensor{w, bias} {
		if err := p.SetRequiresGrad(true); err != nil {
			b.Fatal(err)
		}
	}
	params := []*Tensor{w, bias}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := NewScope()
		loss := s.Mean(s.Square(s.Conv2d(x, w, bias, 1, 1, 1)), false)
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		if err := loss.Backward(); err != nil {
			b.Fatal(err)
		}
		if err := ZeroGrads(params); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
