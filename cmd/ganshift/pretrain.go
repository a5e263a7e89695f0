package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/pretrain"
)

type pretrainOptions struct {
	opt   pretrain.Options
	data  string
	gAttn string
}

func newPretrainCmd() *cobra.Command {
	o := &pretrainOptions{opt: pretrain.Defaults()}
	cmd := &cobra.Command{
		Use:     "pretrain --out <dir>",
		Short:   "Train a class-conditional BigGAN on MNIST (how the embedded default was made)",
		Example: `  ganshift pretrain --out models/mnist32 --iters 2000 --seed 1`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringVar(&o.opt.Out, "out", "", "model directory to write (required)")
	f.StringVar(&o.opt.Init, "init", "", "model directory to continue from (optimizers start afresh)")
	f.StringVar(&o.data, "data", "mnist", `labelled images: "mnist" or a folder with one subfolder per class`)
	f.IntVar(&o.opt.Iters, "iters", o.opt.Iters, "G updates")
	f.IntVar(&o.opt.Batch, "batch", o.opt.Batch, "batch size")
	f.IntVar(&o.opt.DSteps, "d-steps", o.opt.DSteps, "D updates per G update")
	f.Float64Var(&o.opt.GLR, "g-lr", o.opt.GLR, "G learning rate")
	f.Float64Var(&o.opt.DLR, "d-lr", o.opt.DLR, "D learning rate")
	f.Float64Var(&o.opt.EMADecay, "ema-decay", o.opt.EMADecay, "G_ema decay")
	f.IntVar(&o.opt.EMAStart, "ema-start", o.opt.EMAStart, "iteration from which G_ema averages (before: copies G)")
	f.Uint64Var(&o.opt.Seed, "seed", o.opt.Seed, "random seed")
	f.IntVar(&o.opt.SnapshotEvery, "snapshot-every", o.opt.SnapshotEvery, "write the model every N iterations")
	f.IntVar(&o.opt.Model.Resolution, "resolution", o.opt.Model.Resolution, "image size: 32, 64, 128 or 256")
	f.IntVar(&o.opt.Model.GCh, "g-ch", o.opt.Model.GCh, "G width")
	f.IntVar(&o.opt.Model.DCh, "d-ch", o.opt.Model.DCh, "D width")
	f.IntVar(&o.opt.Model.DimZ, "dim-z", o.opt.Model.DimZ, "latent size")
	f.IntVar(&o.opt.Model.SharedDim, "shared-dim", o.opt.Model.SharedDim, "class embedding size")
	f.StringVar(&o.gAttn, "g-attn", "16", "G attention resolutions, comma-separated (empty: none)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (o *pretrainOptions) run() error {
	attn, err := parseInts(o.gAttn)
	if err != nil {
		return fmt.Errorf("--g-attn: %w", err)
	}
	o.opt.Model.GAttn = attn
	data, names, err := loadLabelled(o.data, o.opt.Model.Resolution)
	if err != nil {
		return err
	}
	o.opt.Model.NClasses, o.opt.Model.ClassNames = len(names), names
	return pretrain.Run(o.opt, data)
}

// parseInts reads a comma-separated list of integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}
