package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/assets"
	"ganshift/classifier"
	"ganshift/dataset"
)

type trainClassifierOptions struct {
	domain, newSet string
	mode           string
	backbone       string
	size           int
	heldOut        int
	train          classifier.TrainOptions
	out            string
}

func newTrainClassifierCmd() *cobra.Command {
	o := &trainClassifierOptions{train: classifier.DefaultTrainOptions()}
	cmd := &cobra.Command{
		Use:   "train-classifier --mode <contrastive|joint> --out <file>",
		Short: "Train the cross-dataset classifier on the GAN's domain and a new image set",
		Long: `Train the cross-dataset classifier of the method on two image sets:
  contrastive  the domain set is class 0, the new set class 1 (the target)
  joint        both sets are class 1, the target (the paper's "joint features")
  classes      the domain set's own labels (how the embedded digit backbone was made)

Image sets are "mnist", "typeset", "typeset:N:SEED" or a folder of images
(JPEG, PNG, WebP, GIF). The larger set is subsampled so both weigh the same.
The network starts from a pretrained backbone (default: the embedded MNIST
digit classifier) with a new two-class head.`,
		Example: `  ganshift train-classifier --mode contrastive --out contrastive.safetensors
  ganshift train-classifier --mode joint --domain mnist --new ./my-images --out joint.safetensors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", "", "contrastive, joint or classes (required)")
	f.StringVar(&o.domain, "domain", "mnist", "the GAN's own image set")
	f.StringVar(&o.newSet, "new", "typeset", "the new image set")
	f.StringVar(&o.backbone, "backbone", "default", `pretrained classifier file to start from ("default": embedded digits, "none": random)`)
	f.IntVar(&o.size, "size", 32, "input size in pixels")
	f.IntVar(&o.heldOut, "held-out", 1000, "images held out to measure accuracy")
	f.IntVar(&o.train.Epochs, "epochs", o.train.Epochs, "passes over the training set")
	f.IntVar(&o.train.Batch, "batch", o.train.Batch, "batch size")
	f.Float64Var(&o.train.LR, "lr", o.train.LR, "Adam learning rate")
	f.Uint64Var(&o.train.Seed, "seed", o.train.Seed, "random seed")
	f.StringVar(&o.out, "out", "", "classifier file to write (.safetensors, required)")
	cmd.MarkFlagRequired("mode")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (o *trainClassifierOptions) run() error {
	if !strings.HasSuffix(o.out, ".safetensors") {
		return fmt.Errorf("--out %s: the classifier is written as .safetensors", o.out)
	}
	set, cfg, err := o.trainingSet()
	if err != nil {
		return err
	}
	train, test := set.Split(o.heldOut, o.train.Seed)
	c, err := classifier.New(cfg, o.train.Seed)
	if err != nil {
		return err
	}
	defer c.Free()
	if err := o.initBackbone(c); err != nil {
		return err
	}
	hist, err := classifier.Train(c, train, test, o.train, o.mode)
	if err != nil {
		return err
	}
	c.Cfg.Training = map[string]any{"domain": o.domain, "new": o.newSet, "backbone": o.backbone,
		"options": o.train, "held_out": o.heldOut, "epochs": hist}
	if err := c.Save(o.out); err != nil {
		return err
	}
	fmt.Printf("wrote %s (held-out accuracy %.4f)\n", o.out, hist[len(hist)-1].HeldOutAcc)
	return nil
}

// trainingSet loads the sets and labels them by mode.
func (o *trainClassifierOptions) trainingSet() (*dataset.Images, classifier.Config, error) {
	cfg := classifier.Config{Arch: "smallcnn", Size: o.size, Classes: 2, Mode: o.mode, Target: 1,
		Names: []string{"domain", "new"}}
	domain, err := loadImages(o.domain, o.size, 0)
	if err != nil {
		return nil, cfg, err
	}
	if o.mode == "classes" {
		cfg.Classes, cfg.Target, cfg.Names = maxLabel(domain)+1, 0, nil
		return domain, cfg, nil
	}
	newSet, err := loadImages(o.newSet, o.size, 1)
	if err != nil {
		return nil, cfg, err
	}
	set, err := classifier.CrossSet(domain, newSet, o.mode, o.train.Seed)
	return set, cfg, err
}

func maxLabel(im *dataset.Images) int {
	m := 0
	for _, l := range im.Labels {
		m = max(m, l)
	}
	return m
}

func (o *trainClassifierOptions) initBackbone(c *classifier.Net) error {
	var b *classifier.Net
	var err error
	switch o.backbone {
	case "none":
		return nil
	case "default":
		if o.mode == "classes" {
			return nil
		}
		b, err = assets.Backbone()
	default:
		b, err = classifier.Load(o.backbone)
	}
	if err != nil {
		return err
	}
	defer b.Free()
	return c.InitFrom(b)
}
