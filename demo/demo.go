// Package demo runs the whole method on the embedded default: MNIST is the
// GAN's domain, typeset digits in washed-out colours are the new one. It
// trains a contrastive and a joint classifier, fine-tunes the base
// generator with each, and writes side-by-side sheets and a summary.
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"ganshift/assets"
	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/dataset"
	"ganshift/finetune"
	"ganshift/internal/atomicfile"
	"ganshift/progress"
	"ganshift/sheet"
)

// Options configure the demo.
type Options struct {
	Out      string                  `json:"out"`
	Seed     uint64                  `json:"seed"`
	Typeset  int                     `json:"typeset_images"` // size of the rendered new-domain set
	EvalN    int                     `json:"eval_samples"`   // samples behind each summary number
	HeldOut  int                     `json:"held_out"`       // classifier held-out images
	Classify classifier.TrainOptions `json:"classifier"`
	Finetune finetune.Options        `json:"finetune"`
	MNISTDir string                  `json:"mnist_dir,omitempty"`
}

// Defaults finish in a few minutes on a 2-core CPU. The small 32×32
// model moves much faster than the 128×128 BigGAN the paper's settings
// were made for: at BigGAN's lr 1e-4 and w_cls 1 the contrastive run wipes
// the digits out within 100 iterations, so the demo takes smaller steps
// and a lighter classifier weight, and snapshots often enough to stop
// early by eye.
func Defaults() Options {
	ft := finetune.Defaults()
	ft.Iters, ft.SnapshotEvery = 200, 25
	ft.LR, ft.WCls, ft.WD = 2e-5, 0.3, 1
	return Options{Out: "demo-out", Seed: 1, Typeset: 10000, EvalN: 1000, HeldOut: 1000,
		Classify: classifier.DefaultTrainOptions(), Finetune: ft}
}

// ModeSummary is what fine-tuning with one classifier mode did.
type ModeSummary struct {
	Iterations        int     `json:"iterations"`
	ClassifierAcc     float64 `json:"classifier_held_out_acc"`
	TargetProbBefore  float64 `json:"target_prob_before"`
	TargetProbAfter   float64 `json:"target_prob_after"`
	DScoreBefore      float64 `json:"d_score_before"`
	DScoreAfter       float64 `json:"d_score_after"`
	PixelChange       float64 `json:"pixel_change"`
	FinetuneSeconds   float64 `json:"finetune_seconds"`
	ClassifierSeconds float64 `json:"classifier_seconds"`
}

// Summary is summary.json.
type Summary struct {
	Contrastive ModeSummary `json:"contrastive"`
	Joint       ModeSummary `json:"joint"`
	EvalSamples int         `json:"eval_samples"`
	Seconds     float64     `json:"seconds"`
	Options     Options     `json:"options"`
}

// marker names the file that tells a demo directory from anything else,
// so that a rerun may replace its contents.
const marker = "summary.json"

// Run runs the demo and writes its outputs under opt.Out.
func Run(opt Options) (*Summary, error) {
	start := time.Now()
	if err := prepareOut(opt.Out); err != nil {
		return nil, err
	}
	d, err := load(opt)
	if err != nil {
		return nil, err
	}
	defer d.free()

	sum := &Summary{EvalSamples: opt.EvalN, Options: opt}
	tuned := map[string]*biggan.Generator{}
	for _, mode := range []string{classifier.Contrastive, classifier.Joint} {
		ms, g, err := d.runMode(mode)
		if err != nil {
			return nil, err
		}
		defer g.Free()
		tuned[mode] = g
		if mode == classifier.Contrastive {
			sum.Contrastive = ms
		} else {
			sum.Joint = ms
		}
	}
	if err := d.sheets(tuned); err != nil {
		return nil, err
	}
	sum.Seconds = math.Round(time.Since(start).Seconds())
	return sum, atomicfile.WriteJSON(filepath.Join(opt.Out, marker), sum)
}

