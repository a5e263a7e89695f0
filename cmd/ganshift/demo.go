package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"ganshift/demo"
)

func newDemoCmd() *cobra.Command {
	opt := demo.Defaults()
	cmd := &cobra.Command{
		Use:   "demo [--out <dir>]",
		Short: "Run the whole method on the embedded default (MNIST BigGAN + typeset digits)",
		Long: `Run the whole method on the embedded default in a few minutes on a CPU:
render the new domain (typeset digits in washed-out colours), train a
contrastive and a joint classifier on MNIST vs typeset, fine-tune the
embedded MNIST BigGAN with each, and write:

  DIR/compare.png    base | contrastive | joint, same z and y
  DIR/interp.png     class interpolations, same z, for all three
  DIR/summary.json   classifier target probability and D score before and
                     after, pixel change, for each mode (1,000 samples)
  DIR/runs/          the two fine-tuning runs (snapshots every 25 iterations)
  DIR/classifiers/   the two classifiers`,
		Example: `  ganshift demo --out demo-out`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, err := demo.Run(opt)
			if err != nil {
				return err
			}
			js, _ := json.MarshalIndent(map[string]any{"contrastive": sum.Contrastive, "joint": sum.Joint}, "", "  ")
			fmt.Println(string(js))
			fmt.Printf("done in %.0f s: see %s and %s\n", sum.Seconds,
				filepath.Join(opt.Out, "compare.png"), filepath.Join(opt.Out, "interp.png"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Out, "out", opt.Out, "output directory")
	f.IntVar(&opt.Finetune.Iters, "iters", opt.Finetune.Iters, "fine-tuning iterations per mode")
	f.Float64Var(&opt.Finetune.WCls, "w-cls", opt.Finetune.WCls, "weight of the classifier loss")
	f.Float64Var(&opt.Finetune.WD, "w-d", opt.Finetune.WD, "weight of the discriminator loss")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed of the data, classifiers and evaluation")
	f.Uint64Var(&opt.Finetune.Seed, "finetune-seed", opt.Finetune.Seed, "random seed of fine-tuning")
	f.IntVar(&opt.EvalN, "eval", opt.EvalN, "samples behind each summary number")
	return cmd
}
