package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"ganshift/biggan"
)

type importOptions struct {
	files biggan.Files
	out   string
}

func newImportCmd() *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import --g G.pth --d D.pth [--g-ema G_ema.pth] --out <dir>",
		Short: "Turn BigGAN-PyTorch weights (.pth or .safetensors) into a model directory",
		Long: `Read a BigGAN generator, its discriminator and optionally the generator's
moving average (G_ema), as saved by BigGAN-PyTorch with torch.save (legacy or
zip format, saved from a GPU or not) or as .safetensors files, and write a
model directory (model.json, G.safetensors, D.safetensors, G_ema.safetensors)
that every other command takes as --model.

The architecture (resolution, widths, dim_z, shared embedding size, class
count, attention) is inferred from the tensor shapes; a tensor that fits no
BigGAN, or G and D that do not belong together, is an error naming the file
and the key. The released 128×128 ImageNet BigGAN imports as is.`,
		Example: `  ganshift import --g G.pth --d D.pth --g-ema G_ema.pth --out biggan128
  ganshift sample --model biggan128 --classes 207,980 --out samples`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringVar(&o.files.G, "g", "", "generator weights (required)")
	f.StringVar(&o.files.D, "d", "", "discriminator weights (required)")
	f.StringVar(&o.files.GEma, "g-ema", "", "the generator's moving average (optional)")
	f.StringVar(&o.out, "out", "", "model directory to create (required)")
	return cmd
}

func (o *importOptions) run() error {
	var missing []string
	for _, kv := range [][2]string{{"--g", o.files.G}, {"--d", o.files.D}, {"--out", o.out}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("import: need %s", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(filepath.Join(o.out, "model.json")); err == nil {
		return fmt.Errorf("import: %s already holds a model; choose another --out", o.out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("import: %w", err)
	}
	m, err := biggan.LoadFiles(o.files)
	if err != nil {
		return err
	}
	defer m.Free()
	m.Provenance["command"] = "import"
	if err := biggan.SaveDir(o.out, m); err != nil {
		return err
	}
	c := m.Cfg
	gp, _ := m.G.Params.Count()
	dp, _ := m.D.Params.Count()
	fmt.Printf("imported a %d×%d BigGAN: %d classes, G width %d (%d parameters), D width %d (%d parameters), dim_z %d, shared embedding %d, attention G %v D %v",
		c.Resolution, c.Resolution, c.NClasses, c.GCh, gp, c.DCh, dp, c.DimZ, c.SharedDim, c.GAttn, c.DAttn)
	if m.GEma != nil {
		fmt.Print(", with G_ema")
	}
	fmt.Println()
	fmt.Println("wrote", o.out)
	return nil
}
