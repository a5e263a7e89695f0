package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"ganshift/assets"
	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/finetune"
	"ganshift/torch"
)

// benchCase is one measurement. The parent process runs each in a fresh
// child (ganshift bench --run-case JSON) and, where Peer is set, in a fresh
// PyTorch process (tools/bench/peer.py), so that each peak memory is its own.
type benchCase struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`   // step, sample, cls, sgemm
	Res    int    `json:"res"`    // BigGAN resolution (step, sample)
	Width  int    `json:"width"`  // G and D width (0: the embedded model, for step at 32)
	Arch   string `json:"arch"`   // classifier of a step: resnet50, resnet18, smallcnn
	CWidth int    `json:"cwidth"` // ResNet base width (64 is torchvision's)
	Size   int    `json:"size"`   // classifier input size, or the sgemm's matrix side
	Batch  int    `json:"batch"`
	Warmup int    `json:"warmup"`
	Iters  int    `json:"iters"`
	Peer   bool   `json:"peer"`  // also run the PyTorch peer
	Flops  bool   `json:"flops"` // have the peer count the step's FLOPs
	BF16   bool   `json:"bf16"`  // bfloat16 autocast of D and C (step)
}

// benchResult is what a child prints as its last line.
type benchResult struct {
	Times    []float64          `json:"times"`
	Median   float64            `json:"median_s"`
	PeakMB   float64            `json:"peak_mb"`
	PerIter  int                `json:"per_iter"` // images per timed iteration
	Flops    map[string]float64 `json:"flops,omitempty"`
	CPU      float64            `json:"cpu_s"` // median CPU seconds (user+system) per timed iteration
	Torch    string             `json:"torch,omitempty"`
	Libs     []string           `json:"libs,omitempty"` // BLAS, oneDNN and OpenMP libraries mapped (sgemm only)
	MKLDNN   *bool              `json:"mkldnn,omitempty"`
	MaxDiff  float64            `json:"max_diff,omitempty"`  // drift: max |G bf16 − G float32| after the steps
	MeanDiff float64            `json:"mean_diff,omitempty"` // drift: mean |G bf16 − G float32|
	Moved    float64            `json:"moved,omitempty"`     // drift: mean |G float32 after − before the steps|
}

type benchOptions struct {
	quick   bool
	out     string
	python  string
	peer    string
	runCase string
	only    []string
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--out docs/performance.md]",
		Short: "Time ganshift against a PyTorch script of the same computation and write markdown tables",
		Long: `bench times, for ganshift and for tools/bench/peer.py (the same networks in
PyTorch, from tools/reference), a full-width BigGAN-128 fine-tuning step with a
ResNet-50 classifier (step128), the demo's 32×32 step (step32), both again with
D and the classifier under bf16 autocast where the CPU has AVX512-BF16 or AMX
(step128-bf16, step32-bf16, each with how far 50 identical steps take G's
samples from float32's), 128×128 sampling (sample128) and small-CNN classifier
training (cls32); it counts each step's FLOPs, measures the float32
matrix-multiply peak (sgemm), and times ganshift's step against batch size
(batch) and resolution (res). Each case runs in a fresh process. Results go to
--out as markdown; the full run takes about 12 minutes on a 2-core CPU.
--quick runs a reduced set to check the harness in under a minute: narrow
networks, fewer iterations, no step128-bf16, 5 drift steps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.runCase != "" {
				return runBenchChild(o.runCase)
			}
			return runBench(cmd, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "reduced run to check the harness: narrow networks, fewer iterations")
	f.StringVar(&o.out, "out", "docs/performance.md", "markdown file to write")
	f.StringVar(&o.python, "python", "/usr/bin/python3", "a Python with PyTorch, for the peer; empty skips it")
	f.StringVar(&o.peer, "peer", "tools/bench/peer.py", "the PyTorch peer script")
	f.StringVar(&o.runCase, "run-case", "", "run one case (JSON) in this process and print its result")
	f.StringSliceVar(&o.only, "only", nil, "run only these cases: "+strings.Join(benchCaseNames, ", "))
	_ = f.MarkHidden("run-case")
	return cmd
}

// benchCaseNames are the names --only takes.
var benchCaseNames = []string{"step128", "step128-bf16", "step32", "step32-bf16", "sample128", "cls32", "sgemm", "batch", "res"}

