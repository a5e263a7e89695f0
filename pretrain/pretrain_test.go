package pretrain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"ganshift/biggan"
	"ganshift/dataset"
	"ganshift/progress"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	os.Exit(m.Run())
}

// tiny is a few iterations of a small model on rendered digits.
func tiny(out string) Options {
	opt := Defaults()
	opt.Model = biggan.Config{Resolution: 32, GCh: 4, DCh: 4, DimZ: 16, SharedDim: 8, NClasses: 10}
	opt.Iters, opt.Batch, opt.SnapshotEvery, opt.EMAStart, opt.StandingStats = 4, 8, 2, 2, 2
	opt.Out = out
	return opt
}

func maxAbsDiff(t *testing.T, a, b *torch.Tensor) float64 {
	t.Helper()
	x, err := a.Float32()
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.Float32()
	if err != nil {
		t.Fatal(err)
	}
	var d float64
	for i := range x {
		d = max(d, float64(abs(x[i]-y[i])))
	}
	return d
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestRun(t *testing.T) {
	data, err := dataset.RenderTypeset(64, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opt := tiny(out)
	if err := Run(opt, data); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.json", "G.safetensors", "G_ema.safetensors", "D.safetensors",
		"pretrain.json", "samples_000002.png", "samples_000004.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	m, err := biggan.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()

	// D trained: its weights left their initial values.
	d0, err := biggan.NewDiscriminator(opt.Model, opt.Seed+1)
	if err != nil {
		t.Fatal(err)
	}
	defer d0.Free()
	if diff := maxAbsDiff(t, m.D.Params.Get("linear.weight"), d0.Params.Get("linear.weight")); diff == 0 {
		t.Error("D's linear.weight did not change in training")
	}
	// G_ema averages G from EMAStart on, so it is close to G but not G.
	diff := maxAbsDiff(t, m.G.Params.Get("blocks.0.0.conv1.weight"), m.GEma.Params.Get("blocks.0.0.conv1.weight"))
	if diff == 0 || diff > 0.1 {
		t.Errorf("G vs G_ema conv1 max diff %v, want small but nonzero", diff)
	}

	var rec Options
	raw, err := os.ReadFile(filepath.Join(out, "pretrain.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Iters != 4 || rec.Seed != opt.Seed || rec.Model.GCh != 4 {
		t.Errorf("pretrain.json holds %+v", rec)
	}
}

func TestInit(t *testing.T) {
	data, err := dataset.RenderTypeset(64, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := t.TempDir()
	if err := Run(tiny(first), data); err != nil {
		t.Fatal(err)
	}
	opt := tiny(t.TempDir())
	opt.Init, opt.Iters, opt.SnapshotEvery = first, 1, 1
	tr, err := newTrainer(opt, data)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.free()
	m, err := biggan.LoadDir(first)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if d := maxAbsDiff(t, tr.d.Params.Get("linear.weight"), m.D.Params.Get("linear.weight")); d != 0 {
		t.Errorf("--init did not load D: max diff %v", d)
	}
	if d := maxAbsDiff(t, tr.g.Params.Get("shared.weight"), m.G.Params.Get("shared.weight")); d != 0 {
		t.Errorf("--init did not load G: max diff %v", d)
	}
}

func TestBadData(t *testing.T) {
	small := &dataset.Images{N: 4, C: 3, H: 32, W: 32, Data: make([]float32, 4*3*32*32), Labels: make([]int, 4)}
	wrong := &dataset.Images{N: 16, C: 3, H: 28, W: 28, Data: make([]float32, 16*3*28*28), Labels: make([]int, 16)}
	for name, data := range map[string]*dataset.Images{"fewer than a batch": small, "wrong size": wrong} {
		t.Run(name, func(t *testing.T) {
			if err := Run(tiny(t.TempDir()), data); err == nil {
				t.Errorf("Run accepted %s", name)
			}
		})
	}
}