// prepareOut makes sure out is new, empty or an earlier demo's output.
func prepareOut(out string) error {
	entries, err := os.ReadDir(out)
	if os.IsNotExist(err) {
		return os.MkdirAll(out, 0o755)
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, marker)); err != nil {
		return fmt.Errorf("demo: %s is not empty and holds no earlier demo (no %s); choose another --out", out, marker)
	}
	for _, sub := range []string{"runs", "classifiers"} {
		if err := os.RemoveAll(filepath.Join(out, sub)); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// demo holds the loaded data and networks.
type demo struct {
	opt      Options
	model    *biggan.Model
	backbone *classifier.Net
	mnist    *dataset.Images
	typeset  *dataset.Images
	evalZ    []float32
	evalY    []int64
	base     []float32 // the base generator's images of evalZ, evalY
	classes  []*classifier.Net
}

func load(opt Options) (*demo, error) {
	d := &demo{opt: opt}
	var err error
	progress.Printf("loading MNIST and rendering %d typeset digits\n", opt.Typeset)
	if d.mnist, err = dataset.LoadMNIST(opt.MNISTDir, true); err != nil {
		return nil, err
	}
	if d.typeset, err = dataset.RenderTypeset(opt.Typeset, 32, opt.Seed); err != nil {
		return nil, err
	}
	if d.model, err = assets.Model(); err != nil {
		return nil, err
	}
	if d.backbone, err = assets.Backbone(); err != nil {
		d.free()
		return nil, err
	}
	g := d.model.Sampler()
	rng := rand.New(rand.NewPCG(opt.Seed, 5))
	d.evalZ, d.evalY = finetune.Latents(rng, opt.EvalN, g.Cfg.DimZ, g.Cfg.NClasses, opt.Finetune)
	if d.base, err = g.Images(d.evalZ, d.evalY, 100); err != nil {
		d.free()
		return nil, err
	}
	return d, nil
}

func (d *demo) free() {
	if d.model != nil {
		d.model.Free()
	}
	if d.backbone != nil {
		d.backbone.Free()
	}
	for _, c := range d.classes {
		c.Free()
	}
}

// runMode trains the classifier of one mode, fine-tunes a copy of the base
// generator with it and measures the result.
func (d *demo) runMode(mode string) (ModeSummary, *biggan.Generator, error) {
	var ms ModeSummary
	t0 := time.Now()
	c, acc, err := d.trainClassifier(mode)
	if err != nil {
		return ms, nil, err
	}
	ms.ClassifierAcc = acc
	ms.ClassifierSeconds = math.Round(time.Since(t0).Seconds())

	t1 := time.Now()
	g, err := d.finetune(mode, c)
	if err != nil {
		return ms, nil, err
	}
	ms.Iterations = d.opt.Finetune.Iters
	ms.FinetuneSeconds = math.Round(time.Since(t1).Seconds())
	if err := d.measure(&ms, c, g); err != nil {
		g.Free()
		return ms, nil, err
	}
	return ms, g, nil
}

func (d *demo) trainClassifier(mode string) (*classifier.Net, float64, error) {
	set, err := classifier.CrossSet(d.mnist, d.typeset, mode, d.opt.Seed)
	if err != nil {
		return nil, 0, err
	}
	train, test := set.Split(d.opt.HeldOut, d.opt.Seed)
	cfg := classifier.Config{Arch: "smallcnn", Size: 32, Classes: 2, Names: []string{"mnist", "typeset"},
		Mode: mode, Target: 1}
	c, err := classifier.New(cfg, d.opt.Seed)
	if err != nil {
		return nil, 0, err
	}
	d.classes = append(d.classes, c)
	if err := c.InitFrom(d.backbone); err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(filepath.Join(d.opt.Out, "classifiers"), 0o755); err != nil {
		return nil, 0, err
	}
	hist, err := classifier.Train(c, train, test, d.opt.Classify, mode+" classifier")
	if err != nil {
		return nil, 0, err
	}
	acc := hist[len(hist)-1].HeldOutAcc
	c.Cfg.Training = map[string]any{"domain": "mnist", "new": "typeset", "backbone": assets.BackboneName,
		"options": d.opt.Classify, "epochs": hist}
	return c, acc, c.Save(filepath.Join(d.opt.Out, "classifiers", mode+".safetensors"))
}

func (d *demo) finetune(mode string, c *classifier.Net) (*biggan.Generator, error) {
	base := d.model.Sampler()
	g, err := biggan.NewGenerator(base.Cfg, 0)
	if err != nil {
		return nil, err
	}
	if err := g.Params.CopyFrom(base.Params); err != nil {
		g.Free()
		return nil, err
	}
	cfg := finetune.RunConfig{Options: d.opt.Finetune, Model: assets.ModelName, Generator: "G_ema",
		Classifier: filepath.Join(d.opt.Out, "classifiers", mode+".safetensors")}
	run, err := finetune.Start(filepath.Join(d.opt.Out, "runs", mode), cfg, finetune.Nets{G: g, D: d.model.D, C: c})
	if err == nil {
		err = run.Train("finetune "+mode, nil)
		run.Close()
	}
	if err != nil {
		g.Free()
		return nil, err
	}
	return g, nil
}

// measure fills the before/after numbers over the fixed evaluation latents.
func (d *demo) measure(ms *ModeSummary, c *classifier.Net, g *biggan.Generator) error {
	after, err := g.Images(d.evalZ, d.evalY, 100)
	if err != nil {
		return err
	}
	n, res := len(d.evalY), g.Cfg.Resolution
	if ms.TargetProbBefore, err = meanTargetProb(c, d.base, n, res); err != nil {
		return err
	}
	if ms.TargetProbAfter, err = meanTargetProb(c, after, n, res); err != nil {
		return err
	}
	if ms.DScoreBefore, err = meanScore(d.model.D, d.base, d.evalY); err != nil {
		return err
	}
	if ms.DScoreAfter, err = meanScore(d.model.D, after, d.evalY); err != nil {
		return err
	}
	ms.PixelChange = meanAbsDiff(d.base, after)
	return nil
}

func meanTargetProb(c *classifier.Net, x []float32, n, res int) (float64, error) {
	p, err := c.TargetProbs(x, n, res, 100)
	if err != nil {
		return 0, err
	}
	return mean(p), nil
}

func meanScore(dis *biggan.Discriminator, x []float32, y []int64) (float64, error) {
	s, err := dis.Scores(x, y, 100)
	if err != nil {
		return 0, err
	}
	return mean(s), nil
}

func mean(xs []float32) float64 {
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs))
}