func benchCases(quick bool) (main, scaling []benchCase) {
	if quick {
		main = []benchCase{
			{Name: "step128", Kind: "step", Res: 128, Width: 16, Arch: "resnet18", CWidth: 16, Size: 224, Batch: 9, Warmup: 1, Iters: 3, Peer: true, Flops: true},
			{Name: "step32", Kind: "step", Res: 32, Arch: "smallcnn", Size: 32, Batch: 9, Warmup: 1, Iters: 3, Peer: true, Flops: true},
			{Name: "step32-bf16", Kind: "step", Res: 32, Arch: "smallcnn", Size: 32, Batch: 9, Warmup: 1, Iters: 3, Peer: true, BF16: true},
			{Name: "sample128", Kind: "sample", Res: 128, Width: 16, Batch: 16, Warmup: 1, Iters: 3, Peer: true},
			{Name: "cls32", Kind: "cls", Arch: "smallcnn", Size: 32, Batch: 64, Warmup: 1, Iters: 3, Peer: true},
			{Name: "sgemm", Kind: "sgemm", Size: 1024, Warmup: 1, Iters: 3, Peer: true},
		}
		for _, b := range []int{1, 9} {
			scaling = append(scaling, benchCase{Name: "batch", Kind: "step", Res: 32, Width: 8, Arch: "smallcnn", Size: 32, Batch: b, Warmup: 1, Iters: 3})
		}
		for _, r := range []int{32, 64} {
			scaling = append(scaling, benchCase{Name: "res", Kind: "step", Res: r, Width: 8, Arch: "smallcnn", Size: r, Batch: 4, Warmup: 1, Iters: 3})
		}
		return main, scaling
	}
	main = []benchCase{
		{Name: "step128", Kind: "step", Res: 128, Width: 96, Arch: "resnet50", CWidth: 64, Size: 224, Batch: 9, Warmup: 1, Iters: 5, Peer: true, Flops: true},
		{Name: "step128-bf16", Kind: "step", Res: 128, Width: 96, Arch: "resnet50", CWidth: 64, Size: 224, Batch: 9, Warmup: 1, Iters: 5, Peer: true, BF16: true},
		{Name: "step32", Kind: "step", Res: 32, Arch: "smallcnn", Size: 32, Batch: 9, Warmup: 2, Iters: 10, Peer: true, Flops: true},
		{Name: "step32-bf16", Kind: "step", Res: 32, Arch: "smallcnn", Size: 32, Batch: 9, Warmup: 2, Iters: 10, Peer: true, BF16: true},
		{Name: "sample128", Kind: "sample", Res: 128, Width: 96, Batch: 16, Warmup: 1, Iters: 5, Peer: true},
		{Name: "cls32", Kind: "cls", Arch: "smallcnn", Size: 32, Batch: 64, Warmup: 2, Iters: 10, Peer: true},
		{Name: "sgemm", Kind: "sgemm", Size: 2048, Warmup: 1, Iters: 5, Peer: true},
	}
	for _, b := range []int{1, 9, 32} {
		scaling = append(scaling, benchCase{Name: "batch", Kind: "step", Res: 128, Width: 32, Arch: "smallcnn", Size: 128, Batch: b, Warmup: 1, Iters: 5})
	}
	for _, r := range []int{32, 64, 128} {
		scaling = append(scaling, benchCase{Name: "res", Kind: "step", Res: r, Width: 32, Arch: "smallcnn", Size: r, Batch: 9, Warmup: 1, Iters: 5})
	}
	return main, scaling
}

// describe says in words what a case computes.
func (c benchCase) describe() string {
	switch c.Kind {
	case "step":
		g := fmt.Sprintf("BigGAN-%d G/D width %d", c.Res, c.Width)
		if c.Width == 0 {
			g = "embedded MNIST BigGAN-32 (width 8)"
		}
		cls := fmt.Sprintf("small CNN at %d px", c.Size)
		if c.Arch != "smallcnn" {
			cls = fmt.Sprintf("%s (base width %d) at %d px", c.Arch, c.CWidth, c.Size)
		}
		bf16 := ""
		if c.BF16 {
			bf16 = ", D and classifier under bf16 autocast"
		}
		return fmt.Sprintf("fine-tuning step: %s, %s, batch %d%s", g, cls, c.Batch, bf16)
	case "sample":
		return fmt.Sprintf("sampling: BigGAN-%d G width %d, eval, no grad, batch %d", c.Res, c.Width, c.Batch)
	case "cls":
		return fmt.Sprintf("classifier training step: small CNN, %d px, batch %d, Adam", c.Size, c.Batch)
	case "sgemm":
		return fmt.Sprintf("float32 matmul %d×%d · %d×%d", c.Size, c.Size, c.Size, c.Size)
	}
	return c.Name
}

