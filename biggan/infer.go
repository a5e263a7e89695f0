package biggan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"ganshift/checkpoint"
	"ganshift/nn"
)

// InferConfig works out the BigGAN architecture of a generator (isG) or
// discriminator state dict from its keys and shapes: the resolution from
// the number of blocks, the width from the channels, the z chunk and dim_z
// from linear.weight, the shared-embedding size from the batch norms'
// conditioning input, the class count from shared.weight (G) or
// embed.weight (D), and the attention resolutions from the blocks that
// have one. It then checks every tensor against the architecture found:
// a state dict that fits none is an error naming the first key (in the
// network's order) or shape that does not fit.
//
// A discriminator says nothing of G, nor a generator of D, so the G fields
// of a D config (GCh, DimZ, SharedDim, GAttn) are zero, and the D fields of
// a G config (DCh, DAttn); Combine joins the two.
// The eps fields are the released model's, which a state dict cannot show.
func InferConfig(state map[string]checkpoint.Tensor, isG bool) (Config, error) {
	cfg, err := infer(state, isG)
	if err != nil {
		return Config{}, fmt.Errorf("biggan: %w", err)
	}
	var p *nn.Params
	if isG {
		g, err := newGeneratorOnly(cfg)
		if err != nil {
			return Config{}, err
		}
		defer g.Free()
		p = g.Params
	} else {
		d, err := newDiscriminatorOnly(cfg)
		if err != nil {
			return Config{}, err
		}
		defer d.Free()
		p = d.Params
	}
	if err := checkShapes(p, state, cfg); err != nil {
		return Config{}, fmt.Errorf("biggan: %w", err)
	}
	return cfg, nil
}

// infer reads the architecture from the few tensors that determine it.
func infer(state map[string]checkpoint.Tensor, isG bool) (Config, error) {
	if isG {
		return inferG(state)
	}
	return inferD(state)
}

func inferG(state map[string]checkpoint.Tensor) (Config, error) {
	shared, err := matrix(state, "shared.weight", "a generator's class embedding")
	if err != nil {
		if _, ok := state["embed.weight"]; ok {
			err = fmt.Errorf("%w; embed.weight is present: this looks like a discriminator", err)
		}
		return Config{}, err
	}
	cfg := Config{NClasses: int(shared[0]), SharedDim: int(shared[1])}
	n, err := countBlocks(state)
	if err != nil {
		return Config{}, err
	}
	for res, arch := range gArch {
		if len(arch[0]) == n {
			cfg.Resolution = res
		}
	}
	if cfg.Resolution == 0 {
		return Config{}, fmt.Errorf("%d generator blocks (blocks.0 to blocks.%d) fit no resolution (3 blocks: 32, 4: 64, 5: 128, 6: 256)", n, n-1)
	}
	arch := gArch[cfg.Resolution]
	// The last block outputs mult·width channels.
	key := fmt.Sprintf("blocks.%d.0.conv2.weight", n-1)
	last, err := shapeOf(state, key, 4)
	if err != nil {
		return Config{}, err
	}
	mult := int64(arch[1][n-1])
	if last[0]%mult != 0 || last[0] == 0 {
		return Config{}, fmt.Errorf("%s has shape %v: %d output channels are not a multiple of %d, as a %d×%d generator's last block needs", key, last, last[0], mult, cfg.Resolution, cfg.Resolution)
	}
	cfg.GCh = int(last[0] / mult)
	lin, err := matrix(state, "linear.weight", "the generator's first layer")
	if err != nil {
		return Config{}, err
	}
	chunk := int(lin[1])
	cfg.DimZ = chunk * (n + 1)
	gain, err := matrix(state, "blocks.0.0.bn1.gain.weight", "a conditional batch norm")
	if err != nil {
		return Config{}, err
	}
	if int(gain[1]) != cfg.SharedDim+chunk {
		return Config{}, fmt.Errorf("blocks.0.0.bn1.gain.weight has shape %v: its %d inputs are not the shared embedding's %d plus the z chunk's %d (linear.weight %v); not a BigGAN with hierarchical z and a shared embedding", gain, gain[1], cfg.SharedDim, chunk, lin)
	}
	for i := range n {
		if _, ok := state[fmt.Sprintf("blocks.%d.1.gamma", i)]; ok {
			cfg.GAttn = append(cfg.GAttn, 8<<i)
		}
	}
	return cfg.withDefaults(), nil
}

