package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/finetune"
	"ganshift/nn"
)

// sameTensors fails t unless the safetensors files a and b hold the same
// keys, shapes and values.
func sameTensors(t *testing.T, a, b string) {
	t.Helper()
	sa, _, err := checkpoint.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _, err := checkpoint.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != len(sb) {
		t.Errorf("%s has %d tensors, %s %d", a, len(sa), b, len(sb))
	}
	for k, ta := range sa {
		tb, ok := sb[k]
		switch {
		case !ok:
			t.Errorf("%s has %q, %s does not", a, k, b)
		case !slices.Equal(ta.Shape, tb.Shape):
			t.Errorf("%q: shape %v in %s, %v in %s", k, ta.Shape, a, tb.Shape, b)
		case !slices.Equal(ta.Data, tb.Data):
			t.Errorf("%q: values differ between %s and %s", k, a, b)
		}
	}
}

// noTempLeft fails t if dir holds anything but want.
func noTempLeft(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := listDir(t, dir)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %v, want %v", dir, got, want)
	}
}

func TestExport(t *testing.T) {
	f := fixtures(t)
	tmp := t.TempDir()
	run := filepath.Join(tmp, "run")
	if _, err := ganshift(t, "finetune", "--model", f.model, "--classifier", f.cls, "--iters", "2",
		"--snapshot-every", "1", "--batch", "2", "--seed", "4", "--lr", "0.01", "--out", run); err != nil {
		t.Fatal(err)
	}
	models := filepath.Join(tmp, "models")
	last := filepath.Join(models, "last")
	stdout, err := ganshift(t, "export", "--run", run, "--out", last)
	if err != nil {
		t.Fatal(err)
	}
	if want := "at iteration 2 to " + last; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q, want it to say %q", stdout, want)
	}

	t.Run("files", func(t *testing.T) {
		noTempLeft(t, last, "D.safetensors", "G.safetensors", "G_ema.safetensors", "model.json")
		noTempLeft(t, models, "last")
	})

	t.Run("weights", func(t *testing.T) {
		snapG := filepath.Join(finetune.SnapshotDir(run, 2), "G.safetensors")
		sameTensors(t, filepath.Join(last, "G.safetensors"), snapG)
		sameTensors(t, filepath.Join(last, "G_ema.safetensors"), snapG)
		sameTensors(t, filepath.Join(last, "D.safetensors"), filepath.Join(f.model, "D.safetensors"))
	})

	t.Run("model.json", func(t *testing.T) {
		var js struct {
			Config     biggan.Config `json:"config"`
			Provenance struct {
				Command   string             `json:"command"`
				Run       string             `json:"run"`
				Iteration int                `json:"iteration"`
				G         string             `json:"G"`
				RunConfig finetune.RunConfig `json:"run_config"`
			} `json:"provenance"`
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(last, "model.json")), &js); err != nil {
			t.Fatal(err)
		}
		p := js.Provenance
		if p.Command != "export" || p.Run != run || p.Iteration != 2 || !strings.Contains(p.G, "G_ema") {
			t.Errorf("provenance command %q run %q iteration %d G %q, want export, %s, 2, naming G_ema", p.Command, p.Run, p.Iteration, p.G, run)
		}
		if rc := p.RunConfig; rc.Model != f.model || rc.Classifier != f.cls || rc.Options.Seed != 4 || rc.Options.Iters != 2 {
			t.Errorf("provenance run_config model %q classifier %q seed %d iters %d", rc.Model, rc.Classifier, rc.Options.Seed, rc.Options.Iters)
		}
		if js.Config.GCh != smallCfg.GCh || js.Config.DCh != smallCfg.DCh || js.Config.NClasses != smallCfg.NClasses {
			t.Errorf("config %+v, want the base model's %+v", js.Config, smallCfg)
		}
	})

	t.Run("samples like the snapshot", func(t *testing.T) {
		draw := func(model string) []byte {
			t.Helper()
			out := filepath.Join(t.TempDir(), "S")
			if _, err := ganshift(t, "sample", "--model", model, "--n", "2", "--out", out); err != nil {
				t.Fatalf("sample --model %s: %v", model, err)
			}
			return readFile(t, filepath.Join(out, "grid.png"))
		}
		exported := draw(last)
		if !bytes.Equal(exported, draw(run)) {
			t.Error("the export draws a different grid from the run's last snapshot")
		}
		if bytes.Equal(exported, draw(f.model)) {
			t.Error("the export draws the same grid as the base model: the weights are not the fine-tuned ones")
		}
	})

	t.Run("--iter", func(t *testing.T) {
		out := filepath.Join(models, "one")
		if _, err := ganshift(t, "export", "--run", run, "--iter", "1", "--out", out); err != nil {
			t.Fatal(err)
		}
		sameTensors(t, filepath.Join(out, "G.safetensors"), filepath.Join(finetune.SnapshotDir(run, 1), "G.safetensors"))
	})

	t.Run("into an empty directory", func(t *testing.T) {
		out := filepath.Join(tmp, "empty")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := ganshift(t, "export", "--run", run, "--out", out); err != nil {
			t.Fatal(err)
		}
		noTempLeft(t, out, "D.safetensors", "G.safetensors", "G_ema.safetensors", "model.json")
	})

	// A run whose model has gone: a copy of the run pointing elsewhere.
	orphan := filepath.Join(tmp, "orphan")
	cfg, err := finetune.ReadConfig(run)
	if err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(tmp, "gone-model")
	cfg.Model = gone
	raw, _ := json.Marshal(cfg)
	snap := finetune.SnapshotDir(orphan, 2)
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "G.safetensors"), readFile(t, filepath.Join(finetune.SnapshotDir(run, 2), "G.safetensors")), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		out  string   // the --out given; it must be as it was after the error
		want []string // in the error
	}{
		{"no --out", []string{"--run", run}, "", []string{"--out"}},
		{"no --run", nil, filepath.Join(models, "x"), []string{"--run"}},
		{"out not empty", []string{"--run", run}, last, []string{last, "not empty"}},
		{"missing snapshot", []string{"--run", run, "--iter", "7"}, filepath.Join(models, "x"), []string{run, "iteration 7", "0 1 2"}},
		{"not a run", []string{"--run", f.model}, filepath.Join(models, "x"), []string{f.model, "not a run"}},
		{"model gone", []string{"--run", orphan}, filepath.Join(models, "x"), []string{gone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"export"}, tc.args...)
			if tc.out != "" {
				args = append(args, "--out", tc.out)
			}
			var before []string
			if tc.out == last {
				before = listDir(t, last)
			}
			_, err := ganshift(t, args...)
			if err == nil {
				t.Fatalf("export %v succeeded", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if before != nil {
				noTempLeft(t, last, before...)
				sameTensors(t, filepath.Join(last, "G.safetensors"), filepath.Join(finetune.SnapshotDir(run, 2), "G.safetensors"))
			}
			noTempLeft(t, models, "last", "one")
		})
	}
}