// ---- child side ----

func runBenchChild(spec string) error {
	var c benchCase
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		return fmt.Errorf("bench: case: %w", err)
	}
	if c.Kind == "drift" {
		return printJSON(benchDrift(c))
	}
	var (
		iter    func() error
		cleanup func()
		per     int
	)
	var err error
	switch c.Kind {
	case "step":
		iter, cleanup, err = benchStep(c)
		per = c.Batch
	case "sample":
		iter, cleanup, err = benchSample(c)
		per = c.Batch
	case "cls":
		iter, cleanup, err = benchCls(c)
		per = c.Batch
	case "sgemm":
		iter, cleanup, err = benchSgemm(c)
		per = 1
	default:
		err = fmt.Errorf("bench: unknown kind %q", c.Kind)
	}
	if err != nil {
		return err
	}
	defer cleanup()
	for range c.Warmup {
		if err := iter(); err != nil {
			return err
		}
	}
	r := benchResult{PerIter: per}
	var cpus []float64
	for range c.Iters {
		c0 := cpuSeconds()
		t0 := time.Now()
		if err := iter(); err != nil {
			return err
		}
		r.Times = append(r.Times, time.Since(t0).Seconds())
		cpus = append(cpus, cpuSeconds()-c0)
	}
	r.Median, r.CPU = median(r.Times), median(cpus)
	if c.Kind == "sgemm" {
		r.Libs = mappedLibs()
	}
	r.PeakMB = vmHWM()
	if c.Kind == "sgemm" {
		r.Flops = map[string]float64{"step": 2 * float64(c.Size) * float64(c.Size) * float64(c.Size)}
	}
	return printJSON(r, nil)
}

// printJSON prints r as the child's result line.
func printJSON(r benchResult, err error) error {
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(raw))
	return nil
}

func benchGAN(c benchCase) (*biggan.Generator, *biggan.Discriminator, error) {
	if c.Width == 0 {
		m, err := assets.Model()
		if err != nil {
			return nil, nil, err
		}
		if m.GEma != nil {
			m.GEma.Free()
		}
		return m.G, m.D, nil
	}
	cfg := biggan.Released()
	cfg.Resolution, cfg.GCh, cfg.DCh = c.Res, c.Width, c.Width
	cfg.GAttn, cfg.DAttn = []int{c.Res / 2}, []int{c.Res / 2}
	g, err := biggan.NewGenerator(cfg, 1)
	if err != nil {
		return nil, nil, err
	}
	d, err := biggan.NewDiscriminator(cfg, 2)
	if err != nil {
		g.Free()
		return nil, nil, err
	}
	return g, d, nil
}

