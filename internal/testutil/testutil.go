// Package testutil holds the helpers that several packages' tests share:
// reading tensors back, reading .npy fixtures made by PyTorch, and a
// float64 oracle for spectral norms.
package testutil

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
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

// KeyListing reads a listing of tensor names and shapes, one
// "name (d0, d1, …)" per line as in biggan-format.md ('#' starts a
// comment), returning the names in file order and each one's shape.
func KeyListing(t testing.TB, file string) ([]string, map[string][]int64) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	shapes := map[string][]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, dims, ok := strings.Cut(line, " (")
		if !ok || !strings.HasSuffix(dims, ")") {
			t.Fatalf("%s: bad line %q", file, line)
		}
		shape := []int64{}
		for _, d := range strings.Split(strings.TrimSuffix(dims, ")"), ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			n, err := strconv.ParseInt(d, 10, 64)
			if err != nil {
				t.Fatalf("%s: bad line %q: %v", file, line, err)
			}
			shape = append(shape, n)
		}
		if _, dup := shapes[name]; dup {
			t.Fatalf("%s: %q listed twice", file, name)
		}
		shapes[name] = shape
		names = append(names, name)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names, shapes
}

// SetTensor overwrites the tensor t of a network with data.
func SetTensor(tb testing.TB, name string, t *torch.Tensor, data []float32) {
	tb.Helper()
	if t == nil {
		tb.Fatalf("no tensor %q", name)
	}
	src, err := torch.FromFloat32(data, t.Shape()...)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	defer src.Free()
	if err := t.CopyFrom(src); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
}

// TopSV is the largest singular value of the rows×cols matrix m (row
// major), by power iteration on mᵀm in float64 until it settles.
func TopSV(m []float32, rows, cols int) float64 {
	v := make([]float64, cols)
	for i := range v {
		v[i] = 1 + 0.01*float64(i%7)
	}
	u := make([]float64, rows)
	var sigma float64
	for it := 0; it < 20000; it++ {
		for r := range rows {
			u[r] = 0
			for c := range cols {
				u[r] += float64(m[r*cols+c]) * v[c]
			}
		}
		clear(v)
		for r := range rows {
			for c := range cols {
				v[c] += float64(m[r*cols+c]) * u[r]
			}
		}
		var n float64
		for _, x := range v {
			n += x * x
		}
		n = math.Sqrt(n)
		for c := range v {
			v[c] /= n
		}
		next := math.Sqrt(n) // ‖mᵀm v‖ → σ²
		if it > 100 && math.Abs(next-sigma) <= 1e-12*next {
			return next
		}
		sigma = next
	}
	return sigma
}
