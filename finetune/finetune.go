// Package finetune is the method of the paper: it updates only a
// generator's weights on w_cls·CE(C(G(z,y)), target) + w_d·(−mean D(G(z,y), y)),
// with the classifier C and the discriminator D frozen, writing a run
// directory with snapshots drawn from the same fixed z and y every time.
package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/nn"
	"ganshift/torch"
)

// Options are the settings of a run; config.json records them all.
type Options struct {
	WCls          float64  `json:"w_cls"`          // weight of the classifier loss
	WD            float64  `json:"w_d"`            // weight of the discriminator loss
	Iters         int      `json:"iters"`          // generator updates
	Batch         int      `json:"batch"`          // samples per update
	SnapshotEvery int      `json:"snapshot_every"` // iterations between snapshots
	LR            float64  `json:"lr"`             // Adam learning rate (BigGAN's G: 1e-4)
	Beta1         float64  `json:"beta1"`          // Adam beta1 (BigGAN: 0)
	Beta2         float64  `json:"beta2"`          // Adam beta2 (BigGAN: 0.999)
	AdamEps       float64  `json:"adam_eps"`       // Adam eps (BigGAN: 1e-6)
	Seed          uint64   `json:"seed"`           // seeds z, y and the snapshot latents
	Truncation    float64  `json:"truncation"`     // σ of z ~ N(0, σ²)
	Classes       []int    `json:"classes"`        // classes y is drawn from; empty means all
	BNMode        string   `json:"bn_mode"`        // "batch" (batch statistics, as BigGAN trains) or "stored"
	Train         []string `json:"train"`          // path.Match patterns of G parameters to update; empty means all
	SheetCols     int      `json:"sheet_cols"`     // columns of the snapshot sheet
	SheetRows     int      `json:"sheet_rows"`     // rows of the snapshot sheet
	// AutocastBF16 runs the frozen C and D (forward and backward) with
	// bfloat16 autocast: faster on CPUs with AVX512-BF16 or AMX, results
	// differ from float32 by bfloat16 rounding. G stays float32.
	AutocastBF16 bool `json:"autocast_bf16,omitempty"`
}

// Defaults are the paper's settings: batch 9, about 1,000 iterations, and
// BigGAN's optimizer for G.
func Defaults() Options {
	return Options{
		WCls: 1, WD: 1, Iters: 1000, Batch: 9, SnapshotEvery: 50,
		LR: 1e-4, Beta1: 0, Beta2: 0.999, AdamEps: 1e-6, Seed: 1, Truncation: 1,
		BNMode: "batch", SheetCols: 10, SheetRows: 10,
	}
}

// Validate reports settings that cannot run.
func (o Options) Validate(nClasses int) error {
	switch {
	case o.Iters < 1:
		return fmt.Errorf("finetune: iters %d must be at least 1", o.Iters)
	case o.Batch < 1:
		return fmt.Errorf("finetune: batch %d must be at least 1", o.Batch)
	case o.Batch == 1 && o.BNMode == "batch":
		return fmt.Errorf("finetune: batch statistics need a batch of at least 2")
	case o.SnapshotEvery < 1:
		return fmt.Errorf("finetune: snapshot-every %d must be at least 1", o.SnapshotEvery)
	case o.BNMode != "batch" && o.BNMode != "stored":
		return fmt.Errorf("finetune: bn mode %q (want batch or stored)", o.BNMode)
	case o.Truncation <= 0:
		return fmt.Errorf("finetune: truncation %v must be positive", o.Truncation)
	case o.WCls == 0 && o.WD == 0:
		return fmt.Errorf("finetune: w-cls and w-d are both 0: nothing to train on")
	}
	if o.AutocastBF16 && !torch.BF16Supported() {
		return torch.ErrNoBF16
	}
	for _, c := range o.Classes {
		if c < 0 || c >= nClasses {
			return fmt.Errorf("finetune: class %d outside 0..%d", c, nClasses-1)
		}
	}
	return nil
}

// Nets are the three networks of the method. G is trained in place.
type Nets struct {
	G *biggan.Generator
	D *biggan.Discriminator
	C *classifier.Net
}

// Metrics are one iteration's measurements.
type Metrics struct {
	Iter       int
	Loss       float64 // the weighted sum that was minimised
	ClsLoss    float64 // cross-entropy toward the target class
	DLoss      float64 // −mean D score
	TargetProb float64 // mean classifier probability of the target class
	DScore     float64 // mean raw D score
}

// Latents draws z ~ N(0, σ²) and classes from opt.Classes (all when empty).
func Latents(rng *rand.Rand, n, dimZ, nClasses int, opt Options) ([]float32, []int64) {
	z := make([]float32, n*dimZ)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * opt.Truncation)
	}
	y := make([]int64, n)
	for i := range y {
		if len(opt.Classes) > 0 {
			y[i] = int64(opt.Classes[rng.IntN(len(opt.Classes))])
		} else {
			y[i] = int64(rng.IntN(nClasses))
		}
	}
	return z, y
}

