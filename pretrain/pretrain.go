// Package pretrain trains a class-conditional BigGAN from scratch on a
// labelled image set with the hinge loss and an exponential moving average
// of G (G_ema), as BigGAN-PyTorch does. It makes ganshift's embedded
// default model; the method itself starts from a pretrained GAN.
package pretrain

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"ganshift/biggan"
	"ganshift/dataset"
	"ganshift/internal/atomicfile"
	"ganshift/nn"
	"ganshift/progress"
	"ganshift/sheet"
	"ganshift/torch"
)

// Options configures a pretraining run. Defaults are in Defaults.
type Options struct {
	Model         biggan.Config `json:"model"`
	Iters         int           `json:"iters"`          // G updates
	Batch         int           `json:"batch"`          // images per D and G step
	DSteps        int           `json:"d_steps"`        // D updates per G update
	GLR           float64       `json:"g_lr"`           // G Adam learning rate
	DLR           float64       `json:"d_lr"`           // D Adam learning rate
	Beta1         float64       `json:"beta1"`          // Adam beta1 (0 in BigGAN)
	Beta2         float64       `json:"beta2"`          // Adam beta2
	AdamEps       float64       `json:"adam_eps"`       // Adam eps
	EMADecay      float64       `json:"ema_decay"`      // G_ema decay
	EMAStart      int           `json:"ema_start"`      // iteration before which G_ema copies G
	StandingStats int           `json:"standing_stats"` // batches used to re-estimate G_ema's BN statistics at the end
	Seed          uint64        `json:"seed"`
	SnapshotEvery int           `json:"snapshot_every"` // write the model and a sample sheet every N iterations
	Out           string        `json:"out"`            // model directory to write
	Init          string        `json:"init,omitempty"` // model directory to start from instead of random weights
}

// Defaults are settings that train the embedded MNIST model.
func Defaults() Options {
	return Options{
		Model: biggan.Config{Resolution: 32, GCh: 8, DCh: 8, DimZ: 64, SharedDim: 32, NClasses: 10,
			GAttn: []int{16}},
		Iters: 2000, Batch: 64, DSteps: 2, GLR: 2e-4, DLR: 2e-4, Beta1: 0, Beta2: 0.999, AdamEps: 1e-6,
		EMADecay: 0.999, EMAStart: 200, StandingStats: 64, Seed: 1, SnapshotEvery: 250,
	}
}

// trainer holds the networks and optimizers of one run.
type trainer struct {
	opt        Options
	data       *dataset.Images
	g, gEma    *biggan.Generator
	d          *biggan.Discriminator
	gOpt, dOpt *torch.Adam
	gVars      []*nn.Var
	dVars      []*nn.Var
	rng        *rand.Rand
	perm       []int
	next       int
}

// Run trains on data (labels are the classes) and writes the model
// directory opt.Out, with samples_<iter>.png sheets beside the weights.
func Run(opt Options, data *dataset.Images) error {
	t, err := newTrainer(opt, data)
	if err != nil {
		return err
	}
	defer t.free()

	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return fmt.Errorf("pretrain: %w", err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(opt.Out, "pretrain.json"), opt); err != nil {
		return err
	}
	start := time.Now()
	bar := progress.New(opt.Iters, "pretrain")
	for it := 1; it <= opt.Iters; it++ {
		dLoss, gLoss, err := t.step(it)
		if err != nil {
			return err
		}
		bar.Add(1, fmt.Sprintf("D %.3f G %.3f", dLoss, gLoss))
		if it%opt.SnapshotEvery == 0 || it == opt.Iters {
			if err := t.save(it, time.Since(start)); err != nil {
				return err
			}
		}
	}
	bar.Finish()
	return nil
}

func newTrainer(opt Options, data *dataset.Images) (*trainer, error) {
	if data.N < opt.Batch {
		return nil, fmt.Errorf("pretrain: %d images, fewer than one batch of %d", data.N, opt.Batch)
	}
	if data.H != opt.Model.Resolution || data.C != 3 {
		return nil, fmt.Errorf("pretrain: images are %d×%d×%d, the model needs 3×%d×%d",
			data.C, data.H, data.W, opt.Model.Resolution, opt.Model.Resolution)
	}
	t := &trainer{opt: opt, data: data, rng: rand.New(rand.NewPCG(opt.Seed, 1))}
	var err error
	if t.g, err = biggan.NewGenerator(opt.Model, opt.Seed); err != nil {
		return nil, err
	}
	if t.gEma, err = biggan.NewGenerator(opt.Model, opt.Seed); err != nil {
		t.free()
		return nil, err
	}
	if t.d, err = biggan.NewDiscriminator(opt.Model, opt.Seed+1); err != nil {
		t.free()
		return nil, err
	}
	if err := t.initFrom(opt.Init); err != nil {
		t.free()
		return nil, err
	}
	if err := t.makeOptimizers(); err != nil {
		t.free()
		return nil, err
	}
	return t, nil
}

