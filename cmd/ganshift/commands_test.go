package main

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/classifier"
	"ganshift/finetune"
)

// sameImage reports whether a and b are equal pixel for pixel, b being
// read from the rectangle of its size at offset off of a.
func sameImage(a image.Image, off image.Point, b image.Image) bool {
	bb := b.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			r1, g1, b1, a1 := a.At(off.X+x-bb.Min.X, off.Y+y-bb.Min.Y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSample(t *testing.T) {
	f := fixtures(t)
	tmp := t.TempDir()
	one := filepath.Join(tmp, "one")
	stdout, err := ganshift(t, "sample", "--model", f.model, "--classes", "0,1", "--n", "3", "--each", "--out", one)
	if err != nil {
		t.Fatal(err)
	}
	if want := "wrote " + filepath.Join(one, "grid.png"); !strings.Contains(stdout, want) {
		t.Errorf("stdout %q, want it to say %q", stdout, want)
	}

	t.Run("files", func(t *testing.T) {
		want := []string{"0_0.png", "0_1.png", "0_2.png", "1_0.png", "1_1.png", "1_2.png", "grid.png"}
		if got := listDir(t, one); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", one, got, want)
		}
	})

	grid := decodePNG(t, filepath.Join(one, "grid.png"))
	t.Run("grid size", func(t *testing.T) {
		w, h := gridSize(3, 2)
		if b := grid.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("grid.png is %dx%d, want %dx%d (3 columns, 2 rows)", b.Dx(), b.Dy(), w, h)
		}
	})

	t.Run("each sample is its grid cell", func(t *testing.T) {
		for c := range 2 {
			for i := range 3 {
				img := decodePNG(t, filepath.Join(one, fmt.Sprintf("%d_%d.png", c, i)))
				if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
					t.Fatalf("%d_%d.png is %dx%d, want 32x32", c, i, b.Dx(), b.Dy())
				}
				// The grid shows the sample at scale 2: check every pixel
				// against the top-left of its 2×2 block.
				x0, y0 := 2+i*66, 2+c*66
				for y := range 32 {
					for x := range 32 {
						r1, g1, b1, _ := img.At(x, y).RGBA()
						r2, g2, b2, _ := grid.At(x0+2*x, y0+2*y).RGBA()
						if r1 != r2 || g1 != g2 || b1 != b2 {
							t.Fatalf("%d_%d.png pixel (%d,%d) differs from the grid's", c, i, x, y)
						}
					}
				}
			}
		}
	})

	t.Run("same seed same samples, other seed others", func(t *testing.T) {
		again, other := filepath.Join(tmp, "again"), filepath.Join(tmp, "other")
		if _, err := ganshift(t, "sample", "--model", f.model, "--classes", "0,1", "--n", "3", "--out", again); err != nil {
			t.Fatal(err)
		}
		if _, err := ganshift(t, "sample", "--model", f.model, "--classes", "0,1", "--n", "3", "--seed", "2", "--out", other); err != nil {
			t.Fatal(err)
		}
		g1 := readFile(t, filepath.Join(one, "grid.png"))
		if g2 := readFile(t, filepath.Join(again, "grid.png")); !bytes.Equal(g1, g2) {
			t.Error("two runs with seed 1 drew different grids")
		}
		if g3 := readFile(t, filepath.Join(other, "grid.png")); bytes.Equal(g1, g3) {
			t.Error("seeds 1 and 2 drew the same grid")
		}
	})

	t.Run("two models side by side", func(t *testing.T) {
		two := filepath.Join(tmp, "two")
		if _, err := ganshift(t, "sample", "--model", f.model, "--model", f.modelB, "--classes", "0,1", "--n", "3", "--each", "--out", two); err != nil {
			t.Fatal(err)
		}
		cmp := decodePNG(t, filepath.Join(two, "grid.png"))
		w, h := gridSize(3, 2)
		if b := cmp.Bounds(); b.Dx() <= 2*w || b.Dy() <= h {
			t.Errorf("side-by-side grid is %dx%d, want wider than %d and taller than %d", b.Dx(), b.Dy(), 2*w, h)
		}
		// The first panel is the one-model grid (same z and y), under
		// its title: 8 px margin, a 13 px line and a 4 px gap.
		if !sameImage(cmp, image.Pt(8, 8+13+4), grid) {
			t.Error("the first panel differs from the grid of the same model alone")
		}
		for _, label := range []string{filepath.Base(f.model), filepath.Base(f.modelB)} {
			if got := listDir(t, filepath.Join(two, label)); len(got) != 6 {
				t.Errorf("%s/%s holds %v, want 6 samples", two, label, got)
			}
		}
	})

	t.Run("generator G differs from G_ema", func(t *testing.T) {
		dir := filepath.Join(tmp, "g")
		if _, err := ganshift(t, "sample", "--model", f.model, "--generator", "G", "--classes", "0,1", "--n", "3", "--out", dir); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(readFile(t, filepath.Join(dir, "grid.png")), readFile(t, filepath.Join(one, "grid.png"))) {
			t.Error("--generator G drew the same grid as G_ema")
		}
	})
}