// Step runs one update of G on a batch drawn from rng and returns its
// metrics. The caller has made only the trained G parameters require
// gradients.
//
// The backward pass runs in stages. G's image is detached into a leaf;
// the classifier's weighted loss, then D's, each run forward and backward
// into that leaf's gradient in a child scope that frees the network's
// activations before the next one starts; G's backward then starts from
// the summed image gradient. The gradients are the ones a single
// backward of w_cls·L_cls + w_D·L_D gives (the two image gradients are
// added either way), but C's and D's activations are never held at once,
// which lowers the step's peak memory by the smaller of the two.
func Step(nets Nets, adam *torch.Adam, rng *rand.Rand, opt Options) (Metrics, error) {
	// The scope pins the step to one OS thread, which keeps it reproducible.
	s := torch.NewScope()
	defer s.Close()
	cfg := nets.G.Cfg
	zs, ys := Latents(rng, opt.Batch, cfg.DimZ, cfg.NClasses, opt)
	b := int64(opt.Batch)
	z, y := s.FromFloat32(zs, b, int64(cfg.DimZ)), s.FromInt64(ys, b)

	x := nets.G.Sample(s, z, y, opt.BNMode == "batch")
	img := s.Detach(x)
	if err := s.Err(); err != nil {
		return Metrics{}, err
	}
	if err := img.SetRequiresGrad(true); err != nil {
		return Metrics{}, err
	}

	target := s.FromInt64(filledInt64(opt.Batch, int64(nets.C.Cfg.Target)), b)
	clsLoss, prob := stage(s, opt.WCls, func(c *torch.Scope) (*torch.Tensor, *torch.Tensor) {
		logits := frozen(c, opt.AutocastBF16, func() *torch.Tensor { return nets.C.Classify(c, img) })
		return c.CrossEntropy(logits, target), c.Narrow(c.Softmax(logits, 1), 1, int64(nets.C.Cfg.Target), 1)
	})
	dLoss, score := stage(s, opt.WD, func(c *torch.Scope) (*torch.Tensor, *torch.Tensor) {
		score := frozen(c, opt.AutocastBF16, func() *torch.Tensor { return nets.D.Forward(c, img, y, false) })
		return biggan.GHinge(c, score), score
	})

	s.SetGrad(false)
	loss := s.Add(s.MulScalar(clsLoss, opt.WCls), s.MulScalar(dLoss, opt.WD))
	meanProb, meanScore := s.Mean(prob, false), s.Mean(score, false)
	if err := s.Err(); err != nil {
		return Metrics{}, err
	}
	m, err := readMetrics(loss, clsLoss, dLoss, meanProb, meanScore)
	if err != nil {
		return Metrics{}, err
	}
	if math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) {
		return m, fmt.Errorf("finetune: loss is %v", m.Loss)
	}

	if err := backwardFrom(x, img); err != nil {
		return m, err
	}
	return m, adam.Step()
}

// stage runs one frozen network's part of the loss in a child scope of s:
// f returns the loss and a statistic to log; the loss, scaled by w, is
// backpropagated (into the image leaf's gradient) before the child scope
// frees the network's activations. The loss and the statistic come back
// detached, owned by s.
func stage(s *torch.Scope, w float64, f func(c *torch.Scope) (loss, stat *torch.Tensor)) (*torch.Tensor, *torch.Tensor) {
	c := s.Child()
	defer c.Close()
	loss, stat := f(c)
	outLoss, outStat := s.Detach(loss), s.Detach(stat)
	weighted := c.MulScalar(loss, w)
	if err := c.Err(); err != nil {
		s.Fail(err)
		return outLoss, outStat
	}
	s.Fail(weighted.Backward())
	return outLoss, outStat
}

// backwardFrom runs G's backward from its image x, with the gradient the
// stages collected on img, x's detached leaf.
func backwardFrom(x, img *torch.Tensor) error {
	grad, err := img.Grad()
	if err != nil {
		return err
	}
	if grad == nil {
		return fmt.Errorf("finetune: no gradient reached the generated images")
	}
	defer grad.Free()
	return x.BackwardWith(grad)
}

// frozen runs f, the forward of a frozen network, under bfloat16 autocast
// when bf16 is set, and returns its result in float32.
func frozen(s *torch.Scope, bf16 bool, f func() *torch.Tensor) *torch.Tensor {
	if !bf16 {
		return f()
	}
	s.SetAutocast(true)
	defer s.SetAutocast(false)
	return s.Float(f())
}

func readMetrics(loss, cls, d, prob, score *torch.Tensor) (Metrics, error) {
	var m Metrics
	for _, f := range []struct {
		t   *torch.Tensor
		dst *float64
	}{{loss, &m.Loss}, {cls, &m.ClsLoss}, {d, &m.DLoss}, {prob, &m.TargetProb}, {score, &m.DScore}} {
		v, err := f.t.Item()
		if err != nil {
			return m, err
		}
		*f.dst = float64(v)
	}
	return m, nil
}

func filledInt64(n int, v int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Prepare freezes D and C (no parameter gradients, and the work every
// eval-mode forward would repeat done once: D's spectral norms, a ResNet
// classifier's batch norms folded into its convolutions) and makes only
// the G parameters matching the patterns trainable, returning them.
func Prepare(nets Nets, patterns []string) ([]*nn.Var, error) {
	if err := nets.D.Params.SetRequiresGrad(nil); err != nil {
		return nil, err
	}
	if err := nets.C.Params.SetRequiresGrad(nil); err != nil {
		return nil, err
	}
	if err := nets.D.Freeze(); err != nil {
		return nil, err
	}
	if err := nets.C.Freeze(); err != nil {
		return nil, err
	}
	vars, err := nets.G.Params.Trainable(patterns...)
	if err != nil {
		return nil, err
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("finetune: --train %v matches no generator parameter", patterns)
	}
	return vars, nets.G.Params.SetRequiresGrad(vars)
}