// stepNets builds the networks, optimizer and options of a step case.
func stepNets(c benchCase) (finetune.Nets, *torch.Adam, finetune.Options, func(), error) {
	opt := finetune.Defaults()
	opt.Batch = c.Batch
	opt.AutocastBF16 = c.BF16
	if c.BF16 && !torch.BF16Supported() {
		return finetune.Nets{}, nil, opt, nil, torch.ErrNoBF16
	}
	g, d, err := benchGAN(c)
	if err != nil {
		return finetune.Nets{}, nil, opt, nil, err
	}
	ccfg := classifier.Config{Arch: c.Arch, Size: c.Size, Classes: 2, Target: 1}
	if c.Arch != "smallcnn" {
		ccfg.Width = c.CWidth
	}
	cls, err := classifier.New(ccfg, 3)
	if err != nil {
		g.Free()
		d.Free()
		return finetune.Nets{}, nil, opt, nil, err
	}
	nets := finetune.Nets{G: g, D: d, C: cls}
	free := func() { g.Free(); d.Free(); cls.Free() }
	vars, err := finetune.Prepare(nets, nil)
	if err != nil {
		free()
		return finetune.Nets{}, nil, opt, nil, err
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	adam, err := torch.NewAdam(ts, opt.LR, opt.Beta1, opt.Beta2, opt.AdamEps)
	if err != nil {
		free()
		return finetune.Nets{}, nil, opt, nil, err
	}
	return nets, adam, opt, func() { adam.Free(); free() }, nil
}

func benchStep(c benchCase) (func() error, func(), error) {
	nets, adam, opt, cleanup, err := stepNets(c)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	iter := func() error {
		_, err := finetune.Step(nets, adam, rng, opt)
		return err
	}
	return iter, cleanup, nil
}

// benchDrift runs c.Iters steps from the same weights and batches twice,
// in float32 and under bf16 autocast, and compares the two generators'
// samples of 16 fixed latents: the largest and the mean difference, and
// for scale how far the float32 samples moved over the steps.
func benchDrift(c benchCase) (benchResult, error) {
	var before []float32
	var after [2][]float32
	for i, bf16 := range []bool{false, true} {
		c.BF16 = bf16
		nets, adam, opt, cleanup, err := stepNets(c)
		if err != nil {
			return benchResult{}, err
		}
		z, y := finetune.Latents(rand.New(rand.NewPCG(2, 2)), 16, nets.G.Cfg.DimZ, nets.G.Cfg.NClasses, opt)
		if i == 0 {
			before, err = nets.G.Images(z, y, 16)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for n := 0; n < c.Iters && err == nil; n++ {
			_, err = finetune.Step(nets, adam, rng, opt)
		}
		if err == nil {
			after[i], err = nets.G.Images(z, y, 16)
		}
		cleanup()
		if err != nil {
			return benchResult{}, err
		}
	}
	r := benchResult{PerIter: c.Iters, PeakMB: vmHWM()}
	for i, v := range after[0] {
		d := math.Abs(float64(v - after[1][i]))
		r.MaxDiff = max(r.MaxDiff, d)
		r.MeanDiff += d / float64(len(before))
		r.Moved += math.Abs(float64(v-before[i])) / float64(len(before))
	}
	return r, nil
}

// driftCase is the case whose drift a bf16 row reports: the same step at
// 32×32; at 128×128 G/D width 16 and a ResNet-50 of base width 16, since
// 100 full-width steps would take longer than the rest of the benchmark.
func (c benchCase) driftCase(steps int) benchCase {
	d := c
	d.Kind, d.Iters, d.Warmup, d.Peer, d.Flops = "drift", steps, 0, false, false
	if d.Res == 128 {
		d.Width, d.CWidth = 16, 16
	}
	return d
}

func benchSample(c benchCase) (func() error, func(), error) {
	g, d, err := benchGAN(c)
	if err != nil {
		return nil, nil, err
	}
	d.Free()
	rng := rand.New(rand.NewPCG(1, 1))
	opt := finetune.Defaults()
	iter := func() error {
		z, y := finetune.Latents(rng, c.Batch, g.Cfg.DimZ, g.Cfg.NClasses, opt)
		_, err := g.Images(z, y, c.Batch)
		return err
	}
	return iter, g.Free, nil
}

func benchCls(c benchCase) (func() error, func(), error) {
	n, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: c.Size, Classes: 10, Target: 0}, 3)
	if err != nil {
		return nil, nil, err
	}
	vars, err := n.Params.Trainable()
	if err == nil {
		err = n.Params.SetRequiresGrad(vars)
	}
	if err != nil {
		n.Free()
		return nil, nil, err
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	adam, err := torch.NewAdam(ts, 1e-3, 0.9, 0.999, 1e-8)
	if err != nil {
		n.Free()
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	pix := make([]float32, c.Batch*3*c.Size*c.Size)
	for i := range pix {
		pix[i] = rng.Float32()*2 - 1
	}
	ys := make([]int64, c.Batch)
	for i := range ys {
		ys[i] = int64(rng.IntN(10))
	}
	b, sz := int64(c.Batch), int64(c.Size)
	iter := func() error {
		s := torch.NewScope()
		defer s.Close()
		loss := s.CrossEntropy(n.Logits(s, s.FromFloat32(pix, b, 3, sz, sz)), s.FromInt64(ys, b))
		if err := s.Err(); err != nil {
			return err
		}
		if _, err := loss.Item(); err != nil {
			return err
		}
		if err := loss.Backward(); err != nil {
			return err
		}
		return adam.Step()
	}
	return iter, func() { adam.Free(); n.Free() }, nil
}

func benchSgemm(c benchCase) (func() error, func(), error) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := c.Size * c.Size
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	ta, err := torch.FromFloat32(a, int64(c.Size), int64(c.Size))
	if err != nil {
		return nil, nil, err
	}
	tb, err := torch.FromFloat32(b, int64(c.Size), int64(c.Size))
	if err != nil {
		ta.Free()
		return nil, nil, err
	}
	iter := func() error {
		s := torch.NewScope()
		defer s.Close()
		s.SetGrad(false)
		s.Matmul(ta, tb)
		return s.Err()
	}
	return iter, func() { ta.Free(); tb.Free() }, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// mappedLibs lists the BLAS, oneDNN and OpenMP libraries in the process's
// memory map, resolved to their files: which BLAS libtorch really uses.
func mappedLibs() []string {
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		base := strings.ToLower(filepath.Base(f[5]))
		if strings.Contains(base, "blas") || strings.Contains(base, "mkl") || strings.Contains(base, "dnnl") || strings.Contains(base, "omp") || strings.Contains(base, "lapack") {
			if !slices.Contains(out, f[5]) {
				out = append(out, f[5])
			}
		}
	}
	return out
}

// vmHWM is the process's peak resident memory in MB.
func vmHWM() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// ---- parent side ----

// lastJSON decodes the last line of out that starts with '{'.
func lastJSON(out []byte, v any) error {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") {
			return json.Unmarshal([]byte(lines[i]), v)
		}
	}
	return fmt.Errorf("no result line in output")
}

