package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	arch           string
	size           int
	archSet        bool // --arch was given
	sizeSet        bool // --size was given
	augmentSet     bool // --augment was given
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
digit classifier) with a new two-class head.

--backbone also takes a torchvision ResNet or ResNeXt state dict (.pth, as
torch.save writes it: resnet18/34/50/101/152, resnext50_32x4d,
resnext101_32x8d, wide_resnet50_2, ...; the architecture is read from the
tensor names and shapes). Its fc layer is replaced by the new head; the
images are resized to --size (default 224 for ResNets), mapped to [0, 1] and
normalised with ImageNet's mean and std; batch norms train on batch
statistics. --augment (on by default for ResNets) draws a random resized
crop (25-100% of the area, aspect 3/4-4/3) and a random horizontal flip of
every training image.`,
		Example: `  ganshift train-classifier --mode contrastive --out contrastive.safetensors
  ganshift train-classifier --mode joint --domain mnist --new ./my-images --out joint.safetensors
  ganshift train-classifier --mode contrastive --domain ./dogs --new ./paintings \
      --backbone resnet50-0676ba61.pth --epochs 5 --batch 32 --lr 1e-4 --out dogs-paintings.safetensors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.archSet = cmd.Flags().Changed("arch")
			o.sizeSet = cmd.Flags().Changed("size")
			o.augmentSet = cmd.Flags().Changed("augment")
			return o.run()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", "", "contrastive, joint or classes (required)")
	f.StringVar(&o.domain, "domain", "mnist", "the GAN's own image set")
	f.StringVar(&o.newSet, "new", "typeset", "the new image set")
	f.StringVar(&o.backbone, "backbone", "default", `pretrained classifier to start from: a classifier file (.safetensors), a torchvision ResNet/ResNeXt state dict (.pth), "default" (embedded digits) or "none" (random weights)`)
	f.StringVar(&o.arch, "arch", "smallcnn", `architecture with --backbone none: smallcnn, or a ResNet such as resnet50 or resnext50_32x4d`)
	f.IntVar(&o.size, "size", 32, "input size in pixels (default 224 for ResNets)")
	f.BoolVar(&o.train.Augment, "augment", false, "random resized crops and horizontal flips while training (default true for ResNets)")
	f.IntVar(&o.heldOut, "held-out", 1000, "images held out to measure accuracy (at most a tenth of them)")
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
	if dir := filepath.Dir(o.out); !isDir(dir) {
		return fmt.Errorf("--out %s: folder %s does not exist", o.out, dir)
	}
	backbone, err := o.loadBackbone()
	if err != nil {
		return err
	}
	if backbone != nil {
		defer backbone.Free()
	}
	base := classifier.Config{Arch: o.arch}
	if backbone != nil {
		if o.archSet && o.arch != backbone.Cfg.Arch {
			return fmt.Errorf("--arch %s, but --backbone %s is a %s", o.arch, o.backbone, backbone.Cfg.Arch)
		}
		base = backbone.Cfg
	}
	if classifier.IsResNet(base.Arch) {
		if !o.sizeSet {
			o.size = classifier.DefaultResNetSize
		}
		if !o.augmentSet {
			o.train.Augment = true
		}
	}
	set, cfg, err := o.trainingSet(base)
	if err != nil {
		return err
	}
	// Hold out at most a tenth: a small folder of one's own images must
	// still leave most of them for training.
	heldOut := min(o.heldOut, set.N/10)
	train, test := set.Split(heldOut, o.train.Seed)
	if test.N == 0 || train.N < o.train.Batch {
		return fmt.Errorf("%d images in all: too few to train in batches of %d with %d held out (lower --batch, or add images)",
			set.N, o.train.Batch, heldOut)
	}
	c, err := classifier.New(cfg, o.train.Seed)
	if err != nil {
		return err
	}
	defer c.Free()
	if backbone != nil {
		if err := c.InitFrom(backbone); err != nil {
			return err
		}
	}
	hist, err := classifier.Train(c, train, test, o.train, o.mode)
	if err != nil {
		return err
	}
	c.Cfg.Training = map[string]any{"domain": o.domain, "new": o.newSet, "backbone": o.backbone,
		"options": o.train, "held_out": heldOut, "epochs": hist}
	if err := c.Save(o.out); err != nil {
		return err
	}
	fmt.Printf("wrote %s (held-out accuracy %.4f)\n", o.out, hist[len(hist)-1].HeldOutAcc)
	return nil
}

// trainingSet loads the sets and labels them by mode, for a classifier of
// base's architecture.
func (o *trainClassifierOptions) trainingSet(base classifier.Config) (*dataset.Images, classifier.Config, error) {
	cfg := classifier.Config{Arch: base.Arch, Width: base.Width, Size: o.size, Classes: 2, Mode: o.mode, Target: 1,
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

// loadBackbone reads --backbone; nil means none (random weights).
func (o *trainClassifierOptions) loadBackbone() (*classifier.Net, error) {
	switch {
	case o.backbone == "none":
		return nil, nil
	case o.backbone == "default":
		if o.mode == "classes" || o.arch != "smallcnn" {
			return nil, nil
		}
		return assets.Backbone()
	case strings.HasSuffix(o.backbone, ".pth") || strings.HasSuffix(o.backbone, ".pt"):
		return classifier.LoadPth(o.backbone)
	}
	return classifier.Load(o.backbone)
}

// isDir reports whether path is an existing folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
