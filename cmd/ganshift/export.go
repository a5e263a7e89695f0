package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/finetune"
)

type exportOptions struct {
	run  string
	iter int
	out  string
}

func newExportCmd() *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --run <run-dir> [--iter N] --out <model-dir>",
		Short: "Write a fine-tuning run's snapshot as a model directory",
		Long: `Write the generator of one snapshot of a fine-tuning run (the last one unless
--iter says which) as a model directory, with the discriminator of the model
the run started from, so that every command takes it as --model and a
PyTorch user can load its files into BigGAN-PyTorch modules.

The fine-tuned weights are written as both G.safetensors and
G_ema.safetensors: fine-tuning produced one generator, and whichever file a
sampling script reads (BigGAN-PyTorch samples from G_ema) gets it. D is the
base model's, unchanged, since fine-tuning never updates it. model.json
records the run, the iteration and the run's config.json. Tensors keep
BigGAN-PyTorch's state-dict key names.

The output directory must not exist or must be empty; it is built under a
temporary name and renamed into place, so a failed export leaves nothing.`,
		Example: `  ganshift export --run runs/joint --iter 300 --out models/joint-300
  ganshift sample --model models/joint-300 --classes 3,8 --out samples`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.export(cmd.Flags().Changed("iter"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.run, "run", "", "fine-tuning run directory (required)")
	f.IntVar(&o.iter, "iter", 0, "snapshot iteration to export (default: the last snapshot)")
	f.StringVar(&o.out, "out", "", "model directory to create (required)")
	return cmd
}

func (o *exportOptions) export(iterGiven bool) error {
	if o.run == "" || o.out == "" {
		return fmt.Errorf("export: need --run and --out")
	}
	if entries, err := os.ReadDir(o.out); err == nil && len(entries) > 0 {
		return fmt.Errorf("export: %s already exists and is not empty; choose another --out", o.out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("export: %w", err)
	}
	cfg, err := finetune.ReadConfig(o.run)
	if err != nil {
		return err
	}
	its, err := finetune.Snapshots(o.run)
	if err != nil || len(its) == 0 {
		return fmt.Errorf("export: %s has no snapshot", o.run)
	}
	it := its[len(its)-1]
	if iterGiven {
		it = o.iter
		if !slices.Contains(its, it) {
			return fmt.Errorf("export: %s: no snapshot at iteration %d (the run has %s)", o.run, it, snapshotList(o.run))
		}
	}

	// D and the architecture come from the model the run started from,
	// read as finetune reads it.
	base, _, err := loadModel(cfg.Model)
	if err != nil {
		return fmt.Errorf("export: the run's model: %w", err)
	}
	defer base.Free()
	g, err := biggan.NewGenerator(base.Cfg, 0)
	if err != nil {
		return err
	}
	defer g.Free()
	gPath := filepath.Join(finetune.SnapshotDir(o.run, it), "G.safetensors")
	state, _, err := checkpoint.Load(gPath)
	if err != nil {
		return err
	}
	// Load is strict: a missing, extra or misshapen tensor is an error, so
	// the files written hold exactly BigGAN-PyTorch's keys.
	if err := g.Params.Load(state, gPath); err != nil {
		return fmt.Errorf("export: %w", err)
	}

	run, err := filepath.Abs(o.run)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	prov := map[string]any{
		"command":    "export",
		"run":        run,
		"iteration":  it,
		"G":          fmt.Sprintf("the %s fine-tuned by the run, at iteration %d", cmp.Or(cfg.Generator, "G_ema"), it),
		"G_ema":      "the same weights as G",
		"D":          "the base model's discriminator, unchanged",
		"run_config": cfg,
	}
	if len(base.Provenance) > 0 {
		prov["base_provenance"] = base.Provenance
	}
	m := &biggan.Model{Cfg: base.Cfg, G: g, GEma: g, D: base.D, Provenance: prov}
	if err := saveDirAtomic(o.out, m); err != nil {
		return err
	}
	fmt.Printf("exported %s at iteration %d to %s (G and G_ema: the fine-tuned generator; D: the base model's)\n", o.run, it, o.out)
	return nil
}

// saveDirAtomic writes m as the model directory dir, which must not exist
// or be empty: it is built under a temporary name beside dir and renamed
// into place, so that a failure leaves no directory behind.
func saveDirAtomic(dir string, m *biggan.Model) (err error) {
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := biggan.SaveDir(tmp, m); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// An empty directory in the way is replaced; rename(2) would do so on
	// Linux, other systems refuse.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
