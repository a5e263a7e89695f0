package main

import (
	"fmt"
	"math/rand/v2"
	"os"

	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/classifier"
	"ganshift/torch"
)

func main() {
	torch.SetThreads(1)
	m, err := biggan.LoadDir(os.Args[1])
	if err != nil {
		panic(err)
	}
	judge, err := classifier.Load(os.Args[2])
	if err != nil {
		panic(err)
	}
	for _, which := range []string{"G_ema", "G"} {
		g := m.Sampler()
		if which == "G" {
			g = m.G
		}
		if len(os.Args) > 3 {
			st, _, _ := checkpoint.Load(os.Args[3])
			g.Params.Load(st, os.Args[3])
		}
		rng := rand.New(rand.NewPCG(42, 0))
		const n = 1000
		z := make([]float32, n*g.Cfg.DimZ)
		for i := range z {
			z[i] = float32(rng.NormFloat64())
		}
		y := make([]int64, n)
		for i := range y {
			y[i] = int64(i % g.Cfg.NClasses)
		}
		pix, err := g.Images(z, y, 100)
		if err != nil {
			panic(err)
		}
		if os.Getenv("TRAINMODE") != "" {
			pix = pix[:0]
			for s0 := 0; s0 < n; s0 += 100 {
				sc := torch.NewScope()
				x := g.Sample(sc, sc.FromFloat32(z[s0*g.Cfg.DimZ:(s0+100)*g.Cfg.DimZ], 100, int64(g.Cfg.DimZ)), sc.FromInt64(y[s0:s0+100], 100), true)
				v, _ := x.Float32()
				pix = append(pix, v...)
				sc.Close()
			}
		}
		per := make([]int, 10)
		agree := 0
		for s := 0; s < n; s += 100 {
			pred, _ := judge.Predict(pix[s*3072:(s+100)*3072], 100)
			for i, p := range pred {
				if p == y[s+i] {
					agree++
					per[y[s+i]]++
				}
			}
		}
		fmt.Println(which, float64(agree)/n, per)
	}
}