func inferD(state map[string]checkpoint.Tensor) (Config, error) {
	embed, err := matrix(state, "embed.weight", "a discriminator's class projection")
	if err != nil {
		if _, ok := state["shared.weight"]; ok {
			err = fmt.Errorf("%w; shared.weight is present: this looks like a generator", err)
		}
		return Config{}, err
	}
	cfg := Config{NClasses: int(embed[0])}
	n, err := countBlocks(state)
	if err != nil {
		return Config{}, err
	}
	for res, arch := range dArch {
		if len(arch.in) == n {
			cfg.Resolution = res
		}
	}
	if cfg.Resolution == 0 {
		return Config{}, fmt.Errorf("%d discriminator blocks (blocks.0 to blocks.%d) fit no resolution (4 blocks: 32, 5: 64, 6: 128, 7: 256)", n, n-1)
	}
	first, err := shapeOf(state, "blocks.0.0.conv1.weight", 4)
	if err != nil {
		return Config{}, err
	}
	mult := int64(dArch[cfg.Resolution].out[0])
	if first[1] != 3 {
		return Config{}, fmt.Errorf("blocks.0.0.conv1.weight has shape %v: %d input channels, not the image's 3", first, first[1])
	}
	if first[0]%mult != 0 || first[0] == 0 {
		return Config{}, fmt.Errorf("blocks.0.0.conv1.weight has shape %v: %d output channels are not a multiple of %d, as a %d×%d discriminator's first block needs", first, first[0], mult, cfg.Resolution, cfg.Resolution)
	}
	cfg.DCh = int(first[0] / mult)
	res := cfg.dResolutions()
	for i := range n {
		if _, ok := state[fmt.Sprintf("blocks.%d.1.gamma", i)]; ok {
			cfg.DAttn = append(cfg.DAttn, res[i])
		}
	}
	return cfg.withDefaults(), nil
}

// countBlocks counts the residual blocks blocks.0 … blocks.N-1, which must
// be numbered without gaps.
func countBlocks(state map[string]checkpoint.Tensor) (int, error) {
	n := 0
	for _, ok := state["blocks.0.0.conv1.weight"]; ok; _, ok = state[fmt.Sprintf("blocks.%d.0.conv1.weight", n)] {
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("missing tensor %q: no residual blocks", "blocks.0.0.conv1.weight")
	}
	return n, nil
}

// matrix returns the shape of the 2-D tensor key.
func matrix(state map[string]checkpoint.Tensor, key, what string) ([]int64, error) {
	t, ok := state[key]
	if !ok {
		return nil, fmt.Errorf("missing tensor %q (%s)", key, what)
	}
	if len(t.Shape) != 2 || t.Shape[0] <= 0 || t.Shape[1] <= 0 {
		return nil, fmt.Errorf("tensor %q has shape %v, want a non-empty matrix (%s)", key, t.Shape, what)
	}
	return t.Shape, nil
}

// shapeOf returns the shape of key, which must have dims dimensions.
func shapeOf(state map[string]checkpoint.Tensor, key string, dims int) ([]int64, error) {
	t, ok := state[key]
	if !ok {
		return nil, fmt.Errorf("missing tensor %q", key)
	}
	if len(t.Shape) != dims {
		return nil, fmt.Errorf("tensor %q has shape %v, want %d dimensions", key, t.Shape, dims)
	}
	return t.Shape, nil
}

