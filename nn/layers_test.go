package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"ganshift/internal/testutil"
	"ganshift/torch"
)

func normals(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// powerStep is the reference's one power iteration on W (rows×cols) from
// u: v = n(u·W), u' = n(v·Wᵀ), sigma = u'·W·vᵀ, n(x) = x / max(‖x‖, eps).
func powerStep(w, u []float32, rows, cols int, eps float64) (u2, v []float64, sigma float64) {
	norm := func(x []float64) {
		var n float64
		for _, a := range x {
			n += a * a
		}
		n = max(math.Sqrt(n), eps)
		for i := range x {
			x[i] /= n
		}
	}
	v = make([]float64, cols)
	for c := range cols {
		for r := range rows {
			v[c] += float64(u[r]) * float64(w[r*cols+c])
		}
	}
	norm(v)
	u2 = make([]float64, rows)
	for r := range rows {
		for c := range cols {
			u2[r] += v[c] * float64(w[r*cols+c])
		}
	}
	norm(u2)
	for r := range rows {
		for c := range cols {
			sigma += u2[r] * float64(w[r*cols+c]) * v[c]
		}
	}
	return u2, v, sigma
}

func closeTo(got []float32, want []float64, tol float64) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*(1+math.Abs(want[i])) {
			return i, false
		}
	}
	return 0, true
}

func TestSNLinear(t *testing.T) {
	for _, eps := range []float64{1e-6, 10} {
		for _, train := range []bool{false, true} {
			t.Run(fmt.Sprintf("eps=%g/train=%v", eps, train), func(t *testing.T) {
				const in, out, b = 5, 3, 2
				p := NewParams(4)
				t.Cleanup(p.Free)
				l := NewSNLinear(p, "l", in, out, true, eps)
				if err := p.Err(); err != nil {
					t.Fatal(err)
				}
				bias := []float32{0.1, -0.2, 0.3}
				write(t, p, "l.bias", bias)
				w, u := read(t, p, "l.weight"), read(t, p, "l.u0")
				u2, _, sigma := powerStep(w, u, out, in, eps)
				x := normals(1, b*in)

				s := newScope(t)
				got := values(t, s, l.Forward(s, s.FromFloat32(x, b, in), train))
				want := make([]float64, b*out)
				for i := range b {
					for o := range out {
						want[i*out+o] = float64(bias[o])
						for k := range in {
							want[i*out+o] += float64(x[i*in+k]) * float64(w[o*in+k]) / sigma
						}
					}
				}
				if i, ok := closeTo(got, want, 1e-5); !ok {
					t.Errorf("output[%d]: got %v, want %v", i, got, want)
				}
				gotU, gotSV := read(t, p, "l.u0"), read(t, p, "l.sv0")
				if train {
					if i, ok := closeTo(gotU, u2, 1e-5); !ok {
						t.Errorf("u0[%d] after a train forward: %v, want %v", i, gotU, u2)
					}
					if _, ok := closeTo(gotSV, []float64{sigma}, 1e-5); !ok {
						t.Errorf("sv0 after a train forward: %v, want %v", gotSV, sigma)
					}
				} else {
					if !slices.Equal(gotU, u) || !slices.Equal(gotSV, []float32{1}) {
						t.Errorf("eval forward changed u0 %v → %v or sv0 1 → %v", u, gotU, gotSV)
					}
				}
			})
		}
	}
}

func TestSNEmbedding(t *testing.T) {
	p := NewParams(5)
	t.Cleanup(p.Free)
	e := NewSNEmbedding(p, "embed", 7, 4, 1e-6)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	w, u := read(t, p, "embed.weight"), read(t, p, "embed.u0")
	_, _, sigma := powerStep(w, u, 7, 4, 1e-6)
	y := []int64{6, 0, 6, 3}
	s := newScope(t)
	got := values(t, s, e.Forward(s, s.FromInt64(y, 4), false))
	var want []float64
	for _, c := range y {
		for k := range 4 {
			want = append(want, float64(w[int(c)*4+k])/sigma)
		}
	}
	if i, ok := closeTo(got, want, 1e-5); !ok {
		t.Errorf("value %d: got %v, want %v", i, got, want)
	}
}

