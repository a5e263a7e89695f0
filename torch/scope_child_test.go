package torch

import (
	"strings"
	"testing"
)

func TestChildScope(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := s.Full(2, 2, 3)

	c := s.Child()
	y := c.Relu(c.AddScalar(c.MulScalar(x, 3), -1))
	got := c.Return(s, y)
	if c.Len() != 0 {
		t.Errorf("child still owns %d tensors after Return", c.Len())
	}
	if s.Len() != 2 {
		t.Errorf("parent owns %d tensors, want 2 (x and the result)", s.Len())
	}
	v, err := got.Float32()
	if err != nil {
		t.Fatal(err)
	}
	if v[0] != 5 {
		t.Errorf("result %v, want 5", v[0])
	}

	// Gradients flow through tensors whose handles a child freed.
	w := s.Full(1, 3)
	if err := w.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	c = s.Child()
	h := c.Mul(c.Square(w), c.Full(2, 3))
	loss := s.Sum(c.Return(s, h), false)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := w.Grad()
	if err != nil || g == nil {
		t.Fatalf("no gradient: %v", err)
	}
	defer g.Free()
	gv, _ := g.Float32()
	if gv[0] != 4 {
		t.Errorf("d/dw sum(2w²) at w=1 = %v, want 4", gv[0])
	}

	// A child's error reaches the parent.
	c = s.Child()
	bad := c.Matmul(c.Full(1, 2, 3), c.Full(1, 2, 3))
	c.Return(s, bad)
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "matmul") {
		t.Errorf("parent error %v, want the child's matmul error", s.Err())
	}
}
