package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/sheet"
)

type interpOptions struct {
	models     []string
	which      string
	pairs      string
	seed       uint64
	truncation float64
	out        string
	gif        bool
	frames     int
	delay      int
}

func newInterpCmd() *cobra.Command {
	o := &interpOptions{}
	cmd := &cobra.Command{
		Use:   "interp --out <dir>",
		Short: "Write class-interpolation sheets: z fixed, class embeddings blended",
		Long: `Write DIR/interp.png: one row per class pair, z fixed along the row while the
class embedding moves linearly from the first class to the second in 10 steps
(2 endpoints and 8 midpoints), as in the paper's Figure 3. With several
--model, each draws the same z and the sheets are put side by side.
--gif also writes DIR/interp.gif: the same rows as an animation that moves
from the first class to the second in --frames steps and back, one column
per model.`,
		Example: `  ganshift interp --pairs 0-1,3-8 --out interp
  ganshift interp --model default --model demo-out/runs/joint --out interp
  ganshift interp --gif --frames 32 --model default --model demo-out/runs/joint:100 --out interp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.models, "model", []string{"default"}, "model, run or snapshot (repeat to compare)")
	f.StringVar(&o.which, "generator", "G_ema", "which generator of a model directory: G_ema or G")
	f.StringVar(&o.pairs, "pairs", "", "class pairs A-B, comma-separated (default: each class to the next)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed for z")
	f.Float64Var(&o.truncation, "truncation", 1, "σ of z ~ N(0, σ²)")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	f.BoolVar(&o.gif, "gif", false, "also write interp.gif, an animation back and forth")
	f.IntVar(&o.frames, "frames", 24, "interpolation steps of the GIF, from one class to the other")
	f.IntVar(&o.delay, "delay", 80, "milliseconds per GIF frame (the two ends are held 10 times as long)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (o *interpOptions) run() error {
	if o.gif && (o.frames < 2 || o.delay < 20) {
		return fmt.Errorf("--frames %d and --delay %d: need at least 2 frames of at least 20 ms", o.frames, o.delay)
	}
	gens, free, err := loadGenerators(o.models, o.which)
	if err != nil {
		return err
	}
	defer free()
	cfg := gens[0].g.Cfg
	pairs, err := parsePairs(o.pairs, cfg.NClasses)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	z := make([]float32, len(pairs)*cfg.DimZ)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * o.truncation)
	}
	gs, titles := unzip(gens)
	img, err := sheet.CompareInterp(gs, titles, pairs, z)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, "interp.png")
	if err := sheet.SavePNG(path, img); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	if o.gif {
		return o.writeGIF(gs, titles, pairs, z)
	}
	return nil
}

// parsePairs reads "A-B,C-D"; empty means every class to the next.
func parsePairs(s string, n int) ([][2]int64, error) {
	var pairs [][2]int64
	if strings.TrimSpace(s) == "" {
		for c := range min(n, 10) {
			pairs = append(pairs, [2]int64{int64(c), int64((c + 1) % n)})
		}
		return pairs, nil
	}
	for _, p := range strings.Split(s, ",") {
		// strconv, not Sscanf: "0-1x" and "0-1-2" are errors, not 0-1.
		as, bs, _ := strings.Cut(strings.TrimSpace(p), "-")
		a, errA := strconv.ParseInt(as, 10, 64)
		b, errB := strconv.ParseInt(bs, 10, 64)
		if errA != nil || errB != nil {
			return nil, fmt.Errorf("--pairs: %q is not A-B", p)
		}
		for _, c := range []int64{a, b} {
			if c < 0 || int(c) >= n {
				return nil, fmt.Errorf("--pairs: class %d outside 0..%d", c, n-1)
			}
		}
		pairs = append(pairs, [2]int64{a, b})
	}
	return pairs, nil
}
