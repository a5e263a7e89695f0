package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ganshift/assets"
	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/finetune"
)

// loadModel reads --model: "" or "default" is the embedded MNIST BigGAN,
// "G=FILE,D=FILE[,G_ema=FILE]" weight files (.pth or .safetensors, see
// weightFiles), anything else a model directory. The model has a D.
func loadModel(src string) (*biggan.Model, string, error) {
	return loadModelFor(src, true)
}

// loadModelFor is loadModel; needD false also accepts weight files without
// a discriminator, or a single generator file.
func loadModelFor(src string, needD bool) (*biggan.Model, string, error) {
	if src == "" || src == "default" || src == assets.ModelName {
		m, err := assets.Model()
		return m, assets.ModelName, err
	}
	if files, ok := weightFiles(src); ok {
		if needD && files.D == "" {
			return nil, "", fmt.Errorf("model %q: a discriminator is needed too: add D=FILE", src)
		}
		m, err := biggan.LoadFiles(files)
		return m, cmp.Or(files.GEma, files.G), err
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("model %s: no such file or directory", src)
	}
	m, err := biggan.LoadDir(src)
	return m, src, err
}

// weightFiles recognises a model given as weight files rather than a model
// directory: "G=FILE,D=FILE,G_ema=FILE" in any order and subset, or one
// .pth, .pt or .safetensors file, which is a generator.
func weightFiles(src string) (biggan.Files, bool) {
	switch strings.ToLower(filepath.Ext(src)) {
	case ".pth", ".pt", ".safetensors":
		if !strings.Contains(src, "=") {
			return biggan.Files{G: src}, true
		}
	}
	if !strings.Contains(src, "=") {
		return biggan.Files{}, false
	}
	var f biggan.Files
	for _, part := range strings.Split(src, ",") {
		key, path, _ := strings.Cut(part, "=")
		switch key {
		case "G":
			f.G = path
		case "D":
			f.D = path
		case "G_ema":
			f.GEma = path
		default:
			return biggan.Files{}, false
		}
	}
	return f, true
}

// weightSpec writes files as loadModel's "G=FILE,D=FILE,G_ema=FILE".
func weightSpec(f biggan.Files) (string, error) {
	var parts []string
	for _, kv := range [][2]string{{"G", f.G}, {"G_ema", f.GEma}, {"D", f.D}} {
		if kv[1] == "" {
			continue
		}
		if strings.ContainsAny(kv[1], ",=") {
			return "", fmt.Errorf("--%s %s: a weight file name may not contain ',' or '='", strings.ToLower(strings.ReplaceAll(kv[0], "_", "-")), kv[1])
		}
		parts = append(parts, kv[0]+"="+kv[1])
	}
	return strings.Join(parts, ","), nil
}

// genSource is one generator named on the command line.
type genSource struct {
	g     *biggan.Generator
	label string
	free  func()
}

// loadGenerator reads a generator source:
//
//	default            the embedded model's G_ema
//	DIR                a model directory (its G_ema, or G with which="G")
//	FILE, G=FILE,…     weight files (.pth or .safetensors), see weightFiles
//	RUN or RUN:ITER    a fine-tuning run's last snapshot, or the one of iteration ITER
//	SNAPSHOT_DIR       one snapshot directory of a run
func loadGenerator(src, which string) (genSource, error) {
	if run, it, ok := runSource(src); ok {
		return loadSnapshot(run, it)
	}
	if _, err := os.Stat(filepath.Join(src, "state.json")); err == nil {
		it, err := strconv.Atoi(filepath.Base(src))
		if err != nil {
			return genSource{}, fmt.Errorf("%s: a snapshot directory is named by its iteration", src)
		}
		return loadSnapshot(filepath.Dir(filepath.Dir(src)), it)
	}
	m, name, err := loadModelFor(src, false)
	if err != nil {
		return genSource{}, err
	}
	g := m.Sampler()
	if which == "G" {
		g = m.G
	}
	return genSource{g: g, label: labelOf(name), free: m.Free}, nil
}

// runSource recognises RUN and RUN:ITER where RUN holds a config.json.
func runSource(src string) (run string, it int, ok bool) {
	run, itStr, hasIt := strings.Cut(src, ":")
	if _, err := os.Stat(filepath.Join(run, "config.json")); err != nil {
		return "", 0, false
	}
	if !hasIt {
		its, err := finetune.Snapshots(run)
		if err != nil || len(its) == 0 {
			return run, -1, true
		}
		return run, its[len(its)-1], true
	}
	it, err := strconv.Atoi(itStr)
	if err != nil {
		return run, -1, true
	}
	return run, it, true
}

func loadSnapshot(run string, it int) (genSource, error) {
	cfg, err := finetune.ReadConfig(run)
	if err != nil {
		return genSource{}, err
	}
	if it < 0 {
		return genSource{}, fmt.Errorf("%s: no such snapshot (the run has %s)", run, snapshotList(run))
	}
	path := filepath.Join(finetune.SnapshotDir(run, it), "G.safetensors")
	if _, err := os.Stat(path); err != nil {
		return genSource{}, fmt.Errorf("%s: no snapshot at iteration %d (the run has %s)", run, it, snapshotList(run))
	}
	g, err := biggan.NewGenerator(cfg.ModelCfg, 0)
	if err != nil {
		return genSource{}, err
	}
	state, _, err := checkpoint.Load(path)
	if err == nil {
		err = g.Params.Load(state, path)
	}
	if err != nil {
		g.Free()
		return genSource{}, err
	}
	return genSource{g: g, label: fmt.Sprintf("%s@%d", labelOf(run), it), free: g.Free}, nil
}

func snapshotList(run string) string {
	its, err := finetune.Snapshots(run)
	if err != nil || len(its) == 0 {
		return "none"
	}
	return strings.Trim(fmt.Sprint(its), "[]")
}

func labelOf(path string) string {
	if strings.HasPrefix(path, "embedded:") {
		return "base"
	}
	return filepath.Base(filepath.Clean(path))
}

// loadGenerators reads several sources; on error it frees what it loaded.
func loadGenerators(srcs []string, which string) ([]genSource, func(), error) {
	var out []genSource
	freeAll := func() {
		for _, s := range out {
			s.free()
		}
	}
	for _, src := range srcs {
		gs, err := loadGenerator(src, which)
		if err != nil {
			freeAll()
			return nil, nil, err
		}
		out = append(out, gs)
	}
	if len(out) > 1 {
		for _, s := range out[1:] {
			if s.g.Cfg.DimZ != out[0].g.Cfg.DimZ || s.g.Cfg.NClasses != out[0].g.Cfg.NClasses {
				freeAll()
				return nil, nil, fmt.Errorf("%s and %s differ in dim_z or classes: they cannot share z and y", out[0].label, s.label)
			}
		}
	}
	return out, freeAll, nil
}