func meanAbsDiff(a, b []float32) float64 {
	var sum float64
	for i := range a {
		sum += math.Abs(float64(a[i] - b[i]))
	}
	return sum / float64(len(a))
}

// sheets writes compare.png (base | contrastive | joint, same z and y) and
// interp.png (class interpolations, same z, for all three).
func (d *demo) sheets(tuned map[string]*biggan.Generator) error {
	base := d.model.Sampler()
	gens := []*biggan.Generator{base, tuned[classifier.Contrastive], tuned[classifier.Joint]}
	titles := []string{"base", "contrastive", "joint"}
	z, y := finetune.SheetLatents(base.Cfg, d.opt.Finetune)
	img, err := sheet.Compare(gens, titles, z, y, d.opt.Finetune.SheetCols)
	if err != nil {
		return err
	}
	if err := sheet.SavePNG(filepath.Join(d.opt.Out, "compare.png"), img); err != nil {
		return err
	}
	var pairs [][2]int64
	for c := range base.Cfg.NClasses {
		pairs = append(pairs, [2]int64{int64(c), int64((c + 1) % base.Cfg.NClasses)})
	}
	rng := rand.New(rand.NewPCG(d.opt.Seed, 6))
	iz, _ := finetune.Latents(rng, len(pairs), base.Cfg.DimZ, base.Cfg.NClasses, d.opt.Finetune)
	img, err = sheet.CompareInterp(gens, titles, pairs, iz)
	if err != nil {
		return err
	}
	return sheet.SavePNG(filepath.Join(d.opt.Out, "interp.png"), img)
}
