package nn

import (
	"os"
	"runtime"
	"testing"

	"ganshift/checkpoint"
	"ganshift/internal/testutil"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	os.Exit(m.Run())
}

// sample registers a small network of every kind of tensor:
//
//	blocks.0.0.conv1.{weight (4,3,3,3), bias (4), u0 (1,4), sv0 (1)}
//	blocks.0.0.bn1.gain.{weight (3,6), u0 (1,3), sv0 (1)}
//	blocks.0.0.bn1.{stored_mean, stored_var} (3)
//	blocks.1.0.bn2.bias.{weight (2,6), u0 (1,2), sv0 (1)}
//	linear.{weight (2,5), bias (2), u0 (1,2), sv0 (1)}
//	embed.{weight (7,2), u0 (1,7), sv0 (1)}
//	shared.weight (7,3)
//	gamma ()
func sample(t testing.TB, seed uint64) *Params {
	t.Helper()
	p := NewParams(seed)
	NewSNConv(p, "blocks.0.0.conv1", 3, 4, 3, true, 1e-6)
	NewSNLinear(p, "blocks.0.0.bn1.gain", 6, 3, false, 1e-6)
	p.Buffer("blocks.0.0.bn1.stored_mean", 0, 3)
	p.Buffer("blocks.0.0.bn1.stored_var", 1, 3)
	NewSNLinear(p, "blocks.1.0.bn2.bias", 6, 2, false, 1e-6)
	NewSNLinear(p, "linear", 5, 2, true, 1e-6)
	NewSNEmbedding(p, "embed", 7, 2, 1e-6)
	p.Normal("shared.weight", 1, 7, 3)
	p.Const("gamma", 0.25)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Free)
	return p
}

// sampleParams lists sample's parameters (not buffers) in order.
var sampleParams = []string{
	"blocks.0.0.conv1.weight", "blocks.0.0.conv1.bias",
	"blocks.0.0.bn1.gain.weight", "blocks.1.0.bn2.bias.weight",
	"linear.weight", "linear.bias", "embed.weight", "shared.weight", "gamma",
}

func newScope(t testing.TB) *torch.Scope {
	t.Helper()
	s := torch.NewScope()
	t.Cleanup(s.Close)
	return s
}

// values reads x, failing the test on error (including an earlier error
// of the scope that made x).
func values(t testing.TB, s *torch.Scope, x *torch.Tensor) []float32 {
	t.Helper()
	return testutil.Values(t, s, x)
}

// read reads a tensor of p.
func read(t testing.TB, p *Params, name string) []float32 {
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

// write overwrites a tensor of p.
func write(t testing.TB, p *Params, name string, data []float32) {
	t.Helper()
	testutil.SetTensor(t, name, p.Get(name), data)
}

func snapshot(t testing.TB, p *Params) map[string]checkpoint.Tensor {
	t.Helper()
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