// checkShapes compares state with the tensors of p in p's order, then
// lists keys p does not have.
func checkShapes(p *nn.Params, state map[string]checkpoint.Tensor, cfg Config) error {
	for _, v := range p.Vars() {
		t, ok := state[v.Name]
		want := v.T.Shape()
		if !ok {
			return fmt.Errorf("missing tensor %q (shape %v) of the architecture inferred (%s)", v.Name, want, describeConfig(cfg))
		}
		if !slices.Equal(t.Shape, want) {
			return fmt.Errorf("tensor %q has shape %v, the architecture inferred (%s) needs %v", v.Name, t.Shape, describeConfig(cfg), want)
		}
	}
	var extra []string
	for k := range state {
		if p.Get(k) == nil {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("unexpected tensor %q (shape %v) that the architecture inferred (%s) does not have", extra[0], state[extra[0]].Shape, describeConfig(cfg))
	}
	return nil
}

func describeConfig(c Config) string {
	attn := func(rs []int) string {
		if len(rs) == 0 {
			return "no attention"
		}
		return fmt.Sprintf("attention at %v", rs)
	}
	if c.GCh == 0 {
		return fmt.Sprintf("%d×%d D, width %d, %d classes, %s", c.Resolution, c.Resolution, c.DCh, c.NClasses, attn(c.DAttn))
	}
	return fmt.Sprintf("%d×%d G, width %d, dim_z %d, shared %d, %d classes, %s", c.Resolution, c.Resolution, c.GCh, c.DimZ, c.SharedDim, c.NClasses, attn(c.GAttn))
}

// buildable fills the fields of the other network in a one-network config
// (an inferred one) with placeholders, so that it validates.
func buildable(cfg Config) Config {
	if cfg.GCh == 0 && cfg.DimZ == 0 && cfg.SharedDim == 0 {
		cfg.GCh, cfg.SharedDim, cfg.GAttn = 1, 1, nil
		cfg.DimZ = cfg.ZChunks()
	}
	if cfg.DCh == 0 {
		cfg.DCh, cfg.DAttn = 1, nil
	}
	return cfg
}

// newGeneratorOnly builds G from a config whose D fields may be zero; the
// returned G's Cfg keeps them zero.
func newGeneratorOnly(cfg Config) (*Generator, error) {
	g, err := NewGenerator(buildable(cfg), 0)
	if err != nil {
		return nil, err
	}
	g.Cfg = cfg.withDefaults()
	return g, nil
}

// newDiscriminatorOnly builds D from a config whose G fields may be zero.
func newDiscriminatorOnly(cfg Config) (*Discriminator, error) {
	d, err := NewDiscriminator(buildable(cfg), 0)
	if err != nil {
		return nil, err
	}
	d.Cfg = cfg.withDefaults()
	return d, nil
}

// Combine joins a generator's config with a discriminator's: the G fields
// of g, the D fields of d. Resolution and class count must agree.
func Combine(g, d Config) (Config, error) {
	if g.Resolution != d.Resolution {
		return Config{}, fmt.Errorf("biggan: G is %d×%d but D is %d×%d", g.Resolution, g.Resolution, d.Resolution, d.Resolution)
	}
	if g.NClasses != d.NClasses {
		return Config{}, fmt.Errorf("biggan: G has %d classes but D has %d", g.NClasses, d.NClasses)
	}
	out := g
	out.DCh, out.DAttn = d.DCh, slices.Clone(d.DAttn)
	if out.ClassNames == nil {
		out.ClassNames = d.ClassNames
	}
	return out, out.withDefaults().Validate()
}

// sameG reports why two generator configs differ, or "" when they are the
// same architecture.
func sameG(a, b Config) string {
	switch {
	case a.Resolution != b.Resolution:
		return fmt.Sprintf("resolution %d vs %d", a.Resolution, b.Resolution)
	case a.GCh != b.GCh:
		return fmt.Sprintf("width %d vs %d", a.GCh, b.GCh)
	case a.DimZ != b.DimZ:
		return fmt.Sprintf("dim_z %d vs %d", a.DimZ, b.DimZ)
	case a.SharedDim != b.SharedDim:
		return fmt.Sprintf("shared dim %d vs %d", a.SharedDim, b.SharedDim)
	case a.NClasses != b.NClasses:
		return fmt.Sprintf("%d vs %d classes", a.NClasses, b.NClasses)
	case !slices.Equal(a.GAttn, b.GAttn):
		return fmt.Sprintf("attention at %v vs %v", a.GAttn, b.GAttn)
	}
	return ""
}

// readWeights reads a .safetensors or PyTorch file (any other extension is
// read as PyTorch), returning its tensors and, for a safetensors file
// written by ganshift, the config stored in it.
func readWeights(path string) (map[string]checkpoint.Tensor, *Config, error) {
	if !strings.EqualFold(filepath.Ext(path), ".safetensors") {
		state, err := checkpoint.LoadPth(path)
		return state, nil, err
	}
	state, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, err
	}
	js, ok := meta["ganshift_config"]
	if !ok {
		return state, nil, nil
	}
	var cfg Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return nil, nil, fmt.Errorf("biggan: %s: metadata ganshift_config: %w", path, err)
	}
	return state, &cfg, nil
}