func TestInterp(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name  string
		pairs []string
		rows  int
	}{
		{"default pairs", nil, 3}, // 3 classes: 0-1, 1-2, 2-0
		{"one pair", []string{"--pairs", "0-2"}, 1},
		{"two pairs with spaces", []string{"--pairs", "2-1, 0-0"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "I")
			args := append([]string{"interp", "--model", f.model, "--out", out}, tc.pairs...)
			if _, err := ganshift(t, args...); err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, filepath.Join(out, "interp.png"))
			w, h := gridSize(10, tc.rows)
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Errorf("interp.png is %dx%d, want %dx%d (10 columns, %d rows)", b.Dx(), b.Dy(), w, h, tc.rows)
			}
		})
	}
}

// TestPipeline trains a classifier, fine-tunes with it, resumes the
// finished run and samples its snapshots, as a user would.
func TestPipeline(t *testing.T) {
	f := fixtures(t)
	tmp := t.TempDir()
	cls := filepath.Join(tmp, "c.safetensors")
	run := filepath.Join(tmp, "R")

	t.Run("train-classifier joint", func(t *testing.T) {
		stdout, err := ganshift(t, "train-classifier", "--mode", "joint", "--domain", f.imagesA, "--new", f.imagesB,
			"--epochs", "1", "--batch", "4", "--held-out", "2", "--backbone", "none", "--out", cls)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "wrote "+cls) {
			t.Errorf("stdout %q, want it to name %s", stdout, cls)
		}
		c, err := classifier.Load(cls)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Free()
		if c.Cfg.Mode != classifier.Joint || c.Cfg.Target != 1 || c.Cfg.Classes != 2 || c.Cfg.Size != 32 {
			t.Errorf("classifier config %+v, want joint mode, 2 classes, target 1, size 32", c.Cfg)
		}
		// --held-out 2 of 16 images is capped at a tenth: 1.
		if got := c.Cfg.Training["held_out"]; got != float64(1) {
			t.Errorf("recorded held_out = %v, want 1", got)
		}
		if got := c.Cfg.Training["domain"]; got != f.imagesA {
			t.Errorf("recorded domain = %v, want %s", got, f.imagesA)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("finetune", func(t *testing.T) {
		stdout, err := ganshift(t, "finetune", "--model", f.model, "--classifier", cls, "--iters", "4",
			"--snapshot-every", "2", "--batch", "4", "--seed", "3", "--out", run)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "run in "+run) {
			t.Errorf("stdout %q, want it to name %s", stdout, run)
		}
		its, err := finetune.Snapshots(run)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{0, 2, 4}; !slices.Equal(its, want) {
			t.Errorf("snapshots %v, want %v", its, want)
		}
		cfg, err := finetune.ReadConfig(run)
		if err != nil {
			t.Fatal(err)
		}
		o := cfg.Options
		if o.Iters != 4 || o.SnapshotEvery != 2 || o.Batch != 4 || o.Seed != 3 || cfg.Model != f.model ||
			cfg.Classifier != cls || cfg.Generator != "G_ema" {
			t.Errorf("config.json: options %+v model %q classifier %q generator %q", o, cfg.Model, cfg.Classifier, cfg.Generator)
		}
		ms, err := finetune.ParseMetrics(string(readFile(t, filepath.Join(run, "metrics.csv"))))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 4 {
			t.Errorf("metrics.csv has %d rows, want 4", len(ms))
		}
		// The default sheet is 10×10.
		w, h := gridSize(10, 10)
		if b := decodePNG(t, filepath.Join(finetune.SnapshotDir(run, 4), "samples.png")).Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("samples.png is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("resume a finished run", func(t *testing.T) {
		before := snapshotFiles(t, run)
		stdout, err := ganshift(t, "finetune", "--resume", run)
		if err != nil {
			t.Fatal(err)
		}
		if want := run + " already finished (4 of 4 iterations)"; !strings.Contains(stdout, want) {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		after := snapshotFiles(t, run)
		if len(after) != len(before) {
			t.Errorf("files before resume %d, after %d", len(before), len(after))
		}
		for name, data := range before {
			if !bytes.Equal(after[name], data) {
				t.Errorf("%s changed on a resume with nothing left to do", name)
			}
		}
	})

	t.Run("finetune into the same folder again", func(t *testing.T) {
		_, err := ganshift(t, "finetune", "--model", f.model, "--classifier", cls, "--iters", "4", "--out", run)
		if err == nil || !strings.Contains(err.Error(), run) || !strings.Contains(err.Error(), "--resume") {
			t.Errorf("error %v, want one naming %s and --resume", err, run)
		}
	})

	t.Run("sample snapshots", func(t *testing.T) {
		draw := func(model string) []byte {
			t.Helper()
			out := filepath.Join(t.TempDir(), "S")
			if _, err := ganshift(t, "sample", "--model", model, "--n", "2", "--out", out); err != nil {
				t.Fatalf("sample --model %s: %v", model, err)
			}
			return readFile(t, filepath.Join(out, "grid.png"))
		}
		at2 := draw(run + ":2")
		if snapDir := draw(finetune.SnapshotDir(run, 2)); !bytes.Equal(at2, snapDir) {
			t.Error("RUN:2 and the snapshot directory 000002 drew different grids")
		}
		last := draw(run)
		if at4 := draw(run + ":4"); !bytes.Equal(last, at4) {
			t.Error("RUN (the last snapshot) and RUN:4 drew different grids")
		}
		if at0 := draw(run + ":0"); bytes.Equal(at0, last) {
			t.Error("the base (RUN:0) and the fine-tuned generator (RUN:4) drew the same grid")
		}
		if base := draw(f.model); !bytes.Equal(base, draw(run+":0")) {
			t.Error("RUN:0 differs from the model's G_ema it started from")
		}
	})

	t.Run("sample a missing snapshot", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "S")
		_, err := ganshift(t, "sample", "--model", run+":3", "--out", out)
		if err == nil {
			t.Fatal("sample --model RUN:3 succeeded")
		}
		for _, want := range []string{run, "iteration 3", "0 2 4"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s exists after the error", out)
		}
		_, err = ganshift(t, "sample", "--model", run+":two", "--out", out)
		if err == nil || !strings.Contains(err.Error(), "0 2 4") {
			t.Errorf("sample --model RUN:two: error %v, want one listing the snapshots", err)
		}
	})

	t.Run("interp from a snapshot", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "I")
		if _, err := ganshift(t, "interp", "--model", f.model, "--model", run, "--pairs", "0-1", "--out", out); err != nil {
			t.Fatal(err)
		}
		w, h := gridSize(10, 1)
		if b := decodePNG(t, filepath.Join(out, "interp.png")).Bounds(); b.Dx() <= 2*w || b.Dy() <= h {
			t.Errorf("interp.png of two models is %dx%d, want wider than %d", b.Dx(), b.Dy(), 2*w)
		}
	})
}

