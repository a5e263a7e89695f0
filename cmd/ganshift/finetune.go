package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ganshift/assets"
	"ganshift/classifier"
	"ganshift/finetune"
	"ganshift/progress"
	"ganshift/torch"
)

type finetuneOptions struct {
	opt        finetune.Options
	model      string
	which      string
	classifier string
	classes    string
	train      string
	out        string
	resume     string
	precision  string
	// threadsGiven says --threads was set on the command line.
	threadsGiven bool
}

func newFinetuneCmd() *cobra.Command {
	o := &finetuneOptions{opt: finetune.Defaults()}
	cmd := &cobra.Command{
		Use:   "finetune --classifier <file> --out <run-dir>",
		Short: "Fine-tune the generator on w_cls·classifier loss + w_d·(−D score): the paper's method",
		Long: `Fine-tune only the generator: each step draws a batch from G, scores it with
the frozen cross-dataset classifier (cross-entropy toward its target class)
and the frozen discriminator (−mean score), and updates G on the weighted sum.

The run directory gets config.json (everything needed to reproduce the run),
metrics.csv (per iteration: losses, the classifier's target probability,
D's score), snapshots/NNNNNN/ every --snapshot-every iterations (G's
weights, optimizer and random state, and samples.png drawn from the same
fixed z and y every time; 000000 is the base model) and report.html, a
page that shows it all in a browser, rewritten after every snapshot.
Ctrl-C stops at the next snapshot; --resume continues a stopped or killed
run exactly.`,
		Example: `  ganshift finetune --classifier joint.safetensors --w-cls 1 --w-d 0.5 --out runs/joint
  ganshift finetune --resume runs/joint`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.threadsGiven = cmd.Flags().Changed("threads")
			if o.resume != "" {
				if err := onlyResumeFlags(cmd); err != nil {
					return err
				}
			}
			return o.run()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.classifier, "classifier", "", "cross-dataset classifier file (from train-classifier)")
	f.Float64Var(&o.opt.WCls, "w-cls", o.opt.WCls, "weight of the classifier loss")
	f.Float64Var(&o.opt.WD, "w-d", o.opt.WD, "weight of the discriminator loss")
	o.addRunFlags(f)
	f.StringVar(&o.out, "out", "", "run directory to create")
	f.StringVar(&o.resume, "resume", "", "run directory to continue from its last snapshot")
	return cmd
}

// addRunFlags registers the settings of a run that finetune and sweep
// share: all but the loss weights, the classifier and the directories.
func (o *finetuneOptions) addRunFlags(f *pflag.FlagSet) {
	f.StringVar(&o.model, "model", "default", `model directory ("default": the embedded MNIST BigGAN)`)
	f.StringVar(&o.which, "generator", "G_ema", "generator to fine-tune: G_ema or G")
	f.StringVar(&o.precision, "precision", "fp32", "fp32, or bf16: the frozen classifier and D compute in bfloat16 (CPUs with AVX-512 BF16 or AMX)")
	f.IntVar(&o.opt.Iters, "iters", o.opt.Iters, "generator updates")
	f.IntVar(&o.opt.Batch, "batch", o.opt.Batch, "samples per update")
	f.IntVar(&o.opt.SnapshotEvery, "snapshot-every", o.opt.SnapshotEvery, "iterations between snapshots")
	f.Float64Var(&o.opt.LR, "lr", o.opt.LR, "Adam learning rate")
	f.Uint64Var(&o.opt.Seed, "seed", o.opt.Seed, "random seed")
	f.Float64Var(&o.opt.Truncation, "truncation", o.opt.Truncation, "σ of z ~ N(0, σ²)")
	f.StringVar(&o.classes, "classes", "", "comma-separated classes (indices or names) to draw y from (default: all)")
	f.StringVar(&o.opt.BNMode, "bn-mode", o.opt.BNMode, `G's batch norm while training: "batch" statistics or "stored"`)
	f.StringVar(&o.train, "train", "", "comma-separated patterns of G parameters to update (default: all), e.g. 'blocks.*.bn*'")
}

func (o *finetuneOptions) run() error {
	if o.resume != "" {
		return o.resumeRun()
	}
	if o.out == "" || o.classifier == "" {
		return fmt.Errorf("need --out and --classifier (or --resume RUN)")
	}
	// Class names need the model's class table, so --classes is read once
	// the networks are open.
	classes := o.classes
	o.classes = ""
	cfg, err := o.runConfig()
	if err != nil {
		return err
	}
	nets, free, err := openNets(cfg)
	if err != nil {
		return err
	}
	defer free()
	if cfg.Options.Classes, err = parseClasses(classes, classesOf(nets.G.Cfg)); err != nil {
		return err
	}
	if classes == "" {
		cfg.Options.Classes = nil
	}
	run, err := finetune.Start(o.out, cfg, nets)
	if err != nil {
		return err
	}
	defer run.Close()
	describeTarget(cfg.Classifier, nets)
	return train(run)
}

