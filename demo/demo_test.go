package demo

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ganshift/progress"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	os.Exit(m.Run())
}

// small is the demo at a reduced size: the whole pipeline, fewer images
// and iterations, with BigGAN's step size and a full classifier weight so
// that 60 iterations show the effect.
func small(out string) Options {
	opt := Defaults()
	opt.Out = out
	opt.Typeset, opt.EvalN, opt.HeldOut = 2000, 200, 200
	opt.Finetune.Iters, opt.Finetune.SnapshotEvery = 60, 30
	opt.Finetune.LR, opt.Finetune.WCls = 1e-4, 1
	return opt
}

func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo pipeline")
	}
	out := t.TempDir()
	sum, err := Run(small(out))
	if err != nil {
		t.Fatal(err)
	}
	c, j := sum.Contrastive, sum.Joint
	t.Logf("contrastive %+v", c)
	t.Logf("joint %+v", j)

	if c.TargetProbAfter < c.TargetProbBefore+0.05 {
		t.Errorf("contrastive target prob %.3f -> %.3f, want a clear rise", c.TargetProbBefore, c.TargetProbAfter)
	}
	for name, ms := range map[string]ModeSummary{"contrastive": c, "joint": j} {
		if ms.PixelChange < 0.01 {
			t.Errorf("%s pixel change %.4f, want the samples to move", name, ms.PixelChange)
		}
		for _, v := range []float64{ms.DScoreBefore, ms.DScoreAfter, ms.TargetProbAfter} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s has a non-finite number: %+v", name, ms)
			}
		}
		if ms.Iterations != 60 {
			t.Errorf("%s iterations %d, want 60", name, ms.Iterations)
		}
		if ms.ClassifierAcc < 0.9 && name == "contrastive" {
			t.Errorf("contrastive classifier held-out accuracy %.3f, want ≥ 0.9", ms.ClassifierAcc)
		}
	}
	if c.DScoreBefore != j.DScoreBefore {
		t.Errorf("the base D score must not depend on the mode: %v vs %v", c.DScoreBefore, j.DScoreBefore)
	}

	for _, f := range []string{"compare.png", "interp.png", "summary.json",
		"classifiers/contrastive.safetensors", "classifiers/joint.safetensors",
		"runs/contrastive/config.json", "runs/joint/metrics.csv",
		"runs/joint/snapshots/000000/samples.png", "runs/joint/snapshots/000060/G.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	var onDisk Summary
	raw, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Contrastive != c || onDisk.EvalSamples != 200 {
		t.Errorf("summary.json does not hold the returned summary")
	}
}

func TestPrepareOut(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	earlier := filepath.Join(dir, "earlier")
	os.MkdirAll(filepath.Join(earlier, "runs", "joint"), 0o755)
	os.WriteFile(filepath.Join(earlier, marker), []byte("{}"), 0o644)

	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{"new", filepath.Join(dir, "new"), ""},
		{"earlier demo", earlier, ""},
		{"someone else's", foreign, "not empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := prepareOut(tc.dir)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(earlier, "runs")); !os.IsNotExist(err) {
		t.Errorf("an earlier demo's runs must be cleared, stat error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Errorf("a foreign directory must be left alone: %v", err)
	}
}
