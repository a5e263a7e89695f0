package torch

import (
	"strings"
	"testing"
)

func TestShapeErrors(t *testing.T) {
	tests := []struct {
		name string
		op   func(t *testing.T, s *Scope) *Tensor
		want []string // substrings of the error
	}{
		{"matmul", func(t *testing.T, s *Scope) *Tensor {
			return s.Matmul(s.Full(1, 2, 3), s.Full(1, 2, 3))
		}, []string{"matmul [2 3] [2 3]"}},
		{"conv2d channels", func(t *testing.T, s *Scope) *Tensor {
			return s.Conv2d(s.Full(1, 1, 2, 4, 4), s.Full(1, 1, 3, 3, 3), nil, 1, 1, 1)
		}, []string{"conv2d [1 2 4 4] [1 3 3 3]"}},
		{"conv2d groups", func(t *testing.T, s *Scope) *Tensor {
			return s.Conv2d(s.Full(1, 1, 3, 4, 4), s.Full(1, 3, 1, 3, 3), nil, 1, 1, 2)
		}, []string{"conv2d [1 3 4 4] [3 1 3 3]"}},
		{"linear", func(t *testing.T, s *Scope) *Tensor {
			return s.Linear(s.Full(1, 2, 3), s.Full(1, 4, 5), nil)
		}, []string{"linear [2 3] [4 5]"}},
		{"add", func(t *testing.T, s *Scope) *Tensor {
			return s.Add(s.Full(1, 2, 3), s.Full(1, 2))
		}, []string{"add [2 3] [2]"}},
		{"maximum", func(t *testing.T, s *Scope) *Tensor {
			return s.Maximum(s.Full(1, 4), s.Full(1, 3))
		}, []string{"maximum [4] [3]"}},
		{"cat", func(t *testing.T, s *Scope) *Tensor {
			return s.Cat(0, s.Full(1, 2, 3), s.Full(1, 2, 4))
		}, []string{"cat [2 3] [2 4]"}},
		{"reshape", func(t *testing.T, s *Scope) *Tensor {
			return s.Reshape(s.Full(1, 2, 3), 4, 2)
		}, []string{"reshape to [4 2] [2 3]"}},
		{"permute", func(t *testing.T, s *Scope) *Tensor {
			return s.Permute(s.Full(1, 2, 3), 0)
		}, []string{"permute [0] [2 3]"}},
		{"narrow", func(t *testing.T, s *Scope) *Tensor {
			return s.Narrow(s.Full(1, 2, 3), 1, 2, 2)
		}, []string{"narrow dim 1 [2:+2] [2 3]"}},
		{"sum dim", func(t *testing.T, s *Scope) *Tensor {
			return s.Sum(s.Full(1, 2, 3), false, 2)
		}, []string{"sum [2 3]"}},
		{"index_select", func(t *testing.T, s *Scope) *Tensor {
			return s.IndexSelect(s.Full(1, 2, 3), 1, i64(t, s, []int64{3}, 1))
		}, []string{"index_select [2 3] [1]"}},
		{"embedding", func(t *testing.T, s *Scope) *Tensor {
			return s.Embedding(s.Full(1, 4, 2), i64(t, s, []int64{0, 4}, 2))
		}, []string{"embedding [4 2] [2]"}},
		{"cross_entropy target", func(t *testing.T, s *Scope) *Tensor {
			return s.CrossEntropy(s.Full(0, 2, 3), i64(t, s, []int64{0, 3}, 2))
		}, []string{"cross_entropy [2 3] [2]"}},
		{"cross_entropy batch", func(t *testing.T, s *Scope) *Tensor {
			return s.CrossEntropy(s.Full(0, 2, 3), i64(t, s, []int64{0, 1, 2}, 3))
		}, []string{"cross_entropy [2 3] [3]"}},
		{"batch_norm stats", func(t *testing.T, s *Scope) *Tensor {
			return s.BatchNorm(s.Full(1, 4, 2), nil, nil, s.Full(0, 3), s.Full(1, 3), false, 0.1, 1e-5)
		}, []string{"batch_norm [4 2]"}},
		{"avg_pool2d", func(t *testing.T, s *Scope) *Tensor {
			return s.AvgPool2d(s.Full(1, 1, 1, 2, 2), 3, 1)
		}, []string{"avg_pool2d [1 1 2 2]"}},
		{"upsample rank", func(t *testing.T, s *Scope) *Tensor {
			return s.UpsampleNearest(s.Full(1, 2, 2), 4, 4)
		}, []string{"upsample_nearest2d [2 2]"}},
		{"softmax dim", func(t *testing.T, s *Scope) *Tensor {
			return s.Softmax(s.Full(1, 2, 3), 2)
		}, []string{"softmax [2 3]"}},
		{"argmax dim", func(t *testing.T, s *Scope) *Tensor {
			return s.Argmax(s.Full(1, 2, 3), 5)
		}, []string{"argmax [2 3]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScope(t)
			got := tt.op(t, s)
			err := s.Err()
			if err == nil {
				t.Fatalf("no error; result shape %v", got.Shape())
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if !strings.HasPrefix(msg, "torch: ") {
				t.Errorf("error %q does not start with %q", msg, "torch: ")
			}
			for _, bad := range []string{"Exception raised from", "frame #"} {
				if strings.Contains(msg, bad) {
					t.Errorf("error carries a C++ backtrace (%q):\n%s", bad, msg)
				}
			}
			if got.Valid() {
				t.Errorf("failed op returned a valid tensor of shape %v", got.Shape())
			}
			if n := strings.Count(msg, "\n"); n > 2 {
				t.Errorf("error has %d lines, want a short message:\n%s", n+1, msg)
			}
		})
	}
}

func TestErrorIsSticky(t *testing.T) {
	s := newScope(t)
	a := s.Full(1, 2, 3)
	bad := s.Matmul(a, a)
	first := s.Err()
	if first == nil {
		t.Fatal("Matmul [2 3]·[2 3]: no error")
	}
	live := s.Len()

	// Every later op, whether or not its inputs are fine, returns an
	// invalid tensor, runs nothing, and keeps the first error.
	later := []struct {
		name string
		op   func() *Tensor
	}{
		{"relu of failed", func() *Tensor { return s.Relu(bad) }},
		{"add of good", func() *Tensor { return s.Add(a, a) }},
		{"matmul of failed", func() *Tensor { return s.Matmul(bad, bad) }},
		{"linear", func() *Tensor { return s.Linear(bad, a, nil) }},
		{"conv2d", func() *Tensor { return s.Conv2d(bad, bad, bad, 1, 1, 1) }},
		{"sum", func() *Tensor { return s.Sum(bad, true) }},
		{"mean", func() *Tensor { return s.Mean(a, false, 0) }},
		{"reshape", func() *Tensor { return s.Reshape(bad, -1) }},
		{"permute", func() *Tensor { return s.Permute(bad, 1, 0) }},
		{"cat", func() *Tensor { return s.Cat(0, a, bad) }},
		{"narrow", func() *Tensor { return s.Narrow(bad, 0, 0, 1) }},
		{"index_select", func() *Tensor { return s.IndexSelect(a, 0, bad) }},
		{"batch_norm", func() *Tensor { return s.BatchNorm(bad, nil, nil, nil, nil, true, 0.1, 1e-5) }},
		{"softmax", func() *Tensor { return s.Softmax(bad, 1) }},
		{"cross_entropy", func() *Tensor { return s.CrossEntropy(bad, bad) }},
		{"embedding", func() *Tensor { return s.Embedding(bad, bad) }},
		{"argmax", func() *Tensor { return s.Argmax(bad, 0) }},
		{"upsample", func() *Tensor { return s.UpsampleNearest(bad, 2, 2) }},
		{"bilinear", func() *Tensor { return s.ResizeBilinear(bad, 2, 2) }},
		{"pool", func() *Tensor { return s.MaxPool2d(bad, 2, 2, 0) }},
		{"scalar", func() *Tensor { return s.MulScalar(bad, 2) }},
		{"detach", func() *Tensor { return s.Detach(bad) }},
		{"full", func() *Tensor { return s.Full(0, 2) }},
		{"from float32", func() *Tensor { return s.FromFloat32([]float32{1}, 1) }},
		{"from int64", func() *Tensor { return s.FromInt64([]int64{1}, 1) }},
	}
	for _, tt := range later {
		got := tt.op()
		if got == nil {
			t.Errorf("%s: nil tensor, want an invalid one", tt.name)
			continue
		}
		if got.Valid() {
			t.Errorf("%s after a failure: valid tensor", tt.name)
		}
		if got.Shape() != nil {
			t.Errorf("%s after a failure: shape %v, want nil", tt.name, got.Shape())
		}
	}
	if s.Err() != first {
		t.Errorf("Err changed from %v to %v", first, s.Err())
	}
	if n := s.Len(); n != live {
		t.Errorf("Len went from %d to %d: ops ran after the failure", live, n)
	}
	// Reading a failed result is an error, not a crash.
	if _, err := bad.Float32(); err == nil {
		t.Error("Float32 of a failed result: no error")
	}
	if _, err := bad.Int64(); err == nil {
		t.Error("Int64 of a failed result: no error")
	}
	if _, err := bad.Item(); err == nil {
		t.Error("Item of a failed result: no error")
	}
	if err := bad.Backward(); err == nil {
		t.Error("Backward of a failed result: no error")
	}
	s.Close()
	if n := s.Len(); n != 0 {
		t.Errorf("Len after Close = %d, want 0", n)
	}
}

func TestFreedInput(t *testing.T) {
	s := newScope(t)
	a := s.Full(1, 2)
	a.Free()
	if got := s.Relu(a); got.Valid() {
		t.Error("Relu of a freed tensor: valid result")
	}
	err := s.Err()
	if err == nil || !strings.Contains(err.Error(), "relu") || !strings.Contains(err.Error(), "freed") {
		t.Errorf("Err = %v, want a relu error about a freed input", err)
	}
	t.Run("nil", func(t *testing.T) {
		s := newScope(t)
		if got := s.Add(s.Full(1, 2), nil); got.Valid() {
			t.Error("Add with nil: valid result")
		}
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), "add") {
			t.Errorf("Err = %v, want an add error", err)
		}
	})
}

