package main

import (
	"fmt"
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
// anything else a model directory.
func loadModel(src string) (*biggan.Model, string, error) {
	if src == "" || src == "default" || src == assets.ModelName {
		m, err := assets.Model()
		return m, assets.ModelName, err
	}
	m, err := biggan.LoadDir(src)
	return m, src, err
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
	m, name, err := loadModel(src)
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