// snapshotFiles reads every file of a run directory, keyed by path.
func snapshotFiles(t *testing.T, run string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(dir string)
	walk = func(dir string) {
		for _, name := range listDir(t, dir) {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				walk(p)
				continue
			}
			out[p] = readFile(t, p)
		}
	}
	walk(run)
	if len(out) == 0 {
		t.Fatalf("%s holds no files", run)
	}
	return out
}

// TestResumeInterrupted stops a run after its first snapshot (as Ctrl-C
// does), continues it with finetune --resume and compares it with the same
// run made in one go by the command.
func TestResumeInterrupted(t *testing.T) {
	f := fixtures(t)
	tmp := t.TempDir()
	whole, parts := filepath.Join(tmp, "whole"), filepath.Join(tmp, "parts")
	flags := []string{"--model", f.model, "--classifier", f.cls, "--iters", "4", "--snapshot-every", "2",
		"--batch", "3", "--seed", "9", "--w-d", "0.5", "--classes", "0,2", "--train", "blocks.*,output_layer.*"}
	if _, err := ganshift(t, append([]string{"finetune", "--out", whole}, flags...)...); err != nil {
		t.Fatal(err)
	}

	// The interrupted run, started as the command starts it.
	opt := finetune.Defaults()
	opt.Iters, opt.SnapshotEvery, opt.Batch, opt.Seed, opt.WD = 4, 2, 3, 9, 0.5
	opt.Classes, opt.Train = []int{0, 2}, []string{"blocks.*", "output_layer.*"}
	cfg := finetune.RunConfig{Options: opt, Model: f.model, Generator: "G_ema", Classifier: f.cls}
	nets, free, err := openNets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := finetune.Start(parts, cfg, nets)
	if err != nil {
		free()
		t.Fatal(err)
	}
	err = r.Train("test", func() bool { return true })
	r.Close()
	free()
	if err != nil {
		t.Fatal(err)
	}
	if its, _ := finetune.Snapshots(parts); !slices.Equal(its, []int{0, 2}) {
		t.Fatalf("interrupted run has snapshots %v, want [0 2]", its)
	}

	if _, err := ganshift(t, "finetune", "--resume", parts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metrics.csv", "snapshots/000004/G.safetensors", "snapshots/000004/optimizer.safetensors", "snapshots/000004/samples.png"} {
		if !bytes.Equal(readFile(t, filepath.Join(whole, name)), readFile(t, filepath.Join(parts, name))) {
			t.Errorf("%s of the resumed run differs from the run made in one go", name)
		}
	}

	t.Run("classifier gone", func(t *testing.T) {
		run := filepath.Join(t.TempDir(), "R")
		gone := filepath.Join(t.TempDir(), "gone.safetensors")
		if err := os.WriteFile(gone, readFile(t, f.cls), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ganshift(t, "finetune", "--model", f.model, "--classifier", gone, "--iters", "2", "--snapshot-every", "1", "--batch", "2", "--out", run); err != nil {
			t.Fatal(err)
		}
		os.Remove(gone)
		_, err := ganshift(t, "finetune", "--resume", run)
		if err == nil || !strings.Contains(err.Error(), gone) {
			t.Errorf("resume without the classifier: error %v, want one naming %s", err, gone)
		}
	})
}

func TestTrainClassifierModes(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		mode, newSet string
	}{
		{"contrastive", f.imagesB},
		{"contrastive", "typeset:8:1"},
		{"joint", "typeset:8:2"},
	}
	for _, tc := range tests {
		t.Run(tc.mode+" "+filepath.Base(tc.newSet), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "c.safetensors")
			if _, err := ganshift(t, "train-classifier", "--mode", tc.mode, "--domain", f.imagesA, "--new", tc.newSet,
				"--epochs", "1", "--batch", "4", "--held-out", "2", "--backbone", "none", "--out", out); err != nil {
				t.Fatal(err)
			}
			c, err := classifier.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Free()
			if c.Cfg.Mode != tc.mode || c.Cfg.Target != 1 {
				t.Errorf("mode %q target %d, want %q and 1", c.Cfg.Mode, c.Cfg.Target, tc.mode)
			}
			if got := c.Cfg.Training["new"]; got != tc.newSet {
				t.Errorf("recorded new set %v, want %s", got, tc.newSet)
			}
		})
	}
}