func runChild(name string, args []string) (benchResult, error) {
	var r benchResult
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tail := stderr.String()
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		return r, fmt.Errorf("%s: %v: %s", filepath.Base(name), err, strings.TrimSpace(tail))
	}
	return r, lastJSON(stdout.Bytes(), &r)
}

func (c benchCase) peerArgs(script string, threads int) []string {
	args := []string{script, "--case", c.Name, "--threads", strconv.Itoa(threads),
		"--iters", strconv.Itoa(c.Iters), "--warmup", strconv.Itoa(c.Warmup), "--batch", strconv.Itoa(c.Batch)}
	switch c.Kind {
	case "step":
		if c.Res == 128 {
			args = append(args, "--width", strconv.Itoa(c.Width), "--arch", c.Arch, "--cls-width", strconv.Itoa(c.CWidth))
		}
		if c.Flops {
			args = append(args, "--flops")
		}
		if c.BF16 {
			args = append(args, "--bf16")
		}
	case "sample":
		args = append(args, "--width", strconv.Itoa(c.Width))
	case "sgemm":
		args = append(args, "--size", strconv.Itoa(c.Size))
	}
	return args
}

type benchRow struct {
	c        benchCase
	gs, py   benchResult
	gsE, pyE error

	// drift, for a bf16 row: its driftCase's result.
	drift  *benchResult
	driftC benchCase
	driftE error
}