// initFrom loads G, D and G_ema from a model directory, to continue an
// earlier run. The optimizers start afresh.
func (t *trainer) initFrom(dir string) error {
	if dir == "" {
		return nil
	}
	m, err := biggan.LoadDir(dir)
	if err != nil {
		return err
	}
	defer m.Free()
	if err := t.g.Params.CopyFrom(m.G.Params); err != nil {
		return err
	}
	if err := t.d.Params.CopyFrom(m.D.Params); err != nil {
		return err
	}
	return t.gEma.Params.CopyFrom(m.Sampler().Params)
}

func (t *trainer) makeOptimizers() error {
	var err error
	if t.gVars, err = t.g.Params.Trainable(); err != nil {
		return err
	}
	if t.dVars, err = t.d.Params.Trainable(); err != nil {
		return err
	}
	o := t.opt
	if t.gOpt, err = torch.NewAdam(tensors(t.gVars), o.GLR, o.Beta1, o.Beta2, o.AdamEps); err != nil {
		return err
	}
	t.dOpt, err = torch.NewAdam(tensors(t.dVars), o.DLR, o.Beta1, o.Beta2, o.AdamEps)
	return err
}

func tensors(vs []*nn.Var) []*torch.Tensor {
	ts := make([]*torch.Tensor, len(vs))
	for i, v := range vs {
		ts[i] = v.T
	}
	return ts
}

func (t *trainer) free() {
	if t.g != nil {
		t.g.Free()
	}
	if t.gEma != nil {
		t.gEma.Free()
	}
	if t.d != nil {
		t.d.Free()
	}
	if t.gOpt != nil {
		t.gOpt.Free()
	}
	if t.dOpt != nil {
		t.dOpt.Free()
	}
}

// step runs opt.DSteps D updates and one G update.
func (t *trainer) step(it int) (dLoss, gLoss float32, err error) {
	if err := t.g.Params.SetRequiresGrad(nil); err != nil {
		return 0, 0, err
	}
	if err := t.d.Params.SetRequiresGrad(t.dVars); err != nil {
		return 0, 0, err
	}
	for range t.opt.DSteps {
		if dLoss, err = t.dStep(); err != nil {
			return 0, 0, fmt.Errorf("pretrain: iteration %d: D step: %w", it, err)
		}
	}
	if err := t.d.Params.SetRequiresGrad(nil); err != nil {
		return 0, 0, err
	}
	if err := t.g.Params.SetRequiresGrad(t.gVars); err != nil {
		return 0, 0, err
	}
	if gLoss, err = t.gStep(); err != nil {
		return 0, 0, fmt.Errorf("pretrain: iteration %d: G step: %w", it, err)
	}
	if math.IsNaN(float64(dLoss)) || math.IsNaN(float64(gLoss)) {
		return 0, 0, fmt.Errorf("pretrain: iteration %d: loss is NaN (D %v, G %v)", it, dLoss, gLoss)
	}
	return dLoss, gLoss, t.updateEMA(it)
}

func (t *trainer) dStep() (float32, error) {
	s := torch.NewScope()
	defer s.Close()
	b := int64(t.opt.Batch)
	res := int64(t.opt.Model.Resolution)

	imgs, labels := t.data.Gather(t.realBatch())
	x := s.FromFloat32(imgs, b, 3, res, res)
	yr := s.FromInt64(toInt64(labels), b)
	z, yf := t.latents(s)

	s.SetGrad(false)
	fake := t.g.Sample(s, z, yf, true)
	s.SetGrad(true)
	loss := biggan.DHinge(s, t.d.Forward(s, x, yr, true), t.d.Forward(s, fake, yf, true))
	return t.dOpt.Minimize(s, loss)
}

func (t *trainer) gStep() (float32, error) {
	s := torch.NewScope()
	defer s.Close()

	z, y := t.latents(s)
	fake := t.g.Sample(s, z, y, true)
	loss := biggan.GHinge(s, t.d.Forward(s, fake, y, true))
	return t.gOpt.Minimize(s, loss)
}