// Methods of Tensor on a failed op's result must report an error rather
// than crash in C++.
func TestInvalidTensorMethods(t *testing.T) {
	s := newScope(t)
	good := s.Full(1, 2)
	bad := s.Matmul(good, s.Full(1, 3)) // fails
	if s.Err() == nil {
		t.Fatal("Matmul [2]·[3]: no error")
	}
	if err := bad.CopyFrom(good); err == nil {
		t.Error("CopyFrom into invalid: no error")
	}
	if err := good.CopyFrom(bad); err == nil {
		t.Error("CopyFrom from invalid: no error")
	}
	if err := bad.Lerp(good, 0.5); err == nil {
		t.Error("Lerp of invalid: no error")
	}
	if err := good.Lerp(bad, 0.5); err == nil {
		t.Error("Lerp toward invalid: no error")
	}
	if x, err := bad.To(CPU); err == nil {
		x.Free()
		t.Error("To of invalid: no error")
	}
	if err := bad.SetRequiresGrad(true); err == nil {
		t.Error("SetRequiresGrad of invalid: no error")
	}
	if bad.RequiresGrad() {
		t.Error("invalid tensor RequiresGrad")
	}
	if g, err := bad.Grad(); err == nil || g != nil {
		t.Errorf("Grad of invalid = %v, %v; want nil and an error", g, err)
	}
	bad.ClearGrad()
	if err := ZeroGrads([]*Tensor{good, bad}); err == nil {
		t.Error("ZeroGrads with an invalid tensor: no error")
	}
	checkTensor(t, "good after failures", good, shp(2), []float64{1, 1}, 0)
}

