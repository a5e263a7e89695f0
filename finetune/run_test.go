package finetune

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
)

// startAndTrain runs opt in a new directory under the test's temp dir and
// returns the directory; stop is passed to Train.
func startAndTrain(t *testing.T, opt Options, stop func(r *Run) bool) (string, *Run) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	nets := newNets(t)
	r, err := Start(dir, RunConfig{Options: opt, Model: "test-model", Generator: "G", Classifier: "test.safetensors"}, nets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	var stopFn func() bool
	if stop != nil {
		stopFn = func() bool { return stop(r) }
	}
	if err := r.Train("test", stopFn); err != nil {
		t.Fatal(err)
	}
	return dir, r
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func readMetricsFile(t *testing.T, dir string) []Metrics {
	t.Helper()
	ms, err := ParseMetrics(string(readFile(t, filepath.Join(dir, "metrics.csv"))))
	if err != nil {
		t.Fatalf("metrics.csv: %v", err)
	}
	return ms
}

func TestRunDirectory(t *testing.T) {
	opt := smallOpts()
	opt.Iters, opt.SnapshotEvery = 5, 2
	opt.Seed = 1<<62 + 3 // not exact as a float64: config.json must keep it
	opt.Classes = []int{2, 0}
	opt.Train = []string{"blocks.*", "output_layer.*"}
	dir, r := startAndTrain(t, opt, nil)

	t.Run("config", func(t *testing.T) {
		cfg, err := ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg.Options, opt) {
			t.Errorf("config.json options = %+v\nwant %+v", cfg.Options, opt)
		}
		if cfg.Options.Seed != 1<<62+3 {
			t.Errorf("seed = %d, want %d", cfg.Options.Seed, uint64(1<<62+3))
		}
		if !reflect.DeepEqual(cfg.ModelCfg, r.Nets.G.Cfg) {
			t.Errorf("model config = %+v, want %+v", cfg.ModelCfg, r.Nets.G.Cfg)
		}
		if cfg.Model != "test-model" || cfg.Generator != "G" || cfg.Classifier != "test.safetensors" {
			t.Errorf("sources = %q %q %q", cfg.Model, cfg.Generator, cfg.Classifier)
		}
		if cfg.Threads < 1 {
			t.Errorf("threads = %d", cfg.Threads)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		ms := readMetricsFile(t, dir)
		if got, want := len(ms), opt.Iters; got != want {
			t.Fatalf("metrics.csv has %d rows, want %d", got, want)
		}
		mem := r.Metrics()
		for i, m := range ms {
			if m.Iter != i+1 {
				t.Errorf("row %d: iter %d, want %d", i, m.Iter, i+1)
			}
			want := mem[i]
			for _, f := range [][3]any{{"loss", m.Loss, want.Loss}, {"cls_loss", m.ClsLoss, want.ClsLoss},
				{"d_loss", m.DLoss, want.DLoss}, {"target_prob", m.TargetProb, want.TargetProb}, {"d_score", m.DScore, want.DScore}} {
				got, w := f[1].(float64), f[2].(float64)
				if math.Abs(got-w) > 1e-5*max(1, math.Abs(w)) {
					t.Errorf("row %d %s = %v, in memory %v", i, f[0], got, w)
				}
			}
		}
	})

	t.Run("snapshots", func(t *testing.T) {
		its, err := Snapshots(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{0, 2, 4, 5}; !slices.Equal(its, want) {
			t.Fatalf("snapshots = %v, want %v", its, want)
		}
		entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{"000000", "000002", "000004", "000005"}; !slices.Equal(names, want) {
			t.Errorf("snapshot directories = %v, want %v", names, want)
		}
		nTrained := len(r.adam.Params)
		for _, it := range its {
			snap := SnapshotDir(dir, it)
			entries, err := os.ReadDir(snap)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			if want := []string{"G.safetensors", "optimizer.safetensors", "samples.png", "state.json"}; !slices.Equal(files, want) {
				t.Errorf("%s holds %v, want %v", snap, files, want)
			}
			var st struct {
				Iter      int   `json:"iter"`
				AdamSteps int64 `json:"adam_steps"`
			}
			if err := json.Unmarshal(readFile(t, filepath.Join(snap, "state.json")), &st); err != nil {
				t.Fatal(err)
			}
			if st.Iter != it || st.AdamSteps != int64(it) {
				t.Errorf("%s state: iter %d adam steps %d, want %d and %d", snap, st.Iter, st.AdamSteps, it, it)
			}
			img, err := png.Decode(bytes.NewReader(readFile(t, filepath.Join(snap, "samples.png"))))
			if err != nil {
				t.Fatalf("%s samples.png: %v", snap, err)
			}
			// 32×32 samples at scale 2 with 2 px padding.
			wantW, wantH := opt.SheetCols*66+2, opt.SheetRows*66+2
			if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
				t.Errorf("%s samples.png is %dx%d, want %dx%d", snap, b.Dx(), b.Dy(), wantW, wantH)
			}
			opt, _, err := checkpoint.Load(filepath.Join(snap, "optimizer.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(opt), 2*nTrained; got != want {
				t.Errorf("%s optimizer holds %d tensors, want %d", snap, got, want)
			}
			g, _, err := checkpoint.Load(filepath.Join(snap, "G.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(g), len(r.Nets.G.Params.Vars()); got != want {
				t.Errorf("%s G holds %d tensors, want %d", snap, got, want)
			}
		}
		// The sheets show the evolution: the last differs from the base.
		first := readFile(t, filepath.Join(SnapshotDir(dir, 0), "samples.png"))
		last := readFile(t, filepath.Join(SnapshotDir(dir, 5), "samples.png"))
		if bytes.Equal(first, last) {
			t.Error("samples.png of iteration 5 equals that of iteration 0")
		}
	})

	t.Run("loss plot", func(t *testing.T) {
		img, err := png.Decode(bytes.NewReader(readFile(t, filepath.Join(dir, "loss.png"))))
		if err != nil {
			t.Fatalf("loss.png: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("loss.png is %dx%d, want a readable plot", b.Dx(), b.Dy())
		}
	})

	t.Run("no temporary files", func(t *testing.T) {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Error(err)
				return nil
			}
			if strings.Contains(d.Name(), ".tmp") {
				t.Errorf("temporary file left: %s", path)
			}
			return nil
		})
	})

	t.Run("start into a used directory", func(t *testing.T) {
		_, err := Start(dir, RunConfig{Options: opt}, newNets(t))
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Start into %s: error %v, want one naming the directory", dir, err)
		}
		if got := len(readMetricsFile(t, dir)); got != opt.Iters {
			t.Errorf("after the refused Start metrics.csv has %d rows, want %d", got, opt.Iters)
		}
	})
}

