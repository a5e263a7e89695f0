package main

import (
	"runtime"

	"github.com/spf13/cobra"

	"ganshift/progress"
	"ganshift/torch"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	threads int
	device  string
	quiet   bool
}

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "ganshift",
		Short: "Transform what a pretrained GAN draws by fine-tuning it with a cross-dataset classifier",
		Long: `ganshift fine-tunes the generator of a pretrained class-conditional GAN so that
its samples satisfy both a frozen classifier, trained on the GAN's own image
domain and a new one, and the GAN's own frozen discriminator. The result is a
generator whose output fuses features of both domains.

Start with "ganshift demo", which runs the whole method on the embedded
MNIST BigGAN and a set of typeset digits.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			dev, err := torch.ParseDevice(g.device)
			if err != nil {
				return err
			}
			torch.SetDevice(dev)
			torch.SetThreads(g.threads)
			progress.Quiet = g.quiet
			return nil
		},
	}
	root.PersistentFlags().IntVar(&g.threads, "threads", runtime.NumCPU(), "libtorch intra-op threads")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress output")
	root.PersistentFlags().StringVar(&g.device, "device", "cpu", "where the networks run: cpu, or cuda with a CUDA build of libtorch")
	root.AddCommand(newPretrainCmd(), newTrainClassifierCmd(), newSampleCmd(), newFinetuneCmd(), newInterpCmd(), newDemoCmd(), newImportCmd(),
		newSweepCmd(), newReportCmd(), newScoreCmd(), newClassesCmd())
	root.AddCommand(newExportCmd())
	root.AddCommand(newBenchCmd())
	return root
}
