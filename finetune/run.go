package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/internal/atomicfile"
	"ganshift/progress"
	"ganshift/report"
	"ganshift/sheet"
	"ganshift/torch"
)

// RunConfig is config.json: everything needed to reproduce or resume a run.
type RunConfig struct {
	Options    Options        `json:"options"`
	Model      string         `json:"model"`      // where the GAN came from (a directory or "embedded:NAME")
	Generator  string         `json:"generator"`  // which generator was fine-tuned: "G_ema" or "G"
	Classifier string         `json:"classifier"` // classifier file (or "embedded:NAME")
	ModelCfg   biggan.Config  `json:"model_config"`
	ClsCfg     any            `json:"classifier_config"`
	Threads    int            `json:"threads"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// Run is a fine-tuning run on disk and in memory.
type Run struct {
	Dir  string
	Cfg  RunConfig
	Nets Nets

	adam    *torch.Adam
	src     *rand.PCG
	rng     *rand.Rand
	iter    int
	metrics []Metrics
	sheetZ  []float32
	sheetY  []int64
}

// Start creates the run directory dir (which must not exist or be empty),
// writes config.json and the iteration-0 snapshot of the base generator.
func Start(dir string, cfg RunConfig, nets Nets) (*Run, error) {
	if err := cfg.Options.Validate(nets.G.Cfg.NClasses); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return nil, fmt.Errorf("finetune: %s already holds a run (use --resume %s to continue it, or another --out)", dir, dir)
		}
		return nil, fmt.Errorf("finetune: %s is not empty and holds no run; choose another --out", dir)
	}
	cfg.ModelCfg = nets.G.Cfg
	cfg.ClsCfg = nets.C.Cfg
	cfg.Threads = torch.Threads()
	// Build the run in memory first, so that settings it refuses (--train
	// patterns) leave no directory behind.
	r, err := newRun(dir, cfg, nets)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o755); err != nil {
		r.Close()
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.snapshot(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func newRun(dir string, cfg RunConfig, nets Nets) (*Run, error) {
	vars, err := Prepare(nets, cfg.Options.Train)
	if err != nil {
		return nil, err
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	o := cfg.Options
	adam, err := torch.NewAdam(ts, o.LR, o.Beta1, o.Beta2, o.AdamEps)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Cfg: cfg, Nets: nets, adam: adam}
	r.src = rand.NewPCG(o.Seed, 1)
	r.rng = rand.New(r.src)
	n := o.SheetCols * o.SheetRows
	r.sheetZ, r.sheetY = SheetLatents(nets.G.Cfg, o)
	if len(r.sheetY) != n {
		adam.Free()
		return nil, errors.New("finetune: sheet latents")
	}
	return r, nil
}

// SheetLatents are the fixed z and y of every snapshot sheet: one row per
// class (cycling through the run's classes), drawn from the run's seed on a
// stream of their own.
func SheetLatents(cfg biggan.Config, o Options) ([]float32, []int64) {
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	n := o.SheetCols * o.SheetRows
	z, _ := Latents(rng, n, cfg.DimZ, cfg.NClasses, o)
	classes := o.Classes
	if len(classes) == 0 {
		for c := range cfg.NClasses {
			classes = append(classes, c)
		}
	}
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(classes[(i/o.SheetCols)%len(classes)])
	}
	return z, y
}

// Close frees the optimizer state (the networks belong to the caller).
func (r *Run) Close() {
	if r.adam != nil {
		r.adam.Free()
	}
}

// Iter is the number of updates done so far.
func (r *Run) Iter() int { return r.iter }

// Metrics are the measurements of every iteration so far.
func (r *Run) Metrics() []Metrics { return r.metrics }

// Train runs the remaining iterations, snapshotting every SnapshotEvery
// and at the end. stop, when it returns true, ends the run cleanly at the
// next snapshot.
func (r *Run) Train(desc string, stop func() bool) error {
	o := r.Cfg.Options
	bar := progress.New(o.Iters-r.iter, desc)
	for r.iter < o.Iters {
		m, err := Step(r.Nets, r.adam, r.rng, o)
		if err != nil {
			return fmt.Errorf("finetune: %s: iteration %d: %w", r.Dir, r.iter+1, err)
		}
		r.iter++
		m.Iter = r.iter
		r.metrics = append(r.metrics, m)
		bar.Add(1, fmt.Sprintf("loss %.3f p(target) %.3f D %.3f", m.Loss, m.TargetProb, m.DScore))
		if r.iter%o.SnapshotEvery == 0 || r.iter == o.Iters {
			if err := r.snapshot(); err != nil {
				return err
			}
			if stop != nil && stop() {
				progress.Printf("stopped at iteration %d; continue with --resume %s\n", r.iter, r.Dir)
				return nil
			}
		}
	}
	bar.Finish()
	return nil
}

// SnapshotDir is where the snapshot of iteration it lives.
func SnapshotDir(run string, it int) string {
	return filepath.Join(run, "snapshots", fmt.Sprintf("%06d", it))
}

// snapshot writes G, the optimizer and random state, the sheet, the
// metrics so far and report.html. The snapshot is built in a temporary
// directory and renamed into place, so a killed run never leaves half a
// snapshot.
func (r *Run) snapshot() error {
	final := SnapshotDir(r.Dir, r.iter)
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	if err := r.writeSnapshot(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	// metrics.csv first: a run killed before the rename resumes from the
	// previous snapshot and ignores the extra rows, whereas a snapshot
	// without its rows would leave a gap in metrics.csv.
	if err := r.writeMetrics(); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	// report.html last, so that it shows the snapshot just made.
	return report.WriteRun(r.Dir)
}

func (r *Run) writeSnapshot(dir string) error {
	if err := biggan.SaveParams(filepath.Join(dir, "G.safetensors"), r.Nets.G.Params, r.Nets.G.Cfg); err != nil {
		return err
	}
	if err := r.saveOptimizer(filepath.Join(dir, "optimizer.safetensors")); err != nil {
		return err
	}
	rngState, err := r.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	state := map[string]any{"iter": r.iter, "adam_steps": r.adam.Steps, "rng": rngState, "time": time.Now().UTC()}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "state.json"), state); err != nil {
		return err
	}
	img, err := r.Sheet()
	if err != nil {
		return err
	}
	return sheet.SavePNG(filepath.Join(dir, "samples.png"), img)
}

func (r *Run) saveOptimizer(path string) error {
	state := map[string]checkpoint.Tensor{}
	for i, p := range r.adam.Params {
		for _, part := range []struct {
			name string
			t    *torch.Tensor
		}{{"m", r.adam.M[i]}, {"v", r.adam.V[i]}} {
			data, err := part.t.Float32()
			if err != nil {
				return err
			}
			state[fmt.Sprintf("%d.%s", i, part.name)] = checkpoint.Tensor{Shape: p.Shape(), Data: data}
		}
	}
	return checkpoint.Save(path, state, nil)
}

// Sheet draws the fixed snapshot latents from the current G.
func (r *Run) Sheet() (*image.RGBA, error) {
	return sheet.Samples(r.Nets.G, r.sheetZ, r.sheetY, r.Cfg.Options.SheetCols)
}

const metricsHeader = "iter,loss,cls_loss,d_loss,target_prob,d_score"

// writeMetrics rewrites metrics.csv with every iteration so far.
func (r *Run) writeMetrics() error {
	var b strings.Builder
	b.WriteString(metricsHeader + "\n")
	for _, m := range r.metrics {
		fmt.Fprintf(&b, "%d,%.6g,%.6g,%.6g,%.6g,%.6g\n", m.Iter, m.Loss, m.ClsLoss, m.DLoss, m.TargetProb, m.DScore)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.Dir, "metrics.csv"), []byte(b.String())); err != nil {
		return err
	}
	if len(r.metrics) == 0 {
		return nil
	}
	return r.plot()
}

// plot writes loss.png: the losses and the scores over the iterations.
func (r *Run) plot() error {
	x := make([]float64, len(r.metrics))
	cols := make([][]float64, 5)
	for i, m := range r.metrics {
		x[i] = float64(m.Iter)
		for j, v := range []float64{m.Loss, m.ClsLoss, m.DLoss, m.TargetProb, m.DScore} {
			cols[j] = append(cols[j], v)
		}
	}
	return report.Curves(filepath.Join(r.Dir, "loss.png"),
		report.Panel{Title: "losses", Lines: []report.Line{
			{Name: "loss", X: x, Y: cols[0]}, {Name: "w·cls_loss term", X: x, Y: scale(cols[1], r.Cfg.Options.WCls)},
			{Name: "w·d_loss term", X: x, Y: scale(cols[2], r.Cfg.Options.WD)}}},
		report.Panel{Title: "scores", Lines: []report.Line{
			{Name: "target_prob", X: x, Y: cols[3]}, {Name: "d_score", X: x, Y: cols[4]}}})
}

func scale(xs []float64, w float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = w * x
	}
	return out
}

// ReadConfig reads a run's config.json.
func ReadConfig(dir string) (RunConfig, error) {
	var cfg RunConfig
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return cfg, fmt.Errorf("finetune: %s is not a run directory: %w", dir, err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("finetune: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	return cfg, nil
}

// Snapshots lists the iterations that have a complete snapshot, in order.
func Snapshots(dir string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	var its []int
	for _, e := range entries {
		if it, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			its = append(its, it)
		}
	}
	sort.Ints(its)
	return its, nil
}

// Resume reopens the run in dir at its last snapshot: G's weights, the
// optimizer's moments, the random stream and the metrics are restored, so
// the rest of the run is the one an uninterrupted run would have made.
// nets must be the run's networks as config.json describes them.
func Resume(dir string, nets Nets) (*Run, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	its, err := Snapshots(dir)
	if err != nil || len(its) == 0 {
		return nil, fmt.Errorf("finetune: %s has no snapshot to resume from", dir)
	}
	last := SnapshotDir(dir, its[len(its)-1])
	if err := loadG(nets.G, filepath.Join(last, "G.safetensors")); err != nil {
		return nil, err
	}
	r, err := newRun(dir, cfg, nets)
	if err != nil {
		return nil, err
	}
	if err := r.restore(last); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func loadG(g *biggan.Generator, path string) error {
	state, _, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	return g.Params.Load(state, path)
}

func (r *Run) restore(snap string) error {
	var st struct {
		Iter      int    `json:"iter"`
		AdamSteps int64  `json:"adam_steps"`
		RNG       []byte `json:"rng"`
	}
	raw, err := os.ReadFile(filepath.Join(snap, "state.json"))
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("finetune: %s: %w", filepath.Join(snap, "state.json"), err)
	}
	if err := r.src.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("finetune: %s: random state: %w", snap, err)
	}
	r.iter, r.adam.Steps = st.Iter, st.AdamSteps
	if err := r.loadOptimizer(filepath.Join(snap, "optimizer.safetensors")); err != nil {
		return err
	}
	return r.loadMetrics()
}

func (r *Run) loadOptimizer(path string) error {
	state, _, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	for i := range r.adam.Params {
		for _, part := range []struct {
			name string
			t    *torch.Tensor
		}{{"m", r.adam.M[i]}, {"v", r.adam.V[i]}} {
			key := fmt.Sprintf("%d.%s", i, part.name)
			ct, ok := state[key]
			if !ok {
				return fmt.Errorf("finetune: %s: missing %q", path, key)
			}
			src, err := torch.FromFloat32(ct.Data, ct.Shape...)
			if err != nil {
				return fmt.Errorf("finetune: %s: %q: %w", path, key, err)
			}
			err = part.t.CopyFrom(src)
			src.Free()
			if err != nil {
				return fmt.Errorf("finetune: %s: %q: %w", path, key, err)
			}
		}
	}
	return nil
}

// loadMetrics reads metrics.csv up to the resumed iteration.
func (r *Run) loadMetrics() error {
	path := filepath.Join(r.Dir, "metrics.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	ms, err := ParseMetrics(string(raw))
	if err != nil {
		return fmt.Errorf("finetune: %s: %w", path, err)
	}
	for _, m := range ms {
		if m.Iter <= r.iter {
			if m.Iter != len(r.metrics)+1 {
				return fmt.Errorf("finetune: %s: row of iteration %d where %d was expected", path, m.Iter, len(r.metrics)+1)
			}
			r.metrics = append(r.metrics, m)
		}
	}
	if len(r.metrics) != r.iter {
		return fmt.Errorf("finetune: %s: %d rows, the snapshot is at iteration %d", path, len(r.metrics), r.iter)
	}
	return nil
}

// ParseMetrics reads the text of a metrics.csv.
func ParseMetrics(text string) ([]Metrics, error) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) == 0 || lines[0] != metricsHeader {
		return nil, fmt.Errorf("header is not %q", metricsHeader)
	}
	var out []Metrics
	for i, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) != 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6", i+2, len(f))
		}
		var m Metrics
		var err error
		if m.Iter, err = strconv.Atoi(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+2, err)
		}
		for j, dst := range []*float64{&m.Loss, &m.ClsLoss, &m.DLoss, &m.TargetProb, &m.DScore} {
			if *dst, err = strconv.ParseFloat(f[j+1], 64); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+2, err)
			}
		}
		out = append(out, m)
	}
	return out, nil
}