func TestFromDataErrors(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		shape []int64
	}{
		{"short", 5, shp(2, 3)},
		{"long", 7, shp(2, 3)},
		{"scalar", 2, shp()},
		{"empty", 1, shp(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := FromFloat32(make([]float32, tt.n), tt.shape...)
			if err == nil {
				x.Free()
				t.Fatalf("FromFloat32(%d values, %v): no error", tt.n, tt.shape)
			}
			if x != nil {
				t.Errorf("FromFloat32 returned a tensor with its error")
			}
			if !strings.Contains(err.Error(), "torch:") {
				t.Errorf("error %q lacks the torch: prefix", err)
			}
			y, err := FromInt64(make([]int64, tt.n), tt.shape...)
			if err == nil {
				y.Free()
				t.Fatalf("FromInt64(%d values, %v): no error", tt.n, tt.shape)
			}

			s := newScope(t)
			if got := s.FromFloat32(make([]float32, tt.n), tt.shape...); got.Valid() {
				t.Error("Scope.FromFloat32 with the wrong length: valid tensor")
			}
			if s.Err() == nil {
				t.Error("Scope.FromFloat32 with the wrong length: Err is nil")
			}
			if n := s.Len(); n != 0 {
				t.Errorf("scope owns %d tensors after a failed FromFloat32", n)
			}
		})
	}
	if _, err := FromFloat32([]float32{1, 2}, -1, -2); err == nil {
		t.Error("FromFloat32 with negative dims: no error")
	}
	if _, err := Full(0, -3); err == nil {
		t.Error("Full with a negative dim: no error")
	}
}

func TestCatOfNothing(t *testing.T) {
	s := newScope(t)
	if got := s.Cat(0); got.Valid() {
		t.Error("Cat of no tensors: valid result")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "cat") {
		t.Errorf("Err = %v, want a cat error", err)
	}
}

func TestBackwardErrors(t *testing.T) {
	s := newScope(t)
	x := s.Full(1, 2)
	// Nothing requires grad.
	if err := s.Sum(x, false).Backward(); err == nil {
		t.Error("Backward with no grad graph: no error")
	}
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	// A non-scalar result needs an explicit gradient, which Backward does
	// not take.
	err := s.MulScalar(x, 2).Backward()
	if err == nil {
		t.Error("Backward of a [2] tensor: no error")
	} else if !strings.Contains(err.Error(), "[2]") || strings.Contains(err.Error(), "Exception raised from") {
		t.Errorf("Backward error %q: want the shape and no backtrace", err)
	}
	if err := s.Err(); err != nil {
		t.Errorf("scope error %v after op-free failures", err)
	}
}

func TestSetRequiresGradErrors(t *testing.T) {
	s := newScope(t)
	// Integer tensors cannot require grad.
	if err := i64(t, s, []int64{1}, 1).SetRequiresGrad(true); err == nil {
		t.Error("SetRequiresGrad on int64: no error")
	}
}