// onlyResumeFlags refuses run settings given with --resume: a resumed run
// keeps the settings in its config.json, and ignoring the flags silently
// would mislead.
func onlyResumeFlags(cmd *cobra.Command) error {
	var given []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "resume", "threads", "quiet":
		default:
			given = append(given, "--"+f.Name)
		}
	})
	if len(given) > 0 {
		return fmt.Errorf("--resume continues a run with the settings in its config.json; %s cannot be changed (start a new run instead)", strings.Join(given, ", "))
	}
	return nil
}

// runConfig is the config.json of the run the flags describe.
func (o *finetuneOptions) runConfig() (finetune.RunConfig, error) {
	classes, err := parseInts(o.classes)
	if err != nil {
		return finetune.RunConfig{}, fmt.Errorf("--classes: %w", err)
	}
	opt := o.opt
	opt.Classes = classes
	switch o.precision {
	case "fp32", "":
	case "bf16":
		opt.AutocastBF16 = true
	default:
		return finetune.RunConfig{}, fmt.Errorf("--precision %q: want fp32 or bf16", o.precision)
	}
	if o.train != "" {
		opt.Train = strings.Split(o.train, ",")
	}
	cfg := finetune.RunConfig{Options: opt, Model: o.model, Generator: o.which, Classifier: o.classifier}
	if o.model == "default" || o.model == "" {
		cfg.Model = assets.ModelName
	}
	return cfg, nil
}

func (o *finetuneOptions) resumeRun() error {
	cfg, err := finetune.ReadConfig(o.resume)
	if err != nil {
		return err
	}
	// The thread count changes how libtorch sums, so a resumed run keeps
	// the recorded one to end where the uninterrupted run would have.
	if !o.threadsGiven && cfg.Threads > 0 {
		torch.SetThreads(cfg.Threads)
	}
	nets, free, err := openNets(cfg)
	if err != nil {
		return err
	}
	defer free()
	run, err := finetune.Resume(o.resume, nets)
	if err != nil {
		return err
	}
	defer run.Close()
	if run.Iter() >= cfg.Options.Iters {
		fmt.Printf("%s already finished (%d of %d iterations); nothing to do\n", o.resume, run.Iter(), cfg.Options.Iters)
		return nil
	}
	progress.Printf("resuming %s at iteration %d of %d\n", o.resume, run.Iter(), cfg.Options.Iters)
	return train(run)
}

// train runs the loop; the first Ctrl-C (or SIGTERM) finishes the current
// snapshot interval cleanly, a second one kills the process.
func train(run *finetune.Run) error {
	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stop.Store(true)
		progress.Printf("\nstopping at the next snapshot (Ctrl-C again to kill)\n")
		signal.Stop(sig)
	}()
	defer signal.Stop(sig)
	if err := run.Train("finetune", stop.Load); err != nil {
		return err
	}
	fmt.Println("run in", run.Dir)
	return nil
}

// describeTarget says which class the generator is pushed toward, so that
// a classifier of another kind than expected (a digit classifier, say) is
// noticed at once.
func describeTarget(path string, nets finetune.Nets) {
	c := nets.C.Cfg
	name := ""
	if c.Target < len(c.Names) {
		name = " (" + c.Names[c.Target] + ")"
	}
	mode := c.Mode
	if mode == "" {
		mode = "plain"
	}
	progress.Printf("pushing G toward class %d%s of %s, a %s classifier with %d classes\n", c.Target, name, path, mode, c.Classes)
}

// openNets loads the GAN and the classifier a run config names.
func openNets(cfg finetune.RunConfig) (finetune.Nets, func(), error) {
	m, _, err := loadModel(cfg.Model)
	if err != nil {
		return finetune.Nets{}, nil, err
	}
	g := m.Sampler()
	if cfg.Generator == "G" {
		g = m.G
	}
	c, err := loadClassifier(cfg.Classifier)
	if err != nil {
		m.Free()
		return finetune.Nets{}, nil, err
	}
	free := func() {
		m.Free()
		c.Free()
	}
	return finetune.Nets{G: g, D: m.D, C: c}, free, nil
}

func loadClassifier(path string) (*classifier.Net, error) {
	if path == assets.BackboneName {
		return assets.Backbone()
	}
	return classifier.Load(path)
}
