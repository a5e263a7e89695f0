package finetune

import (
	"math/rand/v2"
	"testing"

	"ganshift/assets"
	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/torch"
)

// benchStep times Step on nets prepared as a run prepares them: "before"
// with D and C unfrozen again and attention by matrix products (the code
// before Freeze and conv attention), "frozen" with Freeze only, "after"
// with both.
// "after-bf16" adds bfloat16 autocast of D and C.
//
// These compare variants with each other. go test runs benchmarks on
// goroutines that move between OS threads, and each thread that runs
// libtorch work starts its own OpenMP team, after which libgomp's workers
// sleep between parallel regions instead of spinning (see the init of
// cmd/ganshift): small steps time up to 2× slower here than in
// `ganshift bench`, which is the measurement to quote.
func benchStep(b *testing.B, nets Nets, batch int) {
	defer func() { biggan.AttentionMatmul = false }()
	for _, v := range []struct {
		name                 string
		frozen, matmul, bf16 bool
	}{{"before", false, true, false}, {"frozen", true, true, false}, {"after", true, false, false}, {"after-bf16", true, false, true}} {
		if v.bf16 && !torch.BF16Supported() {
			continue
		}
		biggan.AttentionMatmul = v.matmul
		b.Run(v.name, func(b *testing.B) { benchStep1(b, nets, batch, v.frozen, v.bf16) })
	}
}

func benchStep1(b *testing.B, nets Nets, batch int, frozen, bf16 bool) {
	vars, err := Prepare(nets, nil)
	if err != nil {
		b.Fatal(err)
	}
	if !frozen {
		nets.D.Unfreeze()
		nets.C.Unfreeze()
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	o := Defaults()
	o.Batch = batch
	o.AutocastBF16 = bf16
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
	nets := nets128(b)
	defer freeNets(nets)
	benchStep(b, nets, 9)
}

// BenchmarkParts128 splits the 128×128 step of BenchmarkStep128 into its
// networks: G's forward and backward to its parameters, and D's and C's
// forward and backward to the image, frozen.
func BenchmarkParts128(b *testing.B) {
	nets := nets128(b)
	defer freeNets(nets)
	vars, err := Prepare(nets, nil)
	if err != nil {
		b.Fatal(err)
	}
	var gts []*torch.Tensor
	for _, v := range vars {
		gts = append(gts, v.T)
	}
	o := Defaults()
	rng := rand.New(rand.NewPCG(1, 1))
	cfg := nets.G.Cfg
	zs, ys := Latents(rng, 9, cfg.DimZ, cfg.NClasses, o)
	img := make([]float32, 9*3*128*128)
	for i := range img {
		img[i] = float32(rng.Float64()*2 - 1)
	}
	for _, mm := range []bool{true, false} {
		biggan.AttentionMatmul = mm
		name := "conv-attention"
		if mm {
			name = "matmul-attention"
		}
		b.Run(name, func(b *testing.B) { parts(b, nets.G, nets.D, nets.C, cfg, zs, ys, img, gts) })
	}
	biggan.AttentionMatmul = false
}

func parts(b *testing.B, g *biggan.Generator, d *biggan.Discriminator, c *classifier.Net, cfg biggan.Config, zs []float32, ys []int64, img []float32, gts []*torch.Tensor) {
	run := func(b *testing.B, f func(s *torch.Scope) *torch.Tensor) {
		for range b.N {
			s := torch.NewScope()
			loss := f(s)
			if err := s.Err(); err != nil {
				b.Fatal(err)
			}
			if err := loss.Backward(); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
		torch.ZeroGrads(gts)
	}
	image := func(s *torch.Scope) *torch.Tensor {
		x := s.FromFloat32(img, 9, 3, 128, 128)
		x.SetRequiresGrad(true)
		return x
	}
	b.Run("G", func(b *testing.B) {
		run(b, func(s *torch.Scope) *torch.Tensor {
			x := g.Sample(s, s.FromFloat32(zs, 9, int64(cfg.DimZ)), s.FromInt64(ys, 9), true)
			return s.Mean(x, false)
		})
	})
	b.Run("D", func(b *testing.B) {
		run(b, func(s *torch.Scope) *torch.Tensor {
			return s.Mean(d.Forward(s, image(s), s.FromInt64(ys, 9), false), false)
		})
	})
	b.Run("C", func(b *testing.B) {
		run(b, func(s *torch.Scope) *torch.Tensor {
			return s.Mean(c.Classify(s, image(s)), false)
		})
	})
}

// nets128 builds the width-32 128×128 BigGAN and base-width-16 ResNet-18
// of the 128×128 benchmarks.
func nets128(b *testing.B) Nets {
	b.Helper()
	cfg := biggan.Config{Resolution: 128, GCh: 32, DCh: 32, DimZ: 120, SharedDim: 128, NClasses: 10, GAttn: []int{64}, DAttn: []int{64}}
	g, err := biggan.NewGenerator(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	d, err := biggan.NewDiscriminator(cfg, 2)
	if err != nil {
		g.Free()
		b.Fatal(err)
	}
	c, err := classifier.New(classifier.Config{Arch: "resnet18", Width: 16, Size: 128, Classes: 2, Target: 1}, 3)
	if err != nil {
		g.Free()
		d.Free()
		b.Fatal(err)
	}
	return Nets{G: g, D: d, C: c}
}

func freeNets(n Nets) {
	n.G.Free()
	n.D.Free()
	n.C.Free()
}
