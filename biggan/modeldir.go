package biggan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ganshift/checkpoint"
	"ganshift/internal/atomicfile"
	"ganshift/nn"
)

// Model is a model directory in memory: G, D and optionally G_ema.
type Model struct {
	Cfg  Config
	G    *Generator
	GEma *Generator // nil when the directory has none
	D    *Discriminator
	// Provenance says where the weights came from (a command, a file).
	Provenance map[string]any
}

// modelJSON is the content of model.json.
type modelJSON struct {
	Format     string         `json:"format"`
	Config     Config         `json:"config"`
	Files      []string       `json:"files"`
	Provenance map[string]any `json:"provenance,omitempty"`
}

const formatName = "ganshift-biggan/1"

// Free releases every network of m.
func (m *Model) Free() {
	for _, g := range []*Generator{m.G, m.GEma} {
		if g != nil {
			g.Free()
		}
	}
	if m.D != nil {
		m.D.Free()
	}
}

// Sampler is the generator to draw from: G_ema when present, as the
// BigGAN authors sample, else G.
func (m *Model) Sampler() *Generator {
	if m.GEma != nil {
		return m.GEma
	}
	return m.G
}

// SaveDir writes m to dir as model.json plus G, D and G_ema safetensors
// files. Every file is written atomically.
func SaveDir(dir string, m *Model) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("biggan: %w", err)
	}
	nets := map[string]*nn.Params{"G": m.G.Params, "D": m.D.Params}
	if m.GEma != nil {
		nets["G_ema"] = m.GEma.Params
	}
	var files []string
	for _, name := range []string{"G", "G_ema", "D"} {
		p, ok := nets[name]
		if !ok {
			continue
		}
		file := name + ".safetensors"
		if err := SaveParams(filepath.Join(dir, file), p, m.Cfg); err != nil {
			return err
		}
		files = append(files, file)
	}
	js := modelJSON{Format: formatName, Config: m.Cfg, Files: files, Provenance: m.Provenance}
	return atomicfile.WriteJSON(filepath.Join(dir, "model.json"), js)
}

// SaveParams writes one network's tensors, with the config in the
// safetensors metadata so that the file also stands alone.
func SaveParams(path string, p *nn.Params, cfg Config) error {
	state, err := p.State()
	if err != nil {
		return fmt.Errorf("biggan: %s: %w", path, err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("biggan: %s: %w", path, err)
	}
	return checkpoint.Save(path, state, map[string]string{"ganshift_config": string(cfgJSON)})
}

// LoadDir reads a model directory written by SaveDir.
func LoadDir(dir string) (*Model, error) {
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS reads a model directory from fsys (the embedded default comes
// this way); name is used in error messages.
func LoadFS(fsys fs.FS, name string) (*Model, error) {
	raw, err := fs.ReadFile(fsys, "model.json")
	if err != nil {
		return nil, fmt.Errorf("biggan: %s: not a model directory: %w", name, err)
	}
	var js modelJSON
	if err := json.Unmarshal(raw, &js); err != nil {
		return nil, fmt.Errorf("biggan: %s: %w", filepath.Join(name, "model.json"), err)
	}
	if js.Format != formatName {
		return nil, fmt.Errorf("biggan: %s: format %q, want %q", filepath.Join(name, "model.json"), js.Format, formatName)
	}
	m := &Model{Cfg: js.Config, Provenance: js.Provenance}
	if err := m.load(fsys, name); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

func (m *Model) load(fsys fs.FS, dir string) error {
	var err error
	if m.G, err = NewGenerator(m.Cfg, 0); err != nil {
		return err
	}
	if m.D, err = NewDiscriminator(m.Cfg, 0); err != nil {
		return err
	}
	if err := loadInto(fsys, dir, "G.safetensors", m.G.Params); err != nil {
		return err
	}
	if err := loadInto(fsys, dir, "D.safetensors", m.D.Params); err != nil {
		return err
	}
	if _, err := fs.Stat(fsys, "G_ema.safetensors"); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if m.GEma, err = NewGenerator(m.Cfg, 0); err != nil {
		return err
	}
	return loadInto(fsys, dir, "G_ema.safetensors", m.GEma.Params)
}

func loadInto(fsys fs.FS, dir, file string, p *nn.Params) error {
	path := filepath.Join(dir, file)
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return fmt.Errorf("biggan: %s: %w", path, err)
	}
	state, _, err := checkpoint.Decode(path, raw)
	if err != nil {
		return err
	}
	if err := p.Load(state, path); err != nil {
		return fmt.Errorf("biggan: %w", err)
	}
	return nil
}
