package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/biggan"
	"ganshift/sheet"
	"ganshift/torch"
)

type sampleOptions struct {
	models     []string
	files      biggan.Files // --g, --g-ema, --d
	which      string
	classes    string
	n          int
	seed       uint64
	truncation float64
	each       bool
	out        string

	// Raw mode: G's output for given inputs, as .npy.
	raw        string // output .npy
	z          string // input z .npy
	embeddings string // input class embeddings .npy (instead of classes)
	bnMode     string // "stored" or "batch"
	batch      int
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
they replace the default model, or are added to the --model list.

--classes takes indices and names: a name matches any of a class's names
without regard to case ("goldfish,207,tabby cat"). Names come from the
model's model.json, or are ImageNet's for a 1000-class model without any
("ganshift classes" lists them). Grid rows are labelled with the names.

Raw mode (--raw OUT.npy) writes what G outputs for exactly the inputs given
as NumPy files, for comparison with other tools: --z Z.npy (float32 or
float64, shape (B, dim_z)) and either --classes Y.npy (integers, shape (B,))
or --embeddings E.npy (floats, shape (B, shared_dim), used in place of the
shared class embedding). OUT.npy is float32 (B, 3, R, R) in [-1, 1]. Batch
norm uses the stored statistics, or with --bn-mode batch the statistics of
the B inputs, all in one batch, as in training; the stored statistics in
the weight files are never changed.`,
		Example: `  ganshift sample --classes 0,1,2 --n 8 --seed 3 --out samples
  ganshift sample --model default --model demo-out/runs/joint --model demo-out/runs/joint:100 --out cmp
  ganshift sample --g G_ema.pth --classes "goldfish,golden retriever,980" --truncation 0.5 --out release
  ganshift sample --g G_ema.pth --z z.npy --classes y.npy --raw images.npy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.addFiles(cmd.Flags().Changed("model")); err != nil {
				return err
			}
			if o.raw != "" {
				return o.runRaw(cmd)
			}
			for _, name := range []string{"z", "embeddings", "bn-mode", "batch"} {
				if f := cmd.Flags().Lookup(name); f.Changed {
					return fmt.Errorf("--%s %s: applies to --raw OUT.npy only", name, f.Value)
				}
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
	f.StringVar(&o.classes, "classes", "", "comma-separated class indices or names (default: all); with --raw, a .npy of class indices")
	f.IntVar(&o.n, "n", 10, "samples per class")
	f.Uint64Var(&o.seed, "seed", 1, "random seed for z")
	f.Float64Var(&o.truncation, "truncation", 1, "σ of z ~ N(0, σ²)")
	f.BoolVar(&o.each, "each", false, "also write one PNG per sample, <class>_<index>.png")
	f.StringVar(&o.out, "out", "", "output directory (required unless --raw)")
	f.StringVar(&o.raw, "raw", "", "write G's output for --z and --classes (or --embeddings) to this .npy file")
	f.StringVar(&o.z, "z", "", "with --raw: latents, a float .npy of shape (B, dim_z)")
	f.StringVar(&o.embeddings, "embeddings", "", "with --raw: class embeddings, a float .npy of shape (B, shared_dim), instead of --classes")
	f.StringVar(&o.bnMode, "bn-mode", "stored", `with --raw: batch norm with "stored" statistics or the "batch" statistics of the B inputs`)
	f.IntVar(&o.batch, "batch", 50, "with --raw: samples per forward pass (--bn-mode batch draws all at once)")
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
	if o.out == "" {
		return fmt.Errorf(`required flag(s) "out" not set`)
	}
	if isNpy(o.classes) {
		return fmt.Errorf("--classes %s: a .npy of classes is for --raw OUT.npy, with --z", o.classes)
	}
	if o.n < 1 {
		return fmt.Errorf("--n %d: need at least one sample", o.n)
	}
	gens, free, err := loadGenerators(o.models, o.which)
	if err != nil {
		return err
	}
	defer free()
	cfg := gens[0].g.Cfg
	table := classesOf(cfg)
	classes, err := parseClasses(o.classes, table)
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
	if len(gens) == 1 && table.named() {
		// One row per class: label it. (Side-by-side grids stay as they are.)
		labels := make([]string, len(classes))
		for i, c := range classes {
			labels[i] = fmt.Sprintf("%d %s", c, table.short(c))
		}
		res := cfg.Resolution
		img = sheet.RowLabels(img, labels, 1, res*sheet.Scale(res)+2)
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

// isNpy reports whether path names a .npy file.
func isNpy(path string) bool { return strings.EqualFold(filepath.Ext(path), ".npy") }

// runRaw writes G's output for the inputs in --z and --classes (or
// --embeddings) to --raw.
func (o *sampleOptions) runRaw(cmd *cobra.Command) error {
	for _, name := range []string{"out", "each", "n", "seed", "truncation"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return fmt.Errorf("--%s does not apply to --raw, which draws exactly the inputs of --z", name)
		}
	}
	switch {
	case o.z == "":
		return fmt.Errorf("--raw %s: give the latents as --z Z.npy", o.raw)
	case (o.classes == "") == (o.embeddings == ""):
		return fmt.Errorf("--raw %s: give the classes as --classes Y.npy or the class embeddings as --embeddings E.npy (one of them)", o.raw)
	case o.classes != "" && !isNpy(o.classes):
		return fmt.Errorf("--classes %q: with --raw, a .npy file of class indices", o.classes)
	case o.bnMode != "stored" && o.bnMode != "batch":
		return fmt.Errorf("--bn-mode %q: want stored or batch", o.bnMode)
	case o.batch < 1:
		return fmt.Errorf("--batch %d: need at least one sample per pass", o.batch)
	case len(o.models) != 1:
		return fmt.Errorf("--raw draws from one model, not %d", len(o.models))
	case !isNpy(o.raw):
		return fmt.Errorf("--raw %s: the output is a .npy file", o.raw)
	}
	gs, err := loadGenerator(o.models[0], o.which)
	if err != nil {
		return err
	}
	defer gs.free()
	g := gs.g
	cfg := g.Cfg

	zf, err := readNpy("--z", o.z)
	if err != nil {
		return err
	}
	z, err := zf.floats([]int{-1, cfg.DimZ}, fmt.Sprintf("(B, %d): the generator's dim_z is %d", cfg.DimZ, cfg.DimZ))
	if err != nil {
		return err
	}
	var e []float32
	if o.embeddings != "" {
		ef, err := readNpy("--embeddings", o.embeddings)
		if err != nil {
			return err
		}
		if e, err = ef.floats([]int{-1, cfg.SharedDim}, fmt.Sprintf("(B, %d): the generator's shared embedding has %d values", cfg.SharedDim, cfg.SharedDim)); err != nil {
			return err
		}
		if err := sameRows(zf, ef); err != nil {
			return err
		}
	} else {
		yf, err := readNpy("--classes", o.classes)
		if err != nil {
			return err
		}
		y, err := yf.ints([]int{-1}, "(B,): one class index per sample")
		if err != nil {
			return err
		}
		if err := sameRows(zf, yf); err != nil {
			return err
		}
		if e, err = embedClasses(g, y); err != nil {
			return yf.errorf("%v", err)
		}
	}

	var pix []float32
	if o.bnMode == "batch" {
		pix, err = drawBatchStats(g, z, e)
	} else {
		pix, err = g.FromEmbeddings(z, e, o.batch)
	}
	if err != nil {
		return err
	}
	res := cfg.Resolution
	if err := writeNpy(o.raw, pix, zf.rows(), 3, res, res); err != nil {
		return err
	}
	fmt.Println("wrote", o.raw)
	return nil
}

// embedClasses returns the shared embedding rows of classes y, checking
// that each is a class of g.
func embedClasses(g *biggan.Generator, y []int64) ([]float32, error) {
	for i, c := range y {
		if c < 0 || int(c) >= g.Cfg.NClasses {
			return nil, fmt.Errorf("class %d at row %d outside 0..%d", c, i, g.Cfg.NClasses-1)
		}
	}
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	e := g.Embed(s, s.FromInt64(y, int64(len(y))))
	if err := s.Err(); err != nil {
		return nil, err
	}
	return e.Float32()
}

// drawBatchStats draws all of z and e in one forward pass whose batch
// norms use the batch's statistics (G in training mode, as the fine-tuning
// loop draws with --bn-mode batch). That pass also moves g's stored
// statistics and spectral-norm vectors, in memory only: g is discarded
// afterwards and nothing is written back.
func drawBatchStats(g *biggan.Generator, z, e []float32) ([]float32, error) {
	b := len(e) / g.Cfg.SharedDim
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	x := g.Forward(s, s.FromFloat32(z, int64(b), int64(g.Cfg.DimZ)), s.FromFloat32(e, int64(b), int64(g.Cfg.SharedDim)), true)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return x.Float32()
}