// TestStartFailureLeavesNothing checks that settings refused by Start
// leave no directory behind, so the same --out can be used once fixed.
func TestStartFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Options)
		want   string
	}{
		{"invalid options", func(o *Options) { o.Iters = 0 }, "iters 0"},
		{"pattern matching nothing", func(o *Options) { o.Train = []string{"nothing.*"} }, "matches no generator parameter"},
		{"bad pattern", func(o *Options) { o.Train = []string{"blocks.["} }, "blocks.["},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			opt := smallOpts()
			tc.modify(&opt)
			r, err := Start(dir, RunConfig{Options: opt}, newNets(t))
			if err == nil {
				r.Close()
				t.Fatalf("Start succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start error %q, want it to contain %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed Start (stat: %v)", dir, err)
			}
		})
	}
}

// TestResumeEqualsUninterrupted stops a run at its second snapshot,
// resumes it on fresh networks and checks it ends where an uninterrupted
// run of the same seed ends. The second case is a run killed after it
// wrote the rows of iteration 4 but before its snapshot 4 was in place: it
// resumes from snapshot 2 and must still end the same.
func TestResumeEqualsUninterrupted(t *testing.T) {
	opt := smallOpts()
	opt.Iters, opt.SnapshotEvery, opt.Seed = 6, 2, 42
	dirA, runA := startAndTrain(t, opt, nil)

	tests := []struct {
		name       string
		tamper     func(t *testing.T, dir string)
		resumeIter int
	}{
		{"stopped at 4", func(t *testing.T, dir string) {}, 4},
		{"killed before snapshot 4", func(t *testing.T, dir string) {
			if err := os.Rename(SnapshotDir(dir, 4), SnapshotDir(dir, 4)+".tmp"); err != nil {
				t.Fatal(err)
			}
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dirB, runB := startAndTrain(t, opt, func(r *Run) bool { return r.Iter() == 4 })
			if got := runB.Iter(); got != 4 {
				t.Fatalf("stopped run is at iteration %d, want 4", got)
			}
			if its, _ := Snapshots(dirB); !slices.Equal(its, []int{0, 2, 4}) {
				t.Fatalf("stopped run has snapshots %v, want [0 2 4]", its)
			}
			if got := len(readMetricsFile(t, dirB)); got != 4 {
				t.Fatalf("stopped run's metrics.csv has %d rows, want 4", got)
			}
			runB.Close()
			tc.tamper(t, dirB)

			fresh := newNets(t)
			resumed, err := Resume(dirB, fresh)
			if err != nil {
				t.Fatal(err)
			}
			defer resumed.Close()
			if got := resumed.Iter(); got != tc.resumeIter {
				t.Fatalf("resumed at iteration %d, want %d", got, tc.resumeIter)
			}
			if got := len(resumed.Metrics()); got != tc.resumeIter {
				t.Fatalf("resumed with %d metrics, want %d", got, tc.resumeIter)
			}
			if err := resumed.Train("test", nil); err != nil {
				t.Fatal(err)
			}
			if got := resumed.Iter(); got != 6 {
				t.Fatalf("resumed run ended at %d, want 6", got)
			}

			a, b := stateOf(t, runA.Nets.G.Params), stateOf(t, fresh.G.Params)
			for name := range a {
				if !sameBits(a[name], b[name]) {
					t.Errorf("G %s: resumed differs from uninterrupted (max abs diff %g)", name, maxAbsDiff(a[name], b[name]))
				}
			}
			for i := range runA.adam.M {
				ma, _ := runA.adam.M[i].Float32()
				mb, _ := resumed.adam.M[i].Float32()
				va, _ := runA.adam.V[i].Float32()
				vb, _ := resumed.adam.V[i].Float32()
				if !sameBits(ma, mb) || !sameBits(va, vb) {
					t.Errorf("Adam moments of parameter %d differ after resume: m %g v %g", i, maxAbsDiff(ma, mb), maxAbsDiff(va, vb))
				}
			}

			for _, f := range []string{"metrics.csv", "snapshots/000006/G.safetensors", "snapshots/000006/optimizer.safetensors", "snapshots/000006/samples.png"} {
				if !bytes.Equal(readFile(t, filepath.Join(dirA, f)), readFile(t, filepath.Join(dirB, f))) {
					t.Errorf("%s differs between the uninterrupted and the resumed run", f)
				}
			}
			if ma, mb := readMetricsFile(t, dirA), readMetricsFile(t, dirB); !reflect.DeepEqual(ma, mb) {
				t.Errorf("metrics rows differ:\nuninterrupted %v\nresumed       %v", ma, mb)
			}
		})
	}
}