// LoadG reads a generator from a BigGAN-PyTorch .pth file or a
// .safetensors file. The architecture is the one stored by ganshift in a
// safetensors file's metadata, else inferred from the tensors
// (InferConfig). Every tensor must fit: errors name the file and the key.
func LoadG(path string) (*Generator, error) {
	state, cfg, err := readWeights(path)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		c, err := inferG(state)
		if err != nil {
			return nil, fmt.Errorf("biggan: %s: %w", path, err)
		}
		cfg = &c
	}
	g, err := newGeneratorOnly(*cfg)
	if err != nil {
		return nil, fmt.Errorf("biggan: %s: %s", path, strings.TrimPrefix(err.Error(), "biggan: "))
	}
	if err := g.Params.Load(state, path); err != nil {
		g.Free()
		return nil, fmt.Errorf("biggan: %w (%s)", err, describeConfig(g.Cfg))
	}
	return g, nil
}

// LoadD reads a discriminator like LoadG. The G fields of an inferred
// config are zero (see InferConfig).
func LoadD(path string) (*Discriminator, error) {
	state, cfg, err := readWeights(path)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		c, err := inferD(state)
		if err != nil {
			return nil, fmt.Errorf("biggan: %s: %w", path, err)
		}
		cfg = &c
	}
	d, err := newDiscriminatorOnly(*cfg)
	if err != nil {
		return nil, fmt.Errorf("biggan: %s: %s", path, strings.TrimPrefix(err.Error(), "biggan: "))
	}
	if err := d.Params.Load(state, path); err != nil {
		d.Free()
		return nil, fmt.Errorf("biggan: %w (%s)", err, describeConfig(Config{Resolution: d.Cfg.Resolution, DCh: d.Cfg.DCh, NClasses: d.Cfg.NClasses, DAttn: d.Cfg.DAttn}))
	}
	return d, nil
}

// Files names the weight files of a model kept outside a model directory,
// each a .pth or .safetensors file; empty names are absent.
type Files struct {
	G, GEma, D string
}

// LoadFiles reads a model from separate weight files. A generator (G or
// G_ema) is required; D may be absent (then the model's D is nil). The
// networks must agree on resolution and classes, and G and G_ema on the
// whole architecture.
func LoadFiles(f Files) (*Model, error) {
	if f.G == "" && f.GEma == "" {
		return nil, fmt.Errorf("biggan: no generator file given")
	}
	m := &Model{Provenance: map[string]any{}}
	fail := func(err error) (*Model, error) {
		m.Free()
		return nil, err
	}
	var err error
	if f.G != "" {
		if m.G, err = LoadG(f.G); err != nil {
			return fail(err)
		}
		m.Provenance["G"] = f.G
	}
	if f.GEma != "" {
		if m.GEma, err = LoadG(f.GEma); err != nil {
			return fail(err)
		}
		m.Provenance["G_ema"] = f.GEma
		if m.G != nil {
			if why := sameG(m.G.Cfg, m.GEma.Cfg); why != "" {
				return fail(fmt.Errorf("biggan: %s and %s are different generators (%s)", f.G, f.GEma, why))
			}
		}
	}
	gen := m.Sampler()
	if m.G == nil { // only G_ema given: it is also G
		m.G = m.GEma
		m.GEma = nil
		gen = m.G
	}
	m.Cfg = gen.Cfg
	if f.D != "" {
		if m.D, err = LoadD(f.D); err != nil {
			return fail(err)
		}
		m.Provenance["D"] = f.D
		if m.Cfg, err = Combine(gen.Cfg, m.D.Cfg); err != nil {
			return fail(fmt.Errorf("%w (G from %s, D from %s)", err, cmp.Or(f.G, f.GEma), f.D))
		}
		m.D.Cfg = m.Cfg
	}
	m.G.Cfg.DCh, m.G.Cfg.DAttn = m.Cfg.DCh, m.Cfg.DAttn
	if m.GEma != nil {
		m.GEma.Cfg.DCh, m.GEma.Cfg.DAttn = m.Cfg.DCh, m.Cfg.DAttn
	}
	return m, nil
}