// latents draws z ~ N(0, 1) and classes uniformly.
func (t *trainer) latents(s *torch.Scope) (z, y *torch.Tensor) {
	b, dz := t.opt.Batch, t.opt.Model.DimZ
	zs := make([]float32, b*dz)
	for i := range zs {
		zs[i] = float32(t.rng.NormFloat64())
	}
	ys := make([]int64, b)
	for i := range ys {
		ys[i] = int64(t.rng.IntN(t.opt.Model.NClasses))
	}
	return s.FromFloat32(zs, int64(b), int64(dz)), s.FromInt64(ys, int64(b))
}

// realBatch returns the next batch of indices of a reshuffled epoch.
func (t *trainer) realBatch() []int {
	if t.perm == nil || t.next+t.opt.Batch > len(t.perm) {
		t.perm = t.rng.Perm(t.data.N)
		t.next = 0
	}
	idx := t.perm[t.next : t.next+t.opt.Batch]
	t.next += t.opt.Batch
	return idx
}

func toInt64(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

// updateEMA moves G_ema toward G, buffers included as in the reference
// code; before EMAStart it copies G.
func (t *trainer) updateEMA(it int) error {
	decay := t.opt.EMADecay
	if it < t.opt.EMAStart {
		decay = 0
	}
	for _, v := range t.gEma.Params.Vars() {
		if err := v.T.Lerp(t.g.Params.Get(v.Name), 1-decay); err != nil {
			return fmt.Errorf("pretrain: ema %s: %w", v.Name, err)
		}
	}
	return nil
}

// save writes the model directory and a G_ema sample sheet.
func (t *trainer) save(it int, took time.Duration) error {
	ema, err := t.standingStats()
	if err != nil {
		return err
	}
	defer ema.Free()
	m := &biggan.Model{Cfg: t.g.Cfg, G: t.g, GEma: ema, D: t.d, Provenance: map[string]any{
		"made_by":    "ganshift pretrain",
		"iterations": it,
		"seed":       t.opt.Seed,
		"seconds":    math.Round(took.Seconds()),
		"threads":    torch.Threads(),
		"init":       t.opt.Init,
	}}
	if err := biggan.SaveDir(t.opt.Out, m); err != nil {
		return err
	}
	return t.sampleSheet(ema, filepath.Join(t.opt.Out, fmt.Sprintf("samples_%06d.png", it)))
}

// standingStats copies G_ema and re-estimates its batch-norm statistics
// from its own samples (the reference's "standing stats"): the stored
// statistics were averaged from G, not from G_ema's weights.
func (t *trainer) standingStats() (*biggan.Generator, error) {
	ema, err := biggan.NewGenerator(t.opt.Model, 0)
	if err != nil {
		return nil, err
	}
	if err := ema.Params.CopyFrom(t.gEma.Params); err != nil {
		ema.Free()
		return nil, err
	}
	rng := t.rng
	t.rng = rand.New(rand.NewPCG(t.opt.Seed, 2))
	defer func() { t.rng = rng }()
	for range t.opt.StandingStats {
		s := torch.NewScope()
		s.SetGrad(false)
		z, y := t.latents(s)
		ema.Sample(s, z, y, true)
		err := s.Err()
		s.Close()
		if err != nil {
			ema.Free()
			return nil, err
		}
	}
	return ema, nil
}

// sampleSheet draws 10 samples per class (one class per row) from fixed z.
func (t *trainer) sampleSheet(g *biggan.Generator, path string) error {
	n, dz, res := t.opt.Model.NClasses*10, t.opt.Model.DimZ, t.opt.Model.Resolution
	rng := rand.New(rand.NewPCG(t.opt.Seed, 3))
	zs := make([]float32, n*dz)
	for i := range zs {
		zs[i] = float32(rng.NormFloat64())
	}
	ys := make([]int64, n)
	for i := range ys {
		ys[i] = int64(i / 10)
	}
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	x := g.Sample(s, s.FromFloat32(zs, int64(n), int64(dz)), s.FromInt64(ys, int64(n)), false)
	if err := s.Err(); err != nil {
		return err
	}
	pix, err := x.Float32()
	if err != nil {
		return err
	}
	return sheet.SavePNG(path, sheet.Grid(pix, n, 3, res, res, 10, 2, 2))
}