func runBench(cmd *cobra.Command, o *benchOptions) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	threads := torch.Threads()
	log := cmd.ErrOrStderr()
	start := time.Now()
	main, scaling := benchCases(o.quick)
	if len(o.only) > 0 {
		keep := func(cs []benchCase) []benchCase {
			return slices.DeleteFunc(cs, func(c benchCase) bool { return !slices.Contains(o.only, c.Name) })
		}
		main, scaling = keep(main), keep(scaling)
		if len(main)+len(scaling) == 0 {
			return fmt.Errorf("bench: --only %s names no case; the cases are %s", strings.Join(o.only, ","), strings.Join(benchCaseNames, ", "))
		}
	}
	load0 := loadAvg()
	if l, err := strconv.ParseFloat(strings.Fields(load0 + " 0")[0], 64); err == nil && l > 1 {
		fmt.Fprintf(log, "bench: load average %s: other processes will inflate both sides' times\n", load0)
	}
	child := func(c benchCase) (benchResult, error) {
		spec, _ := json.Marshal(c)
		return runChild(self, []string{"bench", "-q", "--threads", strconv.Itoa(threads), "--run-case", string(spec)})
	}
	driftSteps := 50
	if o.quick {
		driftSteps = 5
	}
	var rows, scale []benchRow
	for _, c := range main {
		if c.BF16 && !torch.BF16Supported() {
			fmt.Fprintf(log, "bench: %s: skipped: %v\n", c.Name, torch.ErrNoBF16)
			continue
		}
		row := benchRow{c: c}
		fmt.Fprintf(log, "bench: %s (%s): ganshift…\n", c.Name, c.describe())
		row.gs, row.gsE = child(c)
		if c.Peer && o.python != "" {
			fmt.Fprintf(log, "bench: %s: PyTorch peer…\n", c.Name)
			row.py, row.pyE = runChild(o.python, c.peerArgs(o.peer, threads))
		}
		if c.BF16 {
			row.driftC = c.driftCase(driftSteps)
			fmt.Fprintf(log, "bench: %s: %d steps in float32 and in bf16…\n", c.Name, driftSteps)
			d, err := child(row.driftC)
			row.drift, row.driftE = &d, err
		}
		for _, e := range []error{row.gsE, row.pyE, row.driftE} {
			if e != nil {
				fmt.Fprintf(log, "bench: %s: %v\n", c.Name, e)
			}
		}
		rows = append(rows, row)
	}
	for _, c := range scaling {
		fmt.Fprintf(log, "bench: scaling: %s…\n", c.describe())
		row := benchRow{c: c}
		row.gs, row.gsE = child(c)
		if row.gsE != nil {
			fmt.Fprintf(log, "bench: %v\n", row.gsE)
		}
		scale = append(scale, row)
	}
	md := benchMarkdown(o, threads, rows, scale, time.Since(start), load0, loadAvg())
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: wrote %s in %v\n", o.out, time.Since(start).Round(time.Second))
	return nil
}

func lscpu() (model, cpus string) {
	out, err := exec.Command("lscpu").Output()
	if err != nil {
		return "unknown", strconv.Itoa(runtime.NumCPU())
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Model name":
			model = strings.TrimSpace(v)
		case "CPU(s)":
			cpus = strings.TrimSpace(v)
		}
	}
	return model, cpus
}

func fmtTime(r benchResult, err error) string {
	if err != nil {
		return "failed"
	}
	if r.Median == 0 { // not run (no peer)
		return "–"
	}
	if r.Median >= 1 {
		return fmt.Sprintf("%.2f s", r.Median)
	}
	return fmt.Sprintf("%.1f ms", r.Median*1e3)
}

func fmtMB(r benchResult, err error) string {
	if err != nil || r.PeakMB == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", r.PeakMB)
}