// TestResumeMetricsGap checks that a metrics.csv that does not cover the
// snapshot being resumed is an error naming it, not a silent gap.
func TestResumeMetricsGap(t *testing.T) {
	opt := smallOpts()
	opt.Iters, opt.SnapshotEvery = 4, 2
	tests := []struct {
		name string
		edit func(lines []string) []string
		want string
	}{
		{"last row missing", func(l []string) []string { return l[:len(l)-1] }, "3 rows"},
		{"row missing inside", func(l []string) []string { return append(l[:2:2], l[3:]...) }, "iteration 3 where 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, r := startAndTrain(t, opt, func(r *Run) bool { return r.Iter() == 4 })
			r.Close()
			path := filepath.Join(dir, "metrics.csv")
			lines := strings.Split(strings.TrimSpace(string(readFile(t, path))), "\n")
			if err := os.WriteFile(path, []byte(strings.Join(tc.edit(lines), "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Resume(dir, newNets(t))
			if err == nil {
				res.Close()
				t.Fatal("Resume succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Resume error %q, want it to name %s and contain %q", err, path, tc.want)
			}
		})
	}
}

func TestResumeErrors(t *testing.T) {
	noSnap := t.TempDir()
	os.WriteFile(filepath.Join(noSnap, "config.json"), []byte(`{"options":{}}`), 0o644)
	os.MkdirAll(filepath.Join(noSnap, "snapshots"), 0o755)
	badJSON := t.TempDir()
	os.WriteFile(filepath.Join(badJSON, "config.json"), []byte(`{"options":`), 0o644)
	tests := []struct {
		name, dir, want string
	}{
		{"not a run", t.TempDir(), "is not a run directory"},
		{"no snapshot", noSnap, "no snapshot to resume from"},
		{"broken config", badJSON, "config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Resume(tc.dir, newNets(t))
			if err == nil {
				r.Close()
				t.Fatal("Resume succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.dir) {
				t.Errorf("Resume error %q, want it to name %s and contain %q", err, tc.dir, tc.want)
			}
		})
	}
}

// TestSameSeedSameRun checks that a run is a function of its seed: three
// runs with one seed write bit-identical snapshots and metrics, and another
// seed writes different ones.
func TestSameSeedSameRun(t *testing.T) {
	opt := smallOpts()
	opt.Iters, opt.SnapshotEvery = 4, 2
	files := []string{"metrics.csv"}
	for _, it := range []int{2, 4} {
		for _, f := range []string{"samples.png", "G.safetensors", "optimizer.safetensors"} {
			files = append(files, filepath.Join(filepath.Base(SnapshotDir("", it)), f))
		}
	}
	run := func(seed uint64) map[string][]byte {
		o := opt
		o.Seed = seed
		dir, _ := startAndTrain(t, o, nil)
		out := map[string][]byte{}
		for _, f := range files {
			if f != "metrics.csv" {
				f = filepath.Join("snapshots", f)
			}
			out[f] = readFile(t, filepath.Join(dir, f))
		}
		return out
	}
	ref := run(7)
	for _, tc := range []struct {
		name string
		seed uint64
		same bool
	}{
		{"same seed", 7, true},
		{"same seed again", 7, true},
		{"other seed", 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(tc.seed)
			for f, want := range ref {
				if eq := bytes.Equal(got[f], want); eq != tc.same {
					t.Errorf("seed %d vs 7: %s equal = %v, want %v", tc.seed, f, eq, tc.same)
				}
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	good := metricsHeader + "\n1,0.5,0.25,0.25,0.75,-0.25\n2,1e-3,2,3,0.5,-3\n"
	ms, err := ParseMetrics(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []Metrics{{1, 0.5, 0.25, 0.25, 0.75, -0.25}, {2, 1e-3, 2, 3, 0.5, -3}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("ParseMetrics = %v, want %v", ms, want)
	}
	if ms, err := ParseMetrics(metricsHeader + "\n"); err != nil || len(ms) != 0 {
		t.Errorf("header only: %v, %v; want no rows", ms, err)
	}
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "header"},
		{"wrong header", "iter,loss\n1,2\n", "header"},
		{"short row", metricsHeader + "\n1,2,3\n", "line 2: 3 fields"},
		{"bad iter", metricsHeader + "\n1,0,0,0,0,0\nx,0,0,0,0,0\n", "line 3"},
		{"bad float", metricsHeader + "\n1,0,0,zero,0,0\n", "line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetrics(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseMetrics error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
