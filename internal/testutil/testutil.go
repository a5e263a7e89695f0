// Package testutil holds the helpers that several packages' tests share:
// reading tensors back and reading .npy fixtures made by PyTorch.
package testutil

import (
	"os"
	"testing"

	"codeberg.org/sbinet/npyio"

	"ganshift/torch"
)

// Values reads x, failing the test on error (including an earlier error
// of the scope that made x).
func Values(t testing.TB, s *torch.Scope, x *torch.Tensor) []float32 {
	t.Helper()
	if err := s.Err(); err != nil {
		t.Fatalf("scope: %v", err)
	}
	v, err := x.Float32()
	if err != nil {
		t.Fatalf("Float32: %v", err)
	}
	return v
}

// ReadNpy reads the .npy file at path into a slice of T, returning it with
// its shape.
func ReadNpy[T any](t testing.TB, path string) ([]T, []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []T
	if err := r.Read(&out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out, r.Header.Descr.Shape
}
