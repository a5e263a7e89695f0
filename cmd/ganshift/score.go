package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ganshift/biggan"
)

type scoreOptions struct {
	model   string
	d       string
	images  string
	classes string
	raw     string
	batch   int
}

func newScoreCmd() *cobra.Command {
	o := &scoreOptions{}
	cmd := &cobra.Command{
		Use:   "score --images X.npy --classes Y.npy --raw OUT.npy",
		Short: "Write a discriminator's scores for given images and classes as .npy",
		Long: `Run the discriminator on images and classes given as NumPy files and write
its raw scores (before any sigmoid), for comparison with other tools.

--images X.npy holds float32 or float64 images of shape (B, 3, R, R) in
[-1, 1], R the discriminator's resolution; --classes Y.npy holds B integer
class indices, shape (B,). OUT.npy is float32 of shape (B, 1).

The discriminator is --d FILE (BigGAN-PyTorch .pth or .safetensors, its
architecture inferred from the tensors), or the D of --model: "default"
(the embedded MNIST BigGAN), a model directory, or "G=FILE,D=FILE".`,
		Example: `  ganshift score --d D.pth --images x.npy --classes y.npy --raw scores.npy
  ganshift sample --g G.pth --z z.npy --classes y.npy --raw x.npy && ganshift score --d D.pth --images x.npy --classes y.npy --raw scores.npy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("model") && o.d != "" {
				return fmt.Errorf("give the discriminator as --d or --model, not both")
			}
			return o.run()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "default", "model whose D scores: default, a model directory or G=FILE,D=FILE")
	f.StringVar(&o.d, "d", "", "discriminator weights (.pth or .safetensors)")
	f.StringVar(&o.images, "images", "", "images, a float .npy of shape (B, 3, R, R) in [-1, 1] (required)")
	f.StringVar(&o.classes, "classes", "", "class indices, an integer .npy of shape (B,) (required)")
	f.StringVar(&o.raw, "raw", "", "output .npy of the scores, float32 (B, 1) (required)")
	f.IntVar(&o.batch, "batch", 50, "images scored per forward pass")
	return cmd
}

func (o *scoreOptions) run() error {
	var missing []string
	for _, kv := range [][2]string{{"--images", o.images}, {"--classes", o.classes}, {"--raw", o.raw}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("score: need %s", joinAnd(missing))
	case !isNpy(o.raw):
		return fmt.Errorf("--raw %s: the output is a .npy file", o.raw)
	case o.batch < 1:
		return fmt.Errorf("--batch %d: need at least one image per pass", o.batch)
	}
	d, free, err := o.loadD()
	if err != nil {
		return err
	}
	defer free()
	res := d.Cfg.Resolution

	xf, err := readNpy("--images", o.images)
	if err != nil {
		return err
	}
	x, err := xf.floats([]int{-1, 3, res, res}, fmt.Sprintf("(B, 3, %d, %d): the discriminator takes %d×%d RGB images", res, res, res, res))
	if err != nil {
		return err
	}
	yf, err := readNpy("--classes", o.classes)
	if err != nil {
		return err
	}
	y, err := yf.ints([]int{-1}, "(B,): one class index per image")
	if err != nil {
		return err
	}
	if err := sameRows(xf, yf); err != nil {
		return err
	}
	for i, c := range y {
		if c < 0 || int(c) >= d.Cfg.NClasses {
			return yf.errorf("class %d at row %d outside 0..%d", c, i, d.Cfg.NClasses-1)
		}
	}
	scores, err := d.Scores(x, y, o.batch)
	if err != nil {
		return err
	}
	if err := writeNpy(o.raw, scores, len(y), 1); err != nil {
		return err
	}
	fmt.Println("wrote", o.raw)
	return nil
}

// loadD reads --d, or the D of --model.
func (o *scoreOptions) loadD() (*biggan.Discriminator, func(), error) {
	if o.d != "" {
		d, err := biggan.LoadD(o.d)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Free, nil
	}
	m, _, err := loadModel(o.model)
	if err != nil {
		return nil, nil, err
	}
	return m.D, m.Free, nil
}

// joinAnd writes "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := ""
	for i, s := range items[:len(items)-1] {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out + " and " + items[len(items)-1]
}
