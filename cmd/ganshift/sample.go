package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"ganshift/biggan"
	"ganshift/sheet"
)

type sampleOptions struct {
	models     []string
	files      biggan.Files // --g, --g-ema, --d
	which      string
	classes    string
	n          int
	seed       uint64
	truncation float64
	cols       int
	each       bool
	out        string
}

func newSampleCmd() *cobra.Command {
	o := &sampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample --out <dir>",
		Short: "Draw samples from a model or a run's snapshot; several side by side",
		Long: `Draw N samples for each of the given classes and write DIR/grid.png (one row
of N per class). With several --model, every model draws the same z and y
and the grids are put side by side. A model is "default" (the embedded
MNIST BigGAN), a model directory, a run directory (its last snapshot),
RUN:ITER (the snapshot of iteration ITER), a snapshot directory, or weight
files: a generator .pth/.safetensors file, or "G=FILE,D=FILE,G_ema=FILE".

--g, --g-ema and --d name weight files directly (BigGAN-PyTorch .pth, legacy
or zip, or .safetensors; the architecture is inferred from the tensors):
they replace the default model, or are added to the --model list.`,
		Example: `  ganshift sample --classes 0,1,2 --n 8 --seed 3 --out samples
  ganshift sample --model default --model demo-out/runs/joint --model demo-out/runs/joint:100 --out cmp
  ganshift sample --g G_ema.pth --classes 1,207,980 --truncation 0.5 --out release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.addFiles(cmd.Flags().Changed("model")); err != nil {
				return err
			}
			return o.run()
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.models, "model", []string{"default"}, "model, run or snapshot to draw from (repeat to compare)")
	f.StringVar(&o.files.G, "g", "", "generator weights (.pth or .safetensors)")
	f.StringVar(&o.files.GEma, "g-ema", "", "G_ema weights (.pth or .safetensors); drawn from instead of --g unless --generator G")
	f.StringVar(&o.files.D, "d", "", "discriminator weights (.pth or .safetensors), checked against the generator")
	f.StringVar(&o.which, "generator", "G_ema", "which generator of a model directory: G_ema or G")
	f.StringVar(&o.classes, "classes", "", "comma-separated classes (default: all)")
	f.IntVar(&o.n, "n", 10, "samples per class")
	f.Uint64Var(&o.seed, "seed", 1, "random seed for z")
	f.Float64Var(&o.truncation, "truncation", 1, "σ of z ~ N(0, σ²)")
	f.BoolVar(&o.each, "each", false, "also write one PNG per sample, <class>_<index>.png")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	cmd.MarkFlagRequired("out")
	return cmd
}

// addFiles turns --g, --g-ema and --d into one --model entry, replacing
// the default model unless --model was given.
func (o *sampleOptions) addFiles(modelGiven bool) error {
	if o.files == (biggan.Files{}) {
		return nil
	}
	spec, err := weightSpec(o.files)
	if err != nil {
		return err
	}
	if !modelGiven {
		o.models = nil
	}
	o.models = append(o.models, spec)
	return nil
}

func (o *sampleOptions) run() error {
	if o.n < 1 {
		return fmt.Errorf("--n %d: need at least one sample", o.n)
	}
	gens, free, err := loadGenerators(o.models, o.which)
	if err != nil {
		return err
	}
	defer free()
	cfg := gens[0].g.Cfg
	classes, err := parseClasses(o.classes, cfg.NClasses)
	if err != nil {
		return err
	}
	z, y := o.latents(cfg, classes)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	gs, titles := unzip(gens)
	img, err := sheet.Compare(gs, titles, z, y, o.n)
	if err != nil {
		return err
	}
	if err := sheet.SavePNG(filepath.Join(o.out, "grid.png"), img); err != nil {
		return err
	}
	if o.each {
		if err := o.writeEach(gens, z, y); err != nil {
			return err
		}
	}
	fmt.Println("wrote", filepath.Join(o.out, "grid.png"))
	return nil
}

// latents draws n samples' z for every class, one class after another.
func (o *sampleOptions) latents(cfg biggan.Config, classes []int) ([]float32, []int64) {
	rng := rand.New(rand.NewPCG(o.seed, 0))
	var z []float32
	var y []int64
	for _, c := range classes {
		for range o.n {
			for range cfg.DimZ {
				z = append(z, float32(rng.NormFloat64()*o.truncation))
			}
			y = append(y, int64(c))
		}
	}
	return z, y
}

// writeEach writes every sample as its own PNG; with several models each
// gets a subdirectory named by its label.
func (o *sampleOptions) writeEach(gens []genSource, z []float32, y []int64) error {
	for _, gs := range gens {
		dir := o.out
		if len(gens) > 1 {
			dir = filepath.Join(o.out, gs.label)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		pix, err := gs.g.Images(z, y, 50)
		if err != nil {
			return err
		}
		res := gs.g.Cfg.Resolution
		per := 3 * res * res
		for i, c := range y {
			name := fmt.Sprintf("%d_%d.png", c, i%o.n)
			if err := sheet.SavePNG(filepath.Join(dir, name), sheet.ToImage(pix[i*per:(i+1)*per], 3, res, res)); err != nil {
				return err
			}
		}
	}
	return nil
}

func unzip(gens []genSource) ([]*biggan.Generator, []string) {
	gs := make([]*biggan.Generator, len(gens))
	titles := make([]string, len(gens))
	for i, s := range gens {
		gs[i], titles[i] = s.g, s.label
	}
	return gs, titles
}

// parseClasses reads a comma-separated class list; empty means all.
func parseClasses(s string, n int) ([]int, error) {
	cs, err := parseInts(s)
	if err != nil {
		return nil, fmt.Errorf("--classes: %w", err)
	}
	if len(cs) == 0 {
		for c := range n {
			cs = append(cs, c)
		}
	}
	for _, c := range cs {
		if c < 0 || c >= n {
			return nil, fmt.Errorf("--classes: class %d outside 0..%d", c, n-1)
		}
	}
	return cs, nil
}