func ok(r benchResult, err error) bool { return err == nil && r.Median > 0 }

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func benchMarkdown(o *benchOptions, threads int, rows, scale []benchRow, took time.Duration, load0, load1 string) string {
	var b strings.Builder
	model, cpus := lscpu()
	pyTorch := ""
	for _, r := range rows {
		if r.py.Torch != "" {
			pyTorch = r.py.Torch
		}
	}
	mode := "full"
	if o.quick {
		mode = "**--quick** (narrow networks, few iterations: checks the harness; the numbers are not the benchmark)"
	}
	fmt.Fprintf(&b, "# Performance\n\n")
	fmt.Fprintf(&b, "Written by `ganshift bench` (`make bench`); mode: %s. Run on %s UTC, took %v.\n\n",
		mode, time.Now().UTC().Format("2006-01-02 15:04"), took.Round(time.Second))
	b.WriteString("Measure on an otherwise idle machine. ganshift runs all its libtorch work from one OS thread, so one OpenMP team serves the whole process (see cmd/ganshift's init). When other processes hold cores, libgomp's spin-waiting threads make steps of many small operations (the 32×32 cases) 10–70× slower on either side, by chance per process (seen on this 2-core machine at load 3–4: 35 ms or 1–2.5 s for the same step32, ganshift and PyTorch alike); the CPU-s column then grows with the wall time, since the threads spin rather than sleep, and the load average below is above 1.\n\n")
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n| CPU | %s |\n| CPUs (lscpu) | %s |\n| threads (both sides) | %d |\n| ganshift | %s, libtorch via cgo |\n| PyTorch peer | %s (`tools/bench/peer.py`, %s) |\n| load average (1, 5, 15 min) at start / end | %s / %s |\n\n",
		model, cpus, threads, runtime.Version(), orDash(pyTorch), o.python, load0, load1)
	fmt.Fprintf(&b, "Every case ran in a fresh process (ganshift re-executes itself), so each peak resident memory (VmHWM) is that case's own. Times are the median of the timed iterations after the warm-up ones (CPU s: the median user+system CPU time of an iteration, which tells how much other load inflated the wall time); the ratio is ganshift's median over PyTorch's (below 1: ganshift is faster). The peer uses the independent reference modules of `tools/reference` with the same shapes, random weights, `torch.set_num_threads` equal to ganshift's threads, D and the classifier in eval mode with `requires_grad_(False)`, `torch.no_grad()` for sampling, and `torch.optim.Adam` on G.\n\n")

	b.WriteString("## ganshift against PyTorch\n\n")
	b.WriteString("| case | what | iterations | ganshift | PyTorch | ratio | ganshift CPU s | PyTorch CPU s | ganshift images/s | PyTorch images/s | ganshift peak MB | PyTorch peak MB | bf16: G's samples against float32 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio, gips, pips := "–", "–", "–"
		if ok(r.gs, r.gsE) && ok(r.py, r.pyE) {
			ratio = fmt.Sprintf("%.2f", r.gs.Median/r.py.Median)
		}
		if r.c.Kind != "sgemm" {
			if ok(r.gs, r.gsE) {
				gips = fmt.Sprintf("%.1f", float64(r.gs.PerIter)/r.gs.Median)
			}
			if ok(r.py, r.pyE) {
				pips = fmt.Sprintf("%.1f", float64(r.py.PerIter)/r.py.Median)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d + %d warm-up | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.c.Name, r.c.describe(), r.c.Iters, r.c.Warmup,
			fmtTime(r.gs, r.gsE), fmtTime(r.py, r.pyE), ratio, fmtCPU(r.gs, r.gsE), fmtCPU(r.py, r.pyE), gips, pips, fmtMB(r.gs, r.gsE), fmtMB(r.py, r.pyE), fmtDrift(r))
	}
	for _, r := range rows {
		for _, e := range []struct {
			side string
			err  error
		}{{"ganshift", r.gsE}, {"PyTorch", r.pyE}, {"the bf16 drift run", r.driftE}} {
			if e.err != nil {
				fmt.Fprintf(&b, "\n%s failed on %s: `%s`\n", e.side, r.c.Name, strings.ReplaceAll(e.err.Error(), "`", "'"))
			}
		}
	}

	// sgemm peak, then FLOPs.
	var peakGS, peakPY float64
	for _, r := range rows {
		if r.c.Kind == "sgemm" {
			if ok(r.gs, r.gsE) {
				peakGS = r.gs.Flops["step"] / r.gs.Median / 1e9
			}
			if ok(r.py, r.pyE) {
				peakPY = r.py.Flops["step"] / r.py.Median / 1e9
			}
			fmt.Fprintf(&b, "\n## Matrix-multiply peak\n\nA %d×%d float32 matrix product (2n³ = %.1f GFLOP), timed through ganshift's libtorch binding (`Scope.Matmul`, no grad) and in PyTorch: **%.1f GFLOP/s** (ganshift), %.1f GFLOP/s (PyTorch), on %d threads. Matrix products go through the BLAS libtorch is linked against; the networks' convolutions mostly do not (libtorch runs them with its own or oneDNN kernels), so where the BLAS is slow a step can exceed this figure.\n\nLibraries mapped in ganshift's process: %s. PyTorch's: %s; PyTorch reports oneDNN (mkldnn) available: %s.\n",
				r.c.Size, r.c.Size, 2*float64(r.c.Size*r.c.Size)*float64(r.c.Size)/1e9, peakGS, peakPY, threads,
				libList(r.gs.Libs), libList(r.py.Libs), mkldnn(r.py.MKLDNN))
		}
	}
	if hasFlops(rows) {
		b.WriteString("\n## FLOPs and achieved throughput\n\n")
		b.WriteString("FLOPs are counted per operator by PyTorch's profiler (`torch.profiler.profile(with_flops=True)`: convolutions, matrix products, elementwise multiply and add) on one forward pass of each network in the peer, at the step's shapes. The step's total is estimated as 3× G's forward (the backward computes input and weight gradients) plus 2× D's and the classifier's (backward to the image only; their weights are frozen). ganshift runs the same operators, so the same count applies to both sides.\n\n")
		b.WriteString("| case | G forward GFLOP | D forward GFLOP | classifier forward GFLOP | step GFLOP | ganshift GFLOP/s | PyTorch GFLOP/s | ganshift ÷ sgemm rate |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			f := r.py.Flops
			if r.c.Kind != "step" || f == nil {
				continue
			}
			step := f["step"]
			g, p, pct := "–", "–", "–"
			if ok(r.gs, r.gsE) {
				g = fmt.Sprintf("%.1f", step/r.gs.Median/1e9)
				if peakGS > 0 {
					pct = fmt.Sprintf("%.1f×", step/r.gs.Median/1e9/peakGS)
				}
			}
			if ok(r.py, r.pyE) {
				p = fmt.Sprintf("%.1f", step/r.py.Median/1e9)
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n", r.c.Name, f["g_fwd"]/1e9, f["d_fwd"]/1e9, f["c_fwd"]/1e9, step/1e9, g, p, pct)
		}
	}

	for _, kind := range []string{"batch", "res"} {
		var sel []benchRow
		for _, r := range scale {
			if r.c.Name == kind {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			continue
		}
		c0 := sel[0].c
		if kind == "batch" {
			fmt.Fprintf(&b, "\n## Step time against batch size (ganshift)\n\nBigGAN-%d at G/D width %d (narrower than the release's 96, to keep the sweep short), a small CNN classifier at %d px, batch-statistics BN in G.\n\n| batch | step | per image | images/s | peak MB |\n|---|---|---|---|---|\n", c0.Res, c0.Width, c0.Size)
		} else {
			fmt.Fprintf(&b, "\n## Step time against resolution (ganshift)\n\nBigGAN at G/D width %d, attention at half the output resolution in both G and D, a small CNN classifier at G's resolution, batch %d.\n\n| resolution | step | per image | images/s | peak MB |\n|---|---|---|---|---|\n", c0.Width, c0.Batch)
		}
		for _, r := range sel {
			key := r.c.Batch
			if kind == "res" {
				key = r.c.Res
			}
			per, ips := "–", "–"
			if ok(r.gs, r.gsE) {
				per = fmt.Sprintf("%.1f ms", r.gs.Median/float64(r.c.Batch)*1e3)
				ips = fmt.Sprintf("%.1f", float64(r.c.Batch)/r.gs.Median)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", key, fmtTime(r.gs, r.gsE), per, ips, fmtMB(r.gs, r.gsE))
		}
	}
	b.WriteString("\n## Reproduce\n\n```\nmake bench                      # full run, writes docs/performance.md\n./ganshift bench --quick --out /tmp/perf.md   # harness check\n```\n\nRun it on an otherwise idle machine: other load inflates both sides' times.\n")
	return b.String()
}

// hasFlops reports whether any step row has the peer's FLOP count.
func hasFlops(rows []benchRow) bool {
	for _, r := range rows {
		if r.c.Kind == "step" && r.py.Flops != nil {
			return true
		}
	}
	return false
}

// fmtDrift is a bf16 row's drift cell: the largest difference and what
// it was measured on.
func fmtDrift(r benchRow) string {
	if r.drift == nil || r.driftE != nil {
		return "–"
	}
	on := "measured on this step's networks"
	if r.driftC.Width != r.c.Width || r.driftC.CWidth != r.c.CWidth {
		on = fmt.Sprintf("measured on G/D width %d and a %s of base width %d", r.driftC.Width, r.driftC.Arch, r.driftC.CWidth)
	}
	return fmt.Sprintf("after %d identical steps: max abs diff %.2g, mean %.2g (the float32 samples moved by %.2g on average over the steps; %s; pixels in [−1, 1])",
		r.driftC.Iters, r.drift.MaxDiff, r.drift.MeanDiff, r.drift.Moved, on)
}

func fmtCPU(r benchResult, err error) string {
	if err != nil || r.CPU == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", r.CPU)
}

func libList(libs []string) string {
	if len(libs) == 0 {
		return "–"
	}
	return "`" + strings.Join(libs, "`, `") + "`"
}

func mkldnn(v *bool) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatBool(*v)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