// pythonTorch is Debian's python with PyTorch, which the reference needs.
const pythonTorch = "/usr/bin/python3"

// randomise gives the tensors that a fresh BigGAN holds at trivial values
// (attention gammas 0, stored statistics 0 and 1, unit u vectors) random
// ones, so that a comparison sees every one of them.
func randomise(t *testing.T, p *nn.Params, seed uint64) {
	t.Helper()
	state, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for k, ts := range state {
		leaf := k[strings.LastIndex(k, ".")+1:]
		for i := range ts.Data {
			switch leaf {
			case "gamma":
				ts.Data[i] = float32(0.5 + rng.Float64())
			case "stored_mean":
				ts.Data[i] = float32(0.3 * rng.NormFloat64())
			case "stored_var":
				ts.Data[i] = float32(0.5 + rng.Float64())
			case "u0":
				ts.Data[i] = float32(2 * rng.NormFloat64())
			case "sv0":
				ts.Data[i] = float32(1 + rng.Float64())
			}
		}
	}
	if err := p.Load(state, "randomised"); err != nil {
		t.Fatal(err)
	}
}

// TestExportLoadsInPyTorch exports a fine-tuned 128×128 BigGAN (the
// layout tools/reference/biggan_ref.py models), loads it into the
// reference's modules with load_state_dict(strict=True) and compares
// what they draw and score with the Go networks.
func TestExportLoadsInPyTorch(t *testing.T) {
	if err := exec.Command(pythonTorch, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch (install python3-torch): %v", pythonTorch, err)
	}
	f := fixtures(t)
	tmp := t.TempDir()
	cfg := biggan.Config{Resolution: 128, GCh: 8, DCh: 8, DimZ: 12, SharedDim: 8, NClasses: 3, GAttn: []int{64}, DAttn: []int{64}}
	g, err := biggan.NewGenerator(cfg, 31)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.NewDiscriminator(cfg, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	randomise(t, g.Params, 33)
	randomise(t, d.Params, 34)
	base := filepath.Join(tmp, "base")
	if err := biggan.SaveDir(base, &biggan.Model{Cfg: g.Cfg, G: g, D: d}); err != nil {
		t.Fatal(err)
	}

	// A two-iteration run, started as the command starts it but with a
	// small sheet: 100 samples of 128×128 per snapshot would dominate.
	opt := finetune.Defaults()
	opt.Iters, opt.SnapshotEvery, opt.Batch, opt.Seed, opt.LR = 2, 2, 2, 6, 1e-2
	opt.SheetCols, opt.SheetRows = 2, 1
	runCfg := finetune.RunConfig{Options: opt, Model: base, Generator: "G", Classifier: f.cls}
	nets, free, err := openNets(runCfg)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(tmp, "run")
	r, err := finetune.Start(run, runCfg, nets)
	if err == nil {
		err = r.Train("test", nil)
		r.Close()
	}
	free()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "export")
	if _, err := ganshift(t, "export", "--run", run, "--out", out); err != nil {
		t.Fatal(err)
	}

	// Fixed latents, and what Go draws and scores from the export and
	// from the base model.
	const n = 3
	rng := rand.New(rand.NewPCG(8, 9))
	z := make([]float32, n*cfg.DimZ)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	y := []int64{2, 0, 1}
	draw := func(dir string) (x, scores []float32) {
		t.Helper()
		m, err := biggan.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		if x, err = m.Sampler().Images(z, y, n); err != nil {
			t.Fatal(err)
		}
		if scores, err = m.D.Scores(x, y, n); err != nil {
			t.Fatal(err)
		}
		return x, scores
	}
	goX, goScores := draw(out)
	baseX, _ := draw(base)

	zPath, yPath, pyPath := filepath.Join(tmp, "z.f32"), filepath.Join(tmp, "y.i64"), filepath.Join(tmp, "py.f32")
	writeLE(t, zPath, z)
	writeLE(t, yPath, y)
	script, err := filepath.Abs(filepath.Join("..", "..", "tools", "reference", "load_export.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythonTorch, script, out, zPath, yPath, pyPath)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, msg)
	}
	raw := readFile(t, pyPath)
	py := make([]float32, len(raw)/4)
	if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, py); err != nil {
		t.Fatal(err)
	}
	if len(py) != len(goX)+n {
		t.Fatalf("%s wrote %d values, want %d images of %d and %d scores", script, len(py), n, len(goX)/n, n)
	}
	pyX, pyScores := py[:len(goX)], py[len(goX):]

	t.Logf("go vs py %g, go vs base %g, scores go %v py %v", maxAbsDiff(goX, pyX), maxAbsDiff(goX, baseX), goScores, pyScores)
	const tol = 1e-4
	if diff := maxAbsDiff(goX, pyX); diff > tol {
		t.Errorf("images: PyTorch and Go differ by up to %g (tolerance %g)", diff, tol)
	}
	for i := range n {
		if diff := math.Abs(float64(goScores[i] - pyScores[i])); diff > tol*max(1, math.Abs(float64(goScores[i]))) {
			t.Errorf("D score %d: PyTorch %g, Go %g", i, pyScores[i], goScores[i])
		}
	}
	// The comparison must be able to fail: the samples differ from one
	// another, and the fine-tuned generator from the base one, by far
	// more than the tolerance.
	per := len(goX) / n
	if diff := maxAbsDiff(goX[:per], goX[per:2*per]); diff < 100*tol {
		t.Errorf("samples 0 and 1 differ by only %g", diff)
	}
	if diff := maxAbsDiff(goX, baseX); diff < 100*tol {
		t.Errorf("the export draws within %g of the base model: not fine-tuned weights?", diff)
	}
}

func writeLE(t *testing.T, path string, data any) {
	t.Helper()
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
