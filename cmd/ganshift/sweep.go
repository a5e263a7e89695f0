package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/finetune"
	"ganshift/internal/atomicfile"
	"ganshift/progress"
	"ganshift/report"
	"ganshift/sheet"
	"ganshift/torch"
)

type sweepOptions struct {
	run        finetuneOptions // the settings every run shares
	wCls, wD   string
	modes      string
	classifier string
	out        string
	jobs       int
	columns    string
	cell       string
	emit       string
	threads    int // --threads: shared among the jobs
}

// setting is one run of a sweep.
type setting struct {
	name       string
	wCls, wD   float64
	mode       string // "" with a single classifier
	classifier string
}

func newSweepCmd() *cobra.Command {
	o := &sweepOptions{run: finetuneOptions{opt: finetune.Defaults()}}
	cmd := &cobra.Command{
		Use:   "sweep --classifier <file> --w-cls LIST --w-d LIST --out <dir>",
		Short: "Fine-tune once per combination of loss weights and classifiers, and compare the runs",
		Long: `Run one ordinary fine-tuning run per combination of --w-cls, --w-d and
--mode, each in OUT/NAME with NAME made of the settings (wcls1_wd0.5_joint),
then write OUT/contact.png (one row per run, one column per snapshot
iteration, every cell the same z and y) and OUT/report.html (each run's
progress and final metrics, linking the run's own report.html).

A mode names one of several classifiers given as --classifier MODE=FILE,...;
with a single --classifier FILE there is no mode. Running the same sweep
again skips finished runs and resumes unfinished ones from their last
snapshot. --jobs N trains N runs at once, each with --threads/N libtorch
threads; the model and classifiers are loaded once and shared, each run
fine-tunes its own copy of the generator. --emit-jobs FILE writes one
"ganshift finetune" command line per run instead (for Slurm arrays or
Kubernetes indexed jobs); a later "ganshift sweep" with the same flags
then only draws the contact sheet and the report.`,
		Example: `  ganshift sweep --classifier contrastive=c.safetensors,joint=j.safetensors \
      --w-cls 0.5,1,2 --w-d 0,0.5,1 --iters 600 --jobs 2 --out sweeps/weights
  ganshift sweep --classifier j.safetensors --w-cls 1,2 --w-d 1 --emit-jobs jobs.txt --out sweeps/s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			threads, err := cmd.Flags().GetInt("threads")
			if err != nil {
				return err
			}
			o.threads = threads
			return o.runSweep()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.classifier, "classifier", "", "classifier file, or MODE=FILE,MODE=FILE,... to sweep over")
	f.StringVar(&o.modes, "mode", "", "comma-separated modes of --classifier to run (default: all given)")
	f.StringVar(&o.wCls, "w-cls", "1", "comma-separated weights of the classifier loss")
	f.StringVar(&o.wD, "w-d", "1", "comma-separated weights of the discriminator loss")
	o.run.addRunFlags(f)
	f.StringVar(&o.out, "out", "", "sweep directory: one run directory per setting (required)")
	f.IntVar(&o.jobs, "jobs", 1, "runs trained at once")
	f.StringVar(&o.columns, "columns", "", "comma-separated iterations of the contact sheet (default: every snapshot, or 8 evenly spaced)")
	f.StringVar(&o.cell, "cell", "2x3", "samples per contact-sheet cell: ROWSxCOLS of the top-left of each snapshot sheet")
	f.StringVar(&o.emit, "emit-jobs", "", `write one "ganshift finetune" command per run to FILE ("-": stdout) instead of running`)
	cmd.MarkFlagRequired("out")
	return cmd
}

// modeName is what a mode may be called: it becomes part of a directory name.
var modeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// settings expands the lists into one setting per combination, in the
// order w-cls, w-d, mode (the last varying fastest).
func (o *sweepOptions) settings() ([]setting, error) {
	wCls, err := parseFloats(o.wCls)
	if err != nil {
		return nil, fmt.Errorf("--w-cls: %w", err)
	}
	wD, err := parseFloats(o.wD)
	if err != nil {
		return nil, fmt.Errorf("--w-d: %w", err)
	}
	if o.classifier == "" {
		return nil, errors.New("need --classifier FILE or --classifier MODE=FILE,...")
	}
	files := map[string]string{}
	var modes []string
	if strings.Contains(o.classifier, "=") {
		for _, kv := range strings.Split(o.classifier, ",") {
			mode, file, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || file == "" || !modeName.MatchString(mode) {
				return nil, fmt.Errorf("--classifier: %q is not MODE=FILE (a mode is letters, digits, '.', '_' or '-')", kv)
			}
			if _, dup := files[mode]; dup {
				return nil, fmt.Errorf("--classifier: mode %s given twice", mode)
			}
			files[mode] = file
			modes = append(modes, mode)
		}
		if o.modes != "" {
			modes = nil
			for _, m := range strings.Split(o.modes, ",") {
				m = strings.TrimSpace(m)
				if _, ok := files[m]; !ok {
					return nil, fmt.Errorf("--mode %s: no such --classifier MODE=FILE (have %s)", m, strings.Join(slices.Sorted(maps.Keys(files)), ", "))
				}
				modes = append(modes, m)
			}
		}
	} else {
		if o.modes != "" {
			return nil, errors.New("--mode picks among classifiers given as --classifier MODE=FILE,...")
		}
		files[""] = o.classifier
		modes = []string{""}
	}
	var out []setting
	seen := map[string]bool{}
	for _, wc := range wCls {
		for _, wd := range wD {
			for _, m := range modes {
				s := setting{wCls: wc, wD: wd, mode: m, classifier: files[m]}
				s.name = "wcls" + formatFloat(wc) + "_wd" + formatFloat(wd)
				if m != "" {
					s.name += "_" + m
				}
				if seen[s.name] {
					return nil, fmt.Errorf("setting %s given twice", s.name)
				}
				seen[s.name] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// parseFloats reads a comma-separated list of at least one number.
func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// config is the config.json of the run of s.
func (o *sweepOptions) config(s setting) (finetune.RunConfig, error) {
	ro := o.run
	ro.opt.WCls, ro.opt.WD, ro.classifier = s.wCls, s.wD, s.classifier
	return ro.runConfig()
}

func (o *sweepOptions) runSweep() error {
	settings, err := o.settings()
	if err != nil {
		return err
	}
	if o.jobs < 1 {
		return fmt.Errorf("--jobs %d: need at least 1", o.jobs)
	}
	if o.emit != "" {
		return o.emitJobs(settings)
	}
	// Open every classifier before writing anything, so that a wrong path
	// leaves no half-made sweep behind.
	checked := map[string]bool{}
	for _, st := range settings {
		if checked[st.classifier] {
			continue
		}
		c, err := loadClassifier(st.classifier)
		if err != nil {
			return err
		}
		c.Free()
		checked[st.classifier] = true
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var todo []job
	for _, s := range settings {
		j, err := o.plan(s)
		if err != nil {
			return err
		}
		if j.finished {
			progress.Printf("%s: finished, skipped\n", s.name)
			continue
		}
		todo = append(todo, j)
	}
	runErr := o.train(todo)
	if err := o.writeContact(settings); err != nil {
		return errors.Join(runErr, err)
	}
	if err := report.WriteSweep(o.out, sweepRuns(settings)); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Println("wrote", filepath.Join(o.out, "report.html"))
	return runErr
}

// job is a setting to train: a new run, or one to resume.
type job struct {
	setting
	dir      string
	cfg      finetune.RunConfig
	resume   bool
	finished bool
}

// plan works out what to do with the run directory of s: start it,
// resume it or skip it. A directory that holds a run of other settings
// is an error: the sweep does not overwrite it.
func (o *sweepOptions) plan(s setting) (job, error) {
	cfg, err := o.config(s)
	if err != nil {
		return job{}, err
	}
	j := job{setting: s, dir: filepath.Join(o.out, s.name), cfg: cfg}
	old, err := finetune.ReadConfig(j.dir)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(j.dir, "config.json")); statErr == nil {
			return job{}, err // there, but unreadable
		}
		return j, nil
	}
	if diff := configDiff(old, cfg); diff != "" {
		return job{}, fmt.Errorf("%s holds a run of other settings (%s): remove it or sweep into another --out", j.dir, diff)
	}
	its, err := finetune.Snapshots(j.dir)
	if err != nil || len(its) == 0 {
		// Killed before its first snapshot: nothing to keep.
		if err := os.RemoveAll(j.dir); err != nil {
			return job{}, fmt.Errorf("sweep: %w", err)
		}
		return j, nil
	}
	j.finished = its[len(its)-1] >= cfg.Options.Iters
	j.resume = !j.finished
	return j, nil
}

// configDiff names the settings in which two run configs differ, or
// returns "" when they describe the same run.
func configDiff(have, want finetune.RunConfig) string {
	flat := func(c finetune.RunConfig) []report.Field {
		raw, _ := json.Marshal(map[string]any{"options": c.Options, "model": c.Model, "generator": c.Generator, "classifier": c.Classifier})
		fs, _ := report.Flatten(raw)
		return fs
	}
	a, b := flat(have), flat(want)
	var diffs []string
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			diffs = append(diffs, fmt.Sprintf("%s is %s, not %s", a[i].Key, a[i].Value, b[i].Value))
		}
	}
	return strings.Join(diffs, "; ")
}

// train runs the jobs, o.jobs at a time. The model is loaded once and
// each classifier once; D and the classifiers are only read by the runs,
// and each run fine-tunes its own copy of the generator. The first Ctrl-C
// stops every run at its next snapshot and starts no more.
func (o *sweepOptions) train(todo []job) error {
	if len(todo) == 0 {
		return nil
	}
	m, _, err := loadModel(o.run.model)
	if err != nil {
		return err
	}
	defer m.Free()
	base := m.Sampler()
	if o.run.which == "G" {
		base = m.G
	}
	nets := map[string]*classifier.Net{}
	defer func() {
		for _, c := range nets {
			c.Free()
		}
	}()
	for _, j := range todo {
		if nets[j.classifier] == nil {
			c, err := loadClassifier(j.classifier)
			if err != nil {
				return err
			}
			nets[j.classifier] = c
		}
	}

	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			stop.Store(true)
			progress.Printf("\nstopping every run at its next snapshot (Ctrl-C again to kill)\n")
			signal.Stop(sig)
		}
	}()

	workers := min(o.jobs, len(todo))
	threads := max(1, o.threads/workers)
	errs := make([]error, len(todo))
	var setup sync.Mutex // Start and Resume set D's and C's requires-grad flags
	work := func(next func() (int, bool)) {
		// libtorch's thread count is per OS thread: pin this worker to
		// one and set it there.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		torch.SetThreads(threads)
		for i, ok := next(); ok; i, ok = next() {
			j := todo[i]
			if err := trainJob(j, base, m.D, nets[j.classifier], &setup, stop.Load); err != nil {
				errs[i] = fmt.Errorf("%s: %w", j.name, err)
				progress.Printf("%s: %v\n", j.name, err)
			}
		}
	}
	if workers <= 1 {
		// One worker runs on this goroutine, the thread that loaded the
		// networks: a second thread would start a second OpenMP team
		// (see main's init).
		i := 0
		work(func() (int, bool) {
			if i >= len(todo) || stop.Load() {
				return 0, false
			}
			i++
			return i - 1, true
		})
	} else {
		queue := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(func() (int, bool) { i, ok := <-queue; return i, ok })
			}()
		}
		for i := range todo {
			if stop.Load() {
				break
			}
			queue <- i
		}
		close(queue)
		wg.Wait()
	}
	if stop.Load() {
		progress.Printf("stopped; run the same sweep again to continue\n")
	}
	return errors.Join(errs...)
}

// trainJob starts or resumes one run with its own copy of base and trains
// it to the end or until stop.
func trainJob(j job, base *biggan.Generator, d *biggan.Discriminator, c *classifier.Net, setup *sync.Mutex, stop func() bool) error {
	g, err := biggan.NewGenerator(base.Cfg, 0)
	if err != nil {
		return err
	}
	defer g.Free()
	if err := g.Params.CopyFrom(base.Params); err != nil {
		return err
	}
	nets := finetune.Nets{G: g, D: d, C: c}
	setup.Lock()
	var run *finetune.Run
	if j.resume {
		run, err = finetune.Resume(j.dir, nets)
	} else {
		run, err = finetune.Start(j.dir, j.cfg, nets)
	}
	setup.Unlock()
	if err != nil {
		return err
	}
	defer run.Close()
	if j.resume {
		progress.Printf("%s: resuming at iteration %d of %d\n", j.name, run.Iter(), j.cfg.Options.Iters)
	} else {
		progress.Printf("%s: starting\n", j.name)
	}
	return run.Train(j.name, stop)
}

// sweepRuns describes the settings for the sweep's report.
func sweepRuns(settings []setting) []report.SweepRun {
	out := make([]report.SweepRun, len(settings))
	for i, s := range settings {
		fs := []report.Field{{Key: "w_cls", Value: formatFloat(s.wCls)}, {Key: "w_d", Value: formatFloat(s.wD)}}
		if s.mode != "" {
			fs = append(fs, report.Field{Key: "mode", Value: s.mode})
		}
		out[i] = report.SweepRun{Name: s.name, Settings: fs}
	}
	return out
}

// maxColumns is the most snapshot columns a default contact sheet has.
const maxColumns = 8

// writeContact writes OUT/contact.png: one row per setting, one column
// per chosen iteration, each cell the top-left of that snapshot's sheet.
// Snapshots that do not exist (yet) are grey cells.
func (o *sweepOptions) writeContact(settings []setting) error {
	var rows, cols int
	if _, err := fmt.Sscanf(o.cell, "%dx%d", &rows, &cols); err != nil || rows < 1 || cols < 1 {
		return fmt.Errorf("--cell %q: want ROWSxCOLS, such as 2x3", o.cell)
	}
	var iters []int
	if o.columns != "" {
		its, err := parseInts(o.columns)
		if err != nil {
			return fmt.Errorf("--columns: %w", err)
		}
		iters = its
	}
	var all []int
	for _, s := range settings {
		its, _ := finetune.Snapshots(filepath.Join(o.out, s.name))
		all = append(all, its...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if o.columns == "" {
		iters = spread(all, maxColumns)
	}
	if len(iters) == 0 {
		return nil // no snapshot yet
	}
	cells := make([][]image.Image, len(settings))
	labels := make([]string, len(settings))
	drawn := false
	for r, s := range settings {
		labels[r] = s.name
		cells[r] = make([]image.Image, len(iters))
		dir := filepath.Join(o.out, s.name)
		cfg, err := finetune.ReadConfig(dir)
		if err != nil {
			continue // not started
		}
		res := cfg.ModelCfg.Resolution
		for c, it := range iters {
			path := filepath.Join(finetune.SnapshotDir(dir, it), "samples.png")
			if _, err := os.Stat(path); err != nil {
				continue
			}
			img, err := report.ReadSheet(path)
			if err != nil {
				return err
			}
			crop, err := report.CropSheet(img, cfg.Options.SheetCols, res*sheet.Scale(res), rows, cols)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			cells[r][c] = crop
			drawn = true
		}
	}
	if !drawn {
		return nil
	}
	titles := make([]string, len(iters))
	for i, it := range iters {
		titles[i] = "iter " + strconv.Itoa(it)
	}
	path := filepath.Join(o.out, "contact.png")
	if err := sheet.SavePNG(path, report.Contact(cells, labels, titles)); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

// spread picks at most n of its, evenly spaced, the first and last
// included.
func spread(its []int, n int) []int {
	if len(its) <= n {
		return its
	}
	out := make([]int, n)
	for k := range n {
		out[k] = its[(k*(len(its)-1)+(n-1)/2)/(n-1)]
	}
	return out
}

// emitJobs writes one shell command line per setting to o.emit.
func (o *sweepOptions) emitJobs(settings []setting) error {
	var b bytes.Buffer
	for _, s := range settings {
		b.WriteString(shellJoin(o.finetuneArgs(s)))
		b.WriteByte('\n')
	}
	if o.emit == "-" {
		_, err := io.Copy(os.Stdout, &b)
		return err
	}
	if err := atomicfile.WriteFile(o.emit, b.Bytes()); err != nil {
		return err
	}
	fmt.Printf("wrote %d commands to %s\n", len(settings), o.emit)
	return nil
}

// finetuneArgs is the command line of the run of s, every setting
// spelled out.
func (o *sweepOptions) finetuneArgs(s setting) []string {
	r, opt := o.run, o.run.opt
	args := []string{"ganshift", "finetune",
		"--model", r.model, "--generator", r.which, "--classifier", s.classifier,
		"--w-cls", formatFloat(s.wCls), "--w-d", formatFloat(s.wD),
		"--iters", strconv.Itoa(opt.Iters), "--batch", strconv.Itoa(opt.Batch),
		"--snapshot-every", strconv.Itoa(opt.SnapshotEvery), "--lr", formatFloat(opt.LR),
		"--seed", strconv.FormatUint(opt.Seed, 10), "--truncation", formatFloat(opt.Truncation),
		"--bn-mode", opt.BNMode,
	}
	if r.classes != "" {
		args = append(args, "--classes", r.classes)
	}
	if r.train != "" {
		args = append(args, "--train", r.train)
	}
	return append(args, "--out", filepath.Join(o.out, s.name))
}

// shellSafe are the words a POSIX shell reads as themselves.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellJoin quotes args for a POSIX shell and joins them with spaces.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if shellSafe.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