func TestSNConv(t *testing.T) {
	for _, k := range []int64{1, 3} {
		t.Run(fmt.Sprintf("%dx%d", k, k), func(t *testing.T) {
			const in, out, h, wd = 2, 3, 4, 5
			p := NewParams(6)
			t.Cleanup(p.Free)
			bias := k == 3
			c := NewSNConv(p, "conv", in, out, k, bias, 1e-6)
			if err := p.Err(); err != nil {
				t.Fatal(err)
			}
			if got := p.Get("conv.bias") != nil; got != bias {
				t.Fatalf("conv.bias registered: %v, want %v", got, bias)
			}
			var b []float32
			if bias {
				b = []float32{0.5, -1, 2}
				write(t, p, "conv.bias", b)
			}
			w, u := read(t, p, "conv.weight"), read(t, p, "conv.u0")
			_, _, sigma := powerStep(w, u, out, len(w)/out, 1e-6)
			x := normals(2, in*h*wd)

			s := newScope(t)
			y := c.Forward(s, s.FromFloat32(x, 1, in, h, wd), false)
			got := values(t, s, y)
			if shape := y.Shape(); !slices.Equal(shape, []int64{1, out, h, wd}) {
				t.Fatalf("output shape %v, want [1 %d %d %d]", shape, out, h, wd)
			}
			kk, pad := int(k), int(k/2)
			want := make([]float64, out*h*wd)
			for o := range out {
				for i := range h {
					for j := range wd {
						var acc float64
						if bias {
							acc = float64(b[o])
						}
						for ci := range in {
							for di := range kk {
								for dj := range kk {
									ii, jj := i+di-pad, j+dj-pad
									if ii < 0 || ii >= h || jj < 0 || jj >= wd {
										continue
									}
									acc += float64(x[(ci*h+ii)*wd+jj]) * float64(w[((o*in+ci)*kk+di)*kk+dj]) / sigma
								}
							}
						}
						want[(o*h+i)*wd+j] = acc
					}
				}
			}
			if i, ok := closeTo(got, want, 1e-5); !ok {
				t.Errorf("output[%d] = %v, want %v", i, got[i], want[i])
			}
		})
	}
}

// TestSNGradient: gradients flow through W and sigma with the power
// iteration's u and v held constant, so for L = Σ W/σ,
// ∂L/∂W = 1/σ − (ΣW/σ²)·u'vᵀ.
func TestSNGradient(t *testing.T) {
	const rows, cols = 4, 6
	p := NewParams(7)
	t.Cleanup(p.Free)
	l := NewSNLinear(p, "l", cols, rows, false, 1e-6)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.SetRequiresGrad([]*Var{p.Vars()[0]}); err != nil {
		t.Fatal(err)
	}
	w, u := read(t, p, "l.weight"), read(t, p, "l.u0")
	u2, v, sigma := powerStep(w, u, rows, cols, 1e-6)
	var sum float64
	for _, x := range w {
		sum += float64(x)
	}

	s := newScope(t)
	loss := s.Sum(l.Weight(s, true), false)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := l.W.Grad()
	if err != nil || g == nil {
		t.Fatalf("no gradient for the weight (%v)", err)
	}
	defer g.Free()
	got, err := g.Float32()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			want[r*cols+c] = 1/sigma - sum/(sigma*sigma)*u2[r]*v[c]
		}
	}
	if i, ok := closeTo(got, want, 1e-4); !ok {
		t.Errorf("gradient[%d]: got %v, want %v", i, got, want)
	}
	if l.U.RequiresGrad() || l.SV.RequiresGrad() {
		t.Errorf("u0 or sv0 requires grad after a train forward")
	}
}

// TestSNConverges: the stored u, refined once per train forward, converges
// to the top singular vector, and the normalised weight to spectral norm 1.
func TestSNConverges(t *testing.T) {
	const rows, cols = 8, 12
	p := NewParams(8)
	t.Cleanup(p.Free)
	l := NewSNLinear(p, "l", cols, rows, true, 1e-6)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	want := testutil.TopSV(read(t, p, "l.weight"), rows, cols)
	for range 300 {
		s := torch.NewScope()
		l.Weight(s, true)
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if got := float64(read(t, p, "l.sv0")[0]); math.Abs(got-want) > 1e-4*want {
		t.Errorf("sv0 = %v after 300 iterations, top singular value %v", got, want)
	}
	s := newScope(t)
	wn := values(t, s, l.Weight(s, false))
	if got := testutil.TopSV(wn, rows, cols); math.Abs(got-1) > 1e-4 {
		t.Errorf("normalised weight has spectral norm %v, want 1", got)
	}
}
