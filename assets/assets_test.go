package assets

import (
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"ganshift/classifier"
	"ganshift/dataset"
	"ganshift/progress"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	os.Exit(m.Run())
}

// TestGenerateQuality is the quality bar of the shipped model: a digit
// classifier trained here (≥ 98% on MNIST's test set) must agree with the
// conditioning class on ≥ 90% of 1,000 G_ema samples.
func TestGenerateQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an MNIST classifier for two epochs")
	}
	judge := trainJudge(t)
	defer judge.Free()

	m, err := Model()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	g := m.Sampler()
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
		t.Fatal(err)
	}
	agree := 0
	for start := 0; start < n; start += 100 {
		pred, err := judge.Predict(pix[start*3*32*32:(start+100)*3*32*32], 100)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pred {
			if p == y[start+i] {
				agree++
			}
		}
	}
	got := float64(agree) / n
	t.Logf("G_ema samples classified as their conditioning class: %.3f", got)
	if got < 0.90 {
		t.Errorf("agreement %.3f, want ≥ 0.90", got)
	}
}

// trainJudge trains a fresh small CNN on MNIST and checks its accuracy.
func trainJudge(t *testing.T) *classifier.Net {
	t.Helper()
	train, err := dataset.LoadMNIST("", true)
	if err != nil {
		t.Fatal(err)
	}
	test, err := dataset.LoadMNIST("", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: 32, Classes: 10}, 7)
	if err != nil {
		t.Fatal(err)
	}
	opt := classifier.DefaultTrainOptions()
	opt.Epochs, opt.Seed = 2, 7
	hist, err := classifier.Train(c, train, test, opt, "judge")
	if err != nil {
		c.Free()
		t.Fatal(err)
	}
	acc := hist[len(hist)-1].HeldOutAcc
	t.Logf("judge MNIST test accuracy %.4f", acc)
	if acc < 0.98 {
		c.Free()
		t.Fatalf("judge accuracy %.4f, want ≥ 0.98", acc)
	}
	return c
}

// TestBackbone checks the shipped digit classifier on MNIST's test set.
func TestBackbone(t *testing.T) {
	b, err := Backbone()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	if b.Cfg.Classes != 10 || b.Cfg.Size != 32 {
		t.Fatalf("backbone config %+v, want 10 classes at 32 px", b.Cfg)
	}
	test, err := dataset.LoadMNIST("", false)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := classifier.Accuracy(b, test, 500)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backbone MNIST test accuracy %.4f", acc)
	if acc < 0.98 {
		t.Errorf("backbone accuracy %.4f, want ≥ 0.98", acc)
	}
}

// TestModelConfig pins what the README says of the shipped model.
func TestModelConfig(t *testing.T) {
	m, err := Model()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	c := m.Cfg
	if c.Resolution != 32 || c.NClasses != 10 || m.GEma == nil {
		t.Errorf("embedded model: resolution %d, %d classes, G_ema present %v; want 32, 10, true",
			c.Resolution, c.NClasses, m.GEma != nil)
	}
}
