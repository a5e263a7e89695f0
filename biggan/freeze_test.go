package biggan

import (
	"strings"
	"testing"

	"ganshift/nn"
	"ganshift/torch"
)

// scoreAndGrad runs D in eval mode on x (requiring grad) and returns the
// scores and the gradient of a fixed weighting of them w.r.t. x.
func scoreAndGrad(t *testing.T, d *Discriminator, xs []float32, ys []int64, shape []int64, train bool) (score, grad []float32) {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	x := s.FromFloat32(xs, shape...)
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	y := s.FromInt64(ys, int64(len(ys)))
	out := d.Forward(s, x, y, train)
	w := s.FromFloat32(normals(9, len(ys)), int64(len(ys)), 1)
	loss := s.Sum(s.Mul(out, w), false)
	score = values(t, s, out)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := x.Grad()
	if err != nil || g == nil {
		t.Fatalf("no input gradient: %v", err)
	}
	defer g.Free()
	if grad, err = g.Float32(); err != nil {
		t.Fatal(err)
	}
	return score, grad
}

func TestFreezeD(t *testing.T) {
	cfg := tiny(64, 32)
	d := newD(t, cfg, 4)
	ref := newD(t, cfg, 4) // never frozen
	for _, n := range []*Discriminator{d, ref} {
		if err := n.Params.SetRequiresGrad(nil); err != nil {
			t.Fatal(err)
		}
	}
	shape := []int64{3, 3, 64, 64}
	xs := normals(5, 3*3*64*64)
	ys := []int64{0, 3, 4}

	before := state(t, d.Params)
	wantS, wantG := scoreAndGrad(t, d, xs, ys, shape, false)
	if err := d.Freeze(); err != nil {
		t.Fatal(err)
	}
	for _, sn := range d.sns() {
		if !sn.Current() {
			t.Fatal("an SN layer has no current frozen weight after Freeze")
		}
	}
	gotS, gotG := scoreAndGrad(t, d, xs, ys, shape, false)
	if diff := maxAbsDiff(gotS, wantS); diff > 1e-5 {
		t.Errorf("frozen scores differ by %g", diff)
	}
	if diff := maxAbsDiff(gotG, wantG); diff > 1e-5 {
		t.Errorf("frozen input gradients differ by %g", diff)
	}
	t.Logf("frozen vs unfrozen: scores %g, input grads %g", maxAbsDiff(gotS, wantS), maxAbsDiff(gotG, wantG))
	if c := changed(before, state(t, d.Params)); len(c) > 0 {
		t.Errorf("Freeze or frozen forwards changed %v", c)
	}
	for _, v := range d.Params.Vars() {
		if g, _ := v.T.Grad(); g != nil {
			g.Free()
			t.Errorf("%s got a gradient through the frozen D", v.Name)
		}
	}

	// A training forward updates u: the frozen weights are stale and D
	// must fall back to the full computation, matching a D never frozen.
	scoreAndGrad(t, d, xs, ys, shape, true)
	scoreAndGrad(t, ref, xs, ys, shape, true)
	if d.linear.Current() {
		t.Error("frozen weight still current after a training forward updated u")
	}
	gotS, _ = scoreAndGrad(t, d, xs, ys, shape, false)
	wantS, _ = scoreAndGrad(t, ref, xs, ys, shape, false)
	if diff := maxAbsDiff(gotS, wantS); diff != 0 {
		t.Errorf("after training, stale frozen D differs from unfrozen D by %g", diff)
	}
	d.Unfreeze()
	for _, sn := range d.sns() {
		if sn.Current() {
			t.Fatal("Unfreeze left a frozen weight")
		}
	}
}

// TestAttentionConvMatchesMatmul checks that attention by grouped 1×1
// convolutions equals the reference's batched matrix products up to float
// rounding, in D's scores and input gradients and in G's samples.
func TestAttentionConvMatchesMatmul(t *testing.T) {
	cfg := tiny(64, 32)
	d := newD(t, cfg, 4)
	g := newG(t, cfg, 5)
	for _, p := range []struct {
		params interface{ Vars() []*nn.Var }
	}{{d.Params}, {g.Params}} {
		for _, v := range p.params.Vars() {
			if strings.HasSuffix(v.Name, ".gamma") {
				src, err := torch.FromFloat32([]float32{0.8}, v.T.Shape()...)
				if err != nil {
					t.Fatal(err)
				}
				err = v.T.CopyFrom(src)
				src.Free()
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	shape := []int64{3, 3, 64, 64}
	xs := normals(5, 3*3*64*64)
	ys := []int64{0, 3, 4}
	z := normals(6, 3*cfg.DimZ)
	e := normals(7, 3*cfg.SharedDim)

	convS, convG := scoreAndGrad(t, d, xs, ys, shape, false)
	convX := gen(t, g, z, e, false)
	AttentionMatmul = true
	defer func() { AttentionMatmul = false }()
	mmS, mmG := scoreAndGrad(t, d, xs, ys, shape, false)
	mmX := gen(t, g, z, e, false)

	ds, dg, dx := maxAbsDiff(convS, mmS), maxAbsDiff(convG, mmG), maxAbsDiff(convX, mmX)
	t.Logf("conv vs matmul attention: D scores %.3g, D input grads %.3g, G samples %.3g", ds, dg, dx)
	if ds > 1e-4 || dg > 1e-5 || dx > 1e-5 {
		t.Errorf("attention by convolution differs from matmul: D scores %g, D input grads %g, G samples %g", ds, dg, dx)
	}
	if maxAbsDiff(convS, scoresWithoutAttention(t, d, xs, ys, shape)) < 1e-3 {
		t.Error("attention has no visible effect on the scores: the test shows nothing")
	}
}

// scoresWithoutAttention scores x with every gamma of D set to 0 (and
// restores them).
func scoresWithoutAttention(t *testing.T, d *Discriminator, xs []float32, ys []int64, shape []int64) []float32 {
	t.Helper()
	var saved []*nn.Var
	for _, v := range d.Params.Vars() {
		if strings.HasSuffix(v.Name, ".gamma") {
			saved = append(saved, v)
		}
	}
	old := make([][]float32, len(saved))
	for i, v := range saved {
		old[i] = get(t, d.Params, v.Name)
		set(t, d.Params, v.Name, []float32{0})
	}
	sc, _ := scoreAndGrad(t, d, xs, ys, shape, false)
	for i, v := range saved {
		set(t, d.Params, v.Name, old[i])
	}
	return sc
}
