package finetune

import (
	"math/rand/v2"
	"testing"

	"ganshift/assets"
	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/torch"
)

// benchStep times Step on nets prepared as a run prepares them.
func benchStep(b *testing.B, nets Nets, batch int) {
	b.Helper()
	vars, err := Prepare(nets, nil)
	if err != nil {
		b.Fatal(err)
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	o := Defaults()
	o.Batch = batch
	adam, err := torch.NewAdam(ts, o.LR, o.Beta1, o.Beta2, o.AdamEps)
	if err != nil {
		b.Fatal(err)
	}
	defer adam.Free()
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := Step(nets, adam, rng, o); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Step(nets, adam, rng, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepDemo is one demo-size step: the embedded 32×32 MNIST BigGAN
// and a small CNN classifier, batch 9.
func BenchmarkStepDemo(b *testing.B) {
	m, err := assets.Model()
	if err != nil {
		b.Fatal(err)
	}
	defer m.G.Free()
	defer m.D.Free()
	if m.GEma != nil {
		defer m.GEma.Free()
	}
	c, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: 32, Classes: 2, Target: 1}, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Free()
	benchStep(b, Nets{G: m.G, D: m.D, C: c}, 9)
}

// BenchmarkStep128 is one step of a width-32 128×128 BigGAN with a
// base-width-16 ResNet-18 classifier at 128×128, batch 9.
func BenchmarkStep128(b *testing.B) {
	cfg := biggan.Config{Resolution: 128, GCh: 32, DCh: 32, DimZ: 120, SharedDim: 128, NClasses: 10, GAttn: []int{64}, DAttn: []int{64}}
	g, err := biggan.NewGenerator(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.NewDiscriminator(cfg, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Free()
	c, err := classifier.New(classifier.Config{Arch: "resnet18", Width: 16, Size: 128, Classes: 2, Target: 1}, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Free()
	benchStep(b, Nets{G: g, D: d, C: c}, 9)
}
