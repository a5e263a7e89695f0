package biggan

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"

	"ganshift/checkpoint"
	"ganshift/internal/testutil"
	"ganshift/nn"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	os.Exit(m.Run())
}

// tiny is a small, fast configuration at resolution res: G width 4, D
// width 8 (D's first block at 64 and 128 must have 8 channels for
// attention), five classes, a 16-value shared embedding and 4-value z
// chunks, with attention after the G and D blocks at attn (none when 0).
func tiny(res, attn int) Config {
	c := Config{Resolution: res, GCh: 4, DCh: 8, SharedDim: 16, NClasses: 5}
	c.DimZ = 4 * (len(gArch[res][0]) + 1)
	if attn != 0 {
		c.GAttn, c.DAttn = []int{attn}, []int{attn}
	}
	return c
}

// newG builds a generator that is freed when the test ends.
func newG(t testing.TB, cfg Config, seed uint64) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg, seed)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	t.Cleanup(g.Free)
	return g
}

// newD builds a discriminator that is freed when the test ends.
func newD(t testing.TB, cfg Config, seed uint64) *Discriminator {
	t.Helper()
	d, err := NewDiscriminator(cfg, seed)
	if err != nil {
		t.Fatalf("NewDiscriminator(%+v): %v", cfg, err)
	}
	t.Cleanup(d.Free)
	return d
}

// newScope returns a scope closed when the test ends.
func newScope(t testing.TB) *torch.Scope {
	t.Helper()
	s := torch.NewScope()
	t.Cleanup(s.Close)
	return s
}

// normals returns n standard normal values from seed.
func normals(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// values reads x, failing the test on error (including an earlier error
// of the scope that made x).
func values(t testing.TB, s *torch.Scope, x *torch.Tensor) []float32 {
	t.Helper()
	return testutil.Values(t, s, x)
}

// maxAbsDiff is the largest |a_i − b_i|; +Inf when the lengths differ.
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// state snapshots p's tensors.
func state(t testing.TB, p *nn.Params) map[string]checkpoint.Tensor {
	t.Helper()
	st, err := p.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

// changed lists, sorted, the names whose values differ between a and b.
func changed(a, b map[string]checkpoint.Tensor) []string {
	var out []string
	for k, ta := range a {
		if tb, ok := b[k]; !ok || !slices.Equal(ta.Data, tb.Data) || !slices.Equal(ta.Shape, tb.Shape) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// set overwrites the tensor called name in p with data.
func set(t testing.TB, p *nn.Params, name string, data []float32) {
	t.Helper()
	testutil.SetTensor(t, name, p.Get(name), data)
}

// get reads the tensor called name in p.
func get(t testing.TB, p *nn.Params, name string) []float32 {
	t.Helper()
	x := p.Get(name)
	if x == nil {
		t.Fatalf("no tensor %q", name)
	}
	v, err := x.Float32()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// gen runs g.Forward on z (B·dim_z values) and embedded classes e
// (B·shared_dim values) in a fresh scope without autograd.
func gen(t testing.TB, g *Generator, z, e []float32, train bool) []float32 {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	b := int64(len(z) / g.Cfg.DimZ)
	x := g.Forward(s, s.FromFloat32(z, b, int64(g.Cfg.DimZ)), s.FromFloat32(e, b, int64(g.Cfg.SharedDim)), train)
	return values(t, s, x)
}

// embedding returns the shared embedding rows of classes y.
func embedding(t testing.TB, g *Generator, y ...int64) []float32 {
	t.Helper()
	e, err := g.embedRows(y)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// varNames lists the names of vars in order.
func varNames(vars []*nn.Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name
	}
	return out
}
